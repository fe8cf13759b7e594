package inventory

import (
	"encoding/json"
	"maps"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/qnib/qwatch/message"
)

// Container is what the inventory knows of one container. A Container returned by the
// Inventory is a copy: the caller may keep it; its maps are shared and must not be changed.
type Container struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Image   string            `json:"image"`              // the image name the container was created from
	ImageID string            `json:"image_id,omitempty"` // sha256:…
	Command string            `json:"command,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	// Service is the Compose or Swarm service the container belongs to, from its labels.
	Service message.Service `json:"service"`
	// State is the engine's: created, running, paused, restarting, removing, exited, dead;
	// "destroyed" once the engine removed it.
	State        string    `json:"state"`
	Health       string    `json:"health,omitempty"` // starting, healthy, unhealthy; empty without a health check
	Created      time.Time `json:"created"`
	Started      time.Time `json:"started,omitempty"`
	Finished     time.Time `json:"finished,omitempty"`
	ExitCode     int       `json:"exit_code"`
	RestartCount int       `json:"restart_count"`
	// Changed is when the inventory last changed this container's entry.
	Changed time.Time `json:"changed"`
	// Logs is what the log paths saw of the container.
	Logs Logs `json:"logs"`
}

// Logs counts the log lines of one container, as the Hub saw them pass.
type Logs struct {
	Lines    map[string]uint64 `json:"lines,omitempty"`     // by stream: stdout, stderr (or "" when unknown)
	Bytes    map[string]uint64 `json:"bytes,omitempty"`     // by stream
	ByLevel  map[string]uint64 `json:"levels,omitempty"`    // by level name (message.Level.String())
	Last     time.Time         `json:"last,omitempty"`      // the newest line's time
	LastText string            `json:"last_text,omitempty"` // the newest line's text, cut to a few hundred bytes
}

// Snapshot is the inventory at one moment.
type Snapshot struct {
	Time       time.Time   `json:"time"`
	Version    uint64      `json:"version"`    // grows by one with every change
	Containers []Container `json:"containers"` // running first, then by name
}

// Inventory holds the containers of one host. It is safe for concurrent use. Its zero value
// is not usable: create it with New.
type Inventory struct {
	mu      sync.RWMutex
	byID    map[string]*Container
	version uint64
	changed chan struct{} // closed and replaced on every change
}

// New returns an empty Inventory.
func New() *Inventory {
	return &Inventory{byID: map[string]*Container{}, changed: make(chan struct{})}
}

// Put stores c (by c.ID), replacing what was known of it, except its Logs, which the
// Inventory keeps counting itself.
func (inv *Inventory) Put(c Container) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if old, ok := inv.byID[c.ID]; ok {
		c.Logs = old.Logs
	}
	c.Changed = time.Now()
	inv.byID[c.ID] = &c
	inv.changedLocked()
}

// Remove forgets the container with the given ID.
func (inv *Inventory) Remove(id string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if _, ok := inv.byID[id]; !ok {
		return
	}
	delete(inv.byID, id)
	inv.changedLocked()
}

func (inv *Inventory) changedLocked() {
	inv.version++
	close(inv.changed)
	inv.changed = make(chan struct{})
}

// Get returns the container with the given ID, and whether the Inventory knows it.
func (inv *Inventory) Get(id string) (Container, bool) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	c, ok := inv.byID[id]
	if !ok {
		return Container{}, false
	}
	return c.clone(), true
}

// Snapshot returns every container known now: running first, then by name.
func (inv *Inventory) Snapshot() Snapshot {
	inv.mu.RLock()
	s := Snapshot{Time: time.Now(), Version: inv.version, Containers: make([]Container, 0, len(inv.byID))}
	for _, c := range inv.byID {
		s.Containers = append(s.Containers, c.clone())
	}
	inv.mu.RUnlock()
	sort.Slice(s.Containers, func(i, j int) bool {
		a, b := s.Containers[i], s.Containers[j]
		if (a.State == "running") != (b.State == "running") {
			return a.State == "running"
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
	return s
}

// Changed returns a channel that is closed at the next change, with the version it waits
// past: a reader takes a Snapshot, then waits on Changed.
func (inv *Inventory) Changed() <-chan struct{} {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.changed
}

// Count adds a log message to its container's Logs. It never drops a message, so it can be
// used as a qwatch.Processor (hub.Use(inv.Count)). Counting alone is not a change that
// wakes Changed's readers.
func (inv *Inventory) Count(m *message.Message) bool {
	if m.Kind != message.KindLog || m.Container.ID == "" {
		return true
	}
	stream, _ := m.Fields["stream"].(string)
	inv.mu.Lock()
	defer inv.mu.Unlock()
	c, ok := inv.byID[m.Container.ID]
	if !ok {
		return true
	}
	l := &c.Logs
	if l.Lines == nil {
		l.Lines, l.Bytes, l.ByLevel = map[string]uint64{}, map[string]uint64{}, map[string]uint64{}
	}
	l.Lines[stream]++
	l.Bytes[stream] += uint64(len(m.Text) + len(m.FullText))
	l.ByLevel[m.Level.String()]++
	if !m.Time.Before(l.Last) {
		l.Last = m.Time
		l.LastText = m.Text[:min(len(m.Text), maxLastText)]
	}
	return true
}

const maxLastText = 300

func (c *Container) clone() Container {
	out := *c
	out.Logs.Lines = maps.Clone(c.Logs.Lines)
	out.Logs.Bytes = maps.Clone(c.Logs.Bytes)
	out.Logs.ByLevel = maps.Clone(c.Logs.ByLevel)
	return out
}

// ServeHTTP answers with the Snapshot as JSON.
func (inv *Inventory) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(inv.Snapshot())
}
