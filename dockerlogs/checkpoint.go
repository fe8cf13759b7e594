package dockerlogs

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
)

// position is how far one stream of a container has been taken: the time of the last line,
// and how many lines at exactly that time.
type position struct {
	Time  time.Time `json:"time"`
	Count int       `json:"count"`
	seq   uint64    // the line's number in its stream, to find it among the held lines of the file reader
}

// checkpoint is what the state file of a container holds: a position per stream.
type checkpoint struct {
	Streams map[string]*position `json:"streams"`
	// Read is the start time, as the engine gives it, of a run of the container that was
	// read to its end after it stopped: found stopped with this start time, it has no line
	// that was not taken.
	Read string `json:"read,omitempty"`
	// File, when the container's json-file is read, is where that read resumes: every line
	// before it is emitted, and those after it that were are skipped by Streams.
	File  *place `json:"file,omitempty"`
	dirty bool
}

func (c *checkpoint) stream(name string) *position {
	if c == nil {
		return nil
	}
	return c.Streams[name]
}

// earliest is the time to ask the engine for lines from: the earliest stream position.
func (c *checkpoint) earliest() time.Time {
	var t time.Time
	for _, p := range c.Streams {
		if t.IsZero() || p.Time.Before(t) {
			t = p.Time
		}
	}
	return t
}

func (s *Source) checkpointPath(id string) string {
	return filepath.Join(s.cfg.StateDir, id+".json")
}

// loadCheckpoint returns the container's checkpoint, from memory or its file; nil if none.
func (s *Source) loadCheckpoint(id string) *checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.positions[id]; ok {
		return c.clone()
	}
	if s.cfg.StateDir == "" {
		return nil
	}
	data, err := os.ReadFile(s.checkpointPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var c checkpoint
	if err == nil {
		err = json.Unmarshal(data, &c)
	}
	if err != nil || len(c.Streams) == 0 {
		s.checkpointErrors.Add(1)
		s.log.Warn("dockerlogs: unreadable checkpoint; following from now", "id", short(id), "err", err)
		return nil
	}
	s.positions[id] = &c
	return c.clone()
}

func (c *checkpoint) clone() *checkpoint {
	if c == nil {
		return nil
	}
	out := &checkpoint{Streams: map[string]*position{}, Read: c.Read}
	if c.File != nil {
		p := *c.File
		out.File = &p
	}
	for k, p := range c.Streams {
		cp := *p
		out.Streams[k] = &cp
	}
	return out
}

// advance records that a stream of a container has been taken up to count lines at time at.
// A line older than the position does not move it back.
func (s *Source) advance(id, stream string, at time.Time, count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.positions[id]
	if c == nil {
		c = &checkpoint{Streams: map[string]*position{}}
		s.positions[id] = c
	}
	p := c.Streams[stream]
	switch {
	case p == nil:
		c.Streams[stream] = &position{Time: at, Count: count}
	case !p.advance(position{Time: at, Count: count}):
		return
	}
	c.Read, c.dirty = "", true
}

// advanceFile records where a read of the container's json-file resumes. It records nothing
// for a container with no line taken yet: a checkpoint holds lines' positions first.
func (s *Source) advanceFile(id string, p place) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.positions[id]
	if c == nil || (c.File != nil && *c.File == p) {
		return
	}
	if c.File == nil {
		c.File = new(place)
	}
	*c.File = p
	c.dirty = true
}

// advance moves p to q if q is further; it reports whether it did.
func (p *position) advance(q position) bool {
	if q.Time.After(p.Time) || (q.Time.Equal(p.Time) && q.Count > p.Count) {
		*p = q
		return true
	}
	return false
}

// readToEnd records that the run of a stopped container that started at startedAt was read to
// its end; without a checkpoint (no line taken) there is nothing to record.
func (s *Source) readToEnd(id, startedAt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.positions[id]; c != nil && c.Read != startedAt {
		c.Read, c.dirty = startedAt, true
	}
}

// checkpoint writes the positions that moved, after Config.Flush says the lines they cover are
// safe. With final it waits for Flush as long as it takes.
func (s *Source) checkpoint(ctx context.Context, final bool) {
	if s.cfg.StateDir == "" {
		return
	}
	s.mu.Lock()
	todo := map[string]*checkpoint{}
	for id, c := range s.positions {
		if c.dirty {
			todo[id] = c.clone()
			c.dirty = false
		}
	}
	s.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	if s.cfg.Flush != nil {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if final {
			fctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		}
		err := s.cfg.Flush(fctx)
		cancel()
		if err != nil {
			// Not safe yet: keep the positions dirty, to be written next time.
			s.mu.Lock()
			for id := range todo {
				if c := s.positions[id]; c != nil {
					c.dirty = true
				}
			}
			s.mu.Unlock()
			return
		}
	}
	for id, c := range todo {
		if err := writeFile(s.checkpointPath(id), c); err != nil {
			s.checkpointErrors.Add(1)
			s.log.Warn("dockerlogs: writing checkpoint", "id", short(id), "err", err)
		}
	}
}

func writeFile(path string, c *checkpoint) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// forget drops a destroyed container's checkpoint.
func (s *Source) forget(id string) {
	s.mu.Lock()
	delete(s.positions, id)
	s.mu.Unlock()
	if s.cfg.StateDir != "" {
		os.Remove(s.checkpointPath(id))
	}
}

// expireCheckpoints removes the checkpoints of containers that no longer exist.
func (s *Source) expireCheckpoints(list []container.Summary) {
	if s.cfg.StateDir == "" {
		return
	}
	exists := map[string]bool{}
	for _, c := range list {
		exists[c.ID] = true
	}
	entries, _ := os.ReadDir(s.cfg.StateDir)
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && len(id) == 64 && !exists[id] {
			os.Remove(filepath.Join(s.cfg.StateDir, e.Name()))
		}
	}
}
