package multiline

import (
	"sync"
	"time"

	"github.com/qnib/qwatch/message"
)

// forgetAfter is how long a stream of a Groups that holds nothing is kept after its last
// line; a stream that comes back after that is made anew, and its rule looked up again.
const forgetAfter = time.Minute

// Groups is a set of streams by key, for a source that reads many ordered streams through
// one reader, as a GELF listener does: the key tells them apart (a container and its stdout
// or stderr), so that lines of different streams are never grouped together. A stream is
// made at its key's first line, with the rule that the rule function returns for the key,
// and forgotten when it has held nothing for a minute (Tick) or, holding at most
// Config.MaxStreams, when room is needed: then the streams that hold nothing go first, and
// if all hold something, the one quiet the longest is flushed and goes.
//
// Its methods are safe for concurrent use; they are serialised, and emit is called with the
// lock held, in each stream's order. emit must not call the Groups' methods.
type Groups[K comparable, P any] struct {
	mu      sync.Mutex
	cfg     Config
	rule    func(K) Rule
	budget  *Budget
	emit    func(K, message.Message, P, bool)
	now     func() time.Time
	streams map[K]*core[P]
}

// NewGroups returns a Groups that emits by calling emit with the key, each event and the
// position of its last line. rule chooses a key's rule when its stream is made; nil means
// Auto for all. Lines held count against budget; nil means a Budget of its own with the
// default limit.
func NewGroups[K comparable, P any](cfg Config, rule func(K) Rule, budget *Budget,
	emit func(key K, m message.Message, last P, partial bool)) *Groups[K, P] {
	if budget == nil {
		budget = NewBudget(0)
	}
	return &Groups[K, P]{
		cfg: cfg.withDefaults(), rule: rule, budget: budget, emit: emit, now: time.Now,
		streams: make(map[K]*core[P]),
	}
}

// Add takes the next line of the stream key, as Stream.Add does.
func (g *Groups[K, P]) Add(key K, m message.Message, pos P) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.streams[key]
	if c == nil {
		c = g.make(key)
	}
	c.add(m, pos)
}

// make makes the stream of key, making room first if there are MaxStreams.
func (g *Groups[K, P]) make(key K) *core[P] {
	if len(g.streams) >= g.cfg.MaxStreams {
		g.makeRoom()
	}
	r := Auto
	if g.rule != nil {
		r = g.rule(key)
	}
	c := &core[P]{}
	c.init(g.cfg, r, g.budget, func(m message.Message, last P, partial bool) {
		g.emit(key, m, last, partial)
	})
	c.now = g.now
	g.streams[key] = c
	return c
}

func (g *Groups[K, P]) makeRoom() {
	var oldest K
	var oldestC *core[P]
	for k, c := range g.streams {
		if !c.open() {
			delete(g.streams, k)
			continue
		}
		if oldestC == nil || c.last.Before(oldestC.last) {
			oldest, oldestC = k, c
		}
	}
	if len(g.streams) < g.cfg.MaxStreams || oldestC == nil {
		return
	}
	oldestC.finish()
	delete(g.streams, oldest)
	g.budget.evicted.Add(1)
}

// Tick emits what each stream holds if it had no line for Config.Idle before now, as
// Stream.Tick does, and forgets the streams that have held nothing for a minute.
func (g *Groups[K, P]) Tick(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, c := range g.streams {
		c.tick(now)
		if !c.open() && now.Sub(c.last) >= forgetAfter {
			delete(g.streams, k)
		}
	}
}

// Flush emits everything every stream holds, as Stream.Flush does.
func (g *Groups[K, P]) Flush() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.streams {
		c.finish()
	}
}

// Deadline returns the earliest time a stream's Tick is due, and whether any stream holds
// anything.
func (g *Groups[K, P]) Deadline() (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var first time.Time
	found := false
	for _, c := range g.streams {
		if d, ok := c.deadline(); ok && (!found || d.Before(first)) {
			first, found = d, true
		}
	}
	return first, found
}

// Len returns how many streams the Groups keeps.
func (g *Groups[K, P]) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.streams)
}

// Stats returns the counters of the Groups' Budget.
func (g *Groups[K, P]) Stats() Stats { return g.budget.Stats() }
