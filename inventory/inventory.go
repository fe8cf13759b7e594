package inventory

import (
	"encoding/json"
	"maps"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/qnib/qwatch/filter"
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
	// Put fills it in from Labels, as the filter stage names a message's service, when it is
	// empty.
	Service message.Service `json:"service"`
	// State is the engine's: created, running, paused, restarting, removing, exited, dead;
	// StateDestroyed once the engine removed it.
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

// The states the Inventory itself gives a container; the others are the engine's.
const (
	StateRunning = "running"
	// StateDestroyed is a container the engine removed. It stays in the Inventory for
	// Config.Retention, so that readers see how it ended, then leaves.
	StateDestroyed = "destroyed"
)

// Logs counts the log lines of one container, as the Hub saw them pass.
type Logs struct {
	Lines    map[string]uint64 `json:"lines,omitempty"`     // by stream: stdout, stderr, or "" for any other or none
	Bytes    map[string]uint64 `json:"bytes,omitempty"`     // by stream, of Text and FullText
	ByLevel  map[string]uint64 `json:"levels,omitempty"`    // by level name (message.Level.String())
	Last     time.Time         `json:"last,omitempty"`      // the newest line's time
	LastText string            `json:"last_text,omitempty"` // the newest line's text, cut to MaxLastText bytes
}

// MaxLastText is how much of the newest line's text Logs.LastText keeps, in bytes, cut at a
// character boundary.
const MaxLastText = 300

// Snapshot is the inventory at one moment.
type Snapshot struct {
	Time       time.Time   `json:"time"`
	Version    uint64      `json:"version"`    // grows with every change of a container (not with log counts)
	Containers []Container `json:"containers"` // running first, then by name
}

// Defaults of Config.
const (
	DefaultRetention     = 10 * time.Minute
	DefaultMaxContainers = 10000
)

// Config sets up an Inventory. The zero value keeps destroyed containers for
// DefaultRetention and at most DefaultMaxContainers containers.
type Config struct {
	// Retention is how long a destroyed container stays, with State StateDestroyed, before
	// it leaves (DefaultRetention).
	Retention time.Duration
	// MaxContainers bounds the entries (DefaultMaxContainers). A new container beyond it
	// takes the place of the one that changed longest ago, destroyed ones first; each such
	// eviction is counted in Stats.Evicted.
	MaxContainers int
	// Now is the clock (nil: time.Now); tests set it to age entries without waiting.
	Now func() time.Time
}

// Stats describes an Inventory now.
type Stats struct {
	Containers int            // entries now, destroyed ones within their retention included
	States     map[string]int // entries by State
	Expired    uint64         // destroyed containers that left after their retention
	Evicted    uint64         // containers that gave way to new ones at MaxContainers
}

// Inventory holds the containers of one host. It is safe for concurrent use. Its zero value
// is not usable: create it with New or NewWithConfig.
//
// Changes of what a container is or how it is (Put, Update, Replace, Remove, and destroyed
// containers leaving) close the channel Changed returns and raise Snapshot.Version. Log
// counts (Count) are no such change: they grow with every line, and waking readers that
// often would cost more than the counting. A reader that shows counts takes a Snapshot on
// its own tick.
type Inventory struct {
	cfg Config

	mu      sync.RWMutex
	byID    map[string]*entry
	byShort map[string]string // the 12-character short ID to the full one
	// counted maps full and short IDs to the entries, for Count, which so takes no lock
	// the writers take: a sync.Map reads its stable keys without one.
	counted sync.Map
	version uint64
	changed chan struct{} // closed and replaced on every change

	expired, evicted atomic.Uint64
}

// entry is one container: what it is, guarded by Inventory.mu, and its log counters, which
// Count updates under the read lock only.
type entry struct {
	c       Container // Logs is left empty here; counts holds them
	expires time.Time // when a destroyed container leaves; zero for the others
	counts  counts
}

// counts are a container's log counters. The counters are atomics, so that lines of one
// container counted from many goroutines never wait for one another; only the newest line
// takes a lock of the container's own.
type counts struct {
	lines, bytes [len(streams)]atomic.Uint64
	levels       [message.LevelDebug + 1]atomic.Uint64

	mu       sync.Mutex
	last     time.Time
	lastText string
}

// streams are the streams counted by name; any other counts under "".
var streams = [...]string{"", "stdout", "stderr"}

func streamIndex(s string) int {
	switch s {
	case "stdout":
		return 1
	case "stderr":
		return 2
	}
	return 0
}

// New returns an empty Inventory with the defaults of Config.
func New() *Inventory { return NewWithConfig(Config{}) }

// NewWithConfig returns an empty Inventory set up by cfg.
func NewWithConfig(cfg Config) *Inventory {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.MaxContainers <= 0 {
		cfg.MaxContainers = DefaultMaxContainers
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Inventory{cfg: cfg, byID: map[string]*entry{}, byShort: map[string]string{}, changed: make(chan struct{})}
}

// shortID is the 12-character form of a container ID that docker ps shows.
func shortID(id string) string { return id[:min(len(id), 12)] }

// Put stores c (by c.ID), replacing what was known of it, except its Logs, which the
// Inventory keeps counting itself, and Changed, which it sets. A Put that changes nothing is
// no change. A container put with State StateDestroyed leaves after Config.Retention. The
// Inventory keeps c.Labels as it is, and hands it to readers: the caller must not change
// the map afterwards.
func (inv *Inventory) Put(c Container) {
	if c.ID == "" {
		return
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	now := inv.cfg.Now()
	inv.expireLocked(now)
	inv.putLocked(c, now)
}

// putLocked stores c and reports whether that changed anything.
func (inv *Inventory) putLocked(c Container, now time.Time) bool {
	c.Logs = Logs{}
	if c.Service == (message.Service{}) && len(c.Labels) > 0 {
		m := message.Message{Container: message.Container{Labels: c.Labels}}
		filter.Service(&m)
		c.Service = m.Service
	}
	e, ok := inv.byID[c.ID]
	if ok && same(&e.c, &c) {
		return false
	}
	if !ok {
		if len(inv.byID) >= inv.cfg.MaxContainers {
			inv.evictLocked()
		}
		e = &entry{}
		inv.byID[c.ID] = e
		inv.byShort[shortID(c.ID)] = c.ID
		inv.counted.Store(c.ID, e)
		inv.counted.Store(shortID(c.ID), e)
	}
	c.Changed = now
	e.c = c
	e.expires = time.Time{}
	if c.State == StateDestroyed {
		e.expires = now.Add(inv.cfg.Retention)
	}
	inv.changedLocked()
	return true
}

// same reports whether a and b say the same of a container, Changed and Logs aside.
func same(a, b *Container) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Image == b.Image && a.ImageID == b.ImageID &&
		a.Command == b.Command && maps.Equal(a.Labels, b.Labels) && a.Service == b.Service &&
		a.State == b.State && a.Health == b.Health && a.Created.Equal(b.Created) &&
		a.Started.Equal(b.Started) && a.Finished.Equal(b.Finished) && a.ExitCode == b.ExitCode &&
		a.RestartCount == b.RestartCount
}

// Update changes the container with the given ID by applying change to a copy of it, and
// reports whether the Inventory knows the container. A change that changes nothing is no
// change. change runs under the Inventory's lock: it must be quick and must not call the
// Inventory.
func (inv *Inventory) Update(id string, change func(c *Container)) bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	now := inv.cfg.Now()
	inv.expireLocked(now)
	e, ok := inv.byID[id]
	if !ok {
		return false
	}
	c := e.c
	change(&c)
	c.ID = id
	inv.putLocked(c, now)
	return true
}

// Replace makes the Inventory hold cs, as a fresh list from the engine says: each is Put,
// and every container known but not in cs, and not destroyed already, becomes destroyed (the
// engine removed it while nobody listened).
func (inv *Inventory) Replace(cs []Container) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	now := inv.cfg.Now()
	inv.expireLocked(now)
	listed := make(map[string]bool, len(cs))
	for _, c := range cs {
		if c.ID != "" {
			listed[c.ID] = true
			inv.putLocked(c, now)
		}
	}
	for id, e := range inv.byID {
		if !listed[id] && e.c.State != StateDestroyed {
			c := e.c
			c.State = StateDestroyed
			inv.putLocked(c, now)
		}
	}
}

// Remove forgets the container with the given ID at once. A container the engine removed is
// better Put with State StateDestroyed, so that readers see how it ended.
func (inv *Inventory) Remove(id string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if _, ok := inv.byID[id]; !ok {
		return
	}
	inv.deleteLocked(id)
	inv.changedLocked()
}

func (inv *Inventory) deleteLocked(id string) {
	delete(inv.byID, id)
	inv.counted.Delete(id)
	if inv.byShort[shortID(id)] == id {
		delete(inv.byShort, shortID(id))
		inv.counted.Delete(shortID(id))
	}
}

// Expire removes the destroyed containers whose retention has passed, and returns how many.
// Readers never see those even before, so it only frees their memory and wakes the
// readers of Changed; the writes (Put, Update, Replace) call it too. The events source calls
// it every second.
func (inv *Inventory) Expire() int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.expireLocked(inv.cfg.Now())
}

func (inv *Inventory) expireLocked(now time.Time) int {
	n := 0
	for id, e := range inv.byID {
		if gone(e, now) {
			inv.deleteLocked(id)
			n++
		}
	}
	if n > 0 {
		inv.expired.Add(uint64(n))
		inv.changedLocked()
	}
	return n
}

func gone(e *entry, now time.Time) bool { return !e.expires.IsZero() && !now.Before(e.expires) }

// evictLocked makes room for one entry: it removes the one that changed longest ago,
// destroyed ones first.
func (inv *Inventory) evictLocked() {
	var victim *entry
	for _, e := range inv.byID {
		if victim == nil || older(e, victim) {
			victim = e
		}
	}
	if victim != nil {
		inv.deleteLocked(victim.c.ID)
		inv.evicted.Add(1)
	}
}

func older(a, b *entry) bool {
	ad, bd := a.c.State == StateDestroyed, b.c.State == StateDestroyed
	if ad != bd {
		return ad
	}
	return a.c.Changed.Before(b.c.Changed)
}

func (inv *Inventory) changedLocked() {
	inv.version++
	close(inv.changed)
	inv.changed = make(chan struct{})
}

// find returns the entry of a full or short (12-character) ID, under at least the read lock.
func (inv *Inventory) find(id string, now time.Time) *entry {
	if len(id) < 64 {
		full, ok := inv.byShort[id]
		if !ok {
			return nil
		}
		id = full
	}
	e := inv.byID[id]
	if e == nil || gone(e, now) {
		return nil
	}
	return e
}

// Get returns the container with the given ID (full, or the 12-character short form), its
// Logs included, and whether the Inventory knows it.
func (inv *Inventory) Get(id string) (Container, bool) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	e := inv.find(id, inv.cfg.Now())
	if e == nil {
		return Container{}, false
	}
	return e.withLogs(), true
}

// Lookup is Get without the Logs: it does not allocate, for a processor that runs on every
// line, such as one that adds a container's name and labels to its lines.
func (inv *Inventory) Lookup(id string) (Container, bool) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	e := inv.find(id, inv.cfg.Now())
	if e == nil {
		return Container{}, false
	}
	return e.c, true
}

// Len returns how many containers the Inventory holds, destroyed ones within their retention
// included.
func (inv *Inventory) Len() int {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return len(inv.byID)
}

// Stats returns the Inventory's counts.
func (inv *Inventory) Stats() Stats {
	st := Stats{States: map[string]int{}, Expired: inv.expired.Load(), Evicted: inv.evicted.Load()}
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	now := inv.cfg.Now()
	for _, e := range inv.byID {
		if !gone(e, now) {
			st.Containers++
			st.States[e.c.State]++
		}
	}
	return st
}

// Snapshot returns every container known now: running first, then by name.
func (inv *Inventory) Snapshot() Snapshot {
	inv.mu.RLock()
	now := inv.cfg.Now()
	s := Snapshot{Time: now, Version: inv.version, Containers: make([]Container, 0, len(inv.byID))}
	for _, e := range inv.byID {
		if !gone(e, now) {
			s.Containers = append(s.Containers, e.withLogs())
		}
	}
	inv.mu.RUnlock()
	sort.Slice(s.Containers, func(i, j int) bool {
		a, b := s.Containers[i], s.Containers[j]
		if (a.State == StateRunning) != (b.State == StateRunning) {
			return a.State == StateRunning
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
	return s
}

// Changed returns a channel that is closed at the next change. To miss no change, take the
// channel before the Snapshot it follows:
//
//	for {
//		changed := inv.Changed()
//		show(inv.Snapshot())
//		select {
//		case <-changed:
//		case <-ctx.Done():
//			return
//		}
//	}
//
// or wait on ChangedSince(snapshot.Version), which does the same with the Snapshot first.
// Log counts do not close it (see Inventory).
func (inv *Inventory) Changed() <-chan struct{} {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.changed
}

// closed is a channel that is closed, for ChangedSince to return when a change happened.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// ChangedSince returns a channel that is closed once the Inventory has changed since the
// Snapshot whose Version is version: at once when it has already.
func (inv *Inventory) ChangedSince(version uint64) <-chan struct{} {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	if inv.version != version {
		return closed
	}
	return inv.changed
}

// Count adds a log message to its container's Logs: the container named by
// m.Container.ID (full or short), if the Inventory knows it; the stream from
// m.Fields["stream"]. It never drops a message, so it can be used as a qwatch.Processor
// (hub.Use(inv.Count)), after whatever fills in Container.ID and Level. It takes no lock
// of the Inventory's, only the container's counters (atomics, and a lock of the container's
// own for the newest line), so that lines counted from many goroutines do not wait for one
// another, nor for the writers. Counting is not a change that closes Changed.
func (inv *Inventory) Count(m *message.Message) bool {
	if m.Kind != message.KindLog || m.Container.ID == "" {
		return true
	}
	v, ok := inv.counted.Load(m.Container.ID)
	if !ok {
		return true
	}
	e := v.(*entry)
	stream, _ := m.Fields["stream"].(string)
	c := &e.counts
	i := streamIndex(stream)
	c.lines[i].Add(1)
	c.bytes[i].Add(uint64(len(m.Text) + len(m.FullText)))
	if m.Level.Valid() {
		c.levels[m.Level].Add(1)
	}
	c.mu.Lock()
	if !m.Time.Before(c.last) {
		c.last = m.Time
		c.lastText = cut(m.Text)
	}
	c.mu.Unlock()
	return true
}

// cut returns the first MaxLastText bytes of s, cut at a character boundary; a copy when it
// is cut, so that a long line's memory is not kept for its start.
func cut(s string) string {
	if len(s) <= MaxLastText {
		return s
	}
	n := MaxLastText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.Clone(s[:n])
}

// withLogs returns the entry's Container with its Logs read from the counters.
func (e *entry) withLogs() Container {
	out := e.c
	c := &e.counts
	for i, name := range streams {
		if n := c.lines[i].Load(); n > 0 {
			if out.Logs.Lines == nil {
				out.Logs.Lines, out.Logs.Bytes = map[string]uint64{}, map[string]uint64{}
			}
			out.Logs.Lines[name] = n
			out.Logs.Bytes[name] = c.bytes[i].Load()
		}
	}
	for l := range c.levels {
		if n := c.levels[l].Load(); n > 0 {
			if out.Logs.ByLevel == nil {
				out.Logs.ByLevel = map[string]uint64{}
			}
			out.Logs.ByLevel[message.Level(l).String()] = n
		}
	}
	c.mu.Lock()
	out.Logs.Last, out.Logs.LastText = c.last, c.lastText
	c.mu.Unlock()
	return out
}

// ServeHTTP answers with the Snapshot as JSON.
func (inv *Inventory) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(inv.Snapshot())
}
