package dockerevents

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/qnib/qwatch/message"
)

// state is what Config.StateFile holds: where to resume.
type state struct {
	TimeNano int64    `json:"time_nano"` // the newest event emitted
	Recent   []string `json:"recent"`    // identities of the events emitted in the seamSlack before it
}

// start returns where Run begins, and whether that is a resumption whose replay must be
// checked for duplicates and gaps: from the state file when there is one, else from
// Config.Since or now.
func (s *Source) start(emit func(message.Message)) (*seam, bool) {
	since := s.cfg.Since
	if since.IsZero() {
		since = time.Now()
	}
	if s.cfg.StateFile == "" {
		return newSeam(since.UnixNano()), false
	}
	st, err := loadState(s.cfg.StateFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return newSeam(since.UnixNano()), false
	case err != nil:
		s.stateErrors.Add(1)
		s.reportGap(emit, 0, since.UnixNano(), "", fmt.Sprintf("the saved position could not be read (%v); starting from now", err))
		return newSeam(since.UnixNano()), false
	}
	last := newSeam(st.TimeNano)
	for _, key := range st.Recent {
		last.recent[key] = st.TimeNano
		last.order = append(last.order, key)
	}
	s.saved = st.TimeNano
	return last, true
}

func loadState(path string) (state, error) {
	var st state
	data, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("reading %s: %w", path, err)
	}
	if st.TimeNano <= 0 {
		return st, fmt.Errorf("reading %s: no time_nano", path)
	}
	return st, nil
}

// saveState writes the position to Config.StateFile when it moved: a temporary file, synced,
// renamed over the old one, so a crash leaves the old position or the new, never half.
func (s *Source) saveState(last *seam) {
	if s.cfg.StateFile == "" || last.nanos == s.saved {
		return
	}
	st := state{TimeNano: last.nanos}
	for _, key := range last.order {
		if last.recent[key] >= last.since() {
			st.Recent = append(st.Recent, key)
		}
	}
	if err := writeState(s.cfg.StateFile, st); err != nil {
		s.stateErrors.Add(1)
		s.stateLog.Do(func() { s.log.Error("dockerevents: saving the position", "err", err) })
		return
	}
	s.saved = last.nanos
}

func writeState(path string, st state) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
