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
// if all hold something, the one whose last line is the oldest is flushed and goes.
//
// Its methods are safe for concurrent use; they are serialised, and emit is called with the
// lock held, in each stream's order. emit must not call the Groups' methods.
type Groups[K comparable, P any] struct {
	mu      sync.Mutex
	cfg     Config
	rule    func(K) Rule
	budget  *Budget
	emit    func(K, message.Message, P, bool)
	streams map[K]*core[P]
	seq     uint64 // lines added, to tell which stream had a line last
	// last is the stream of the last line, and lastKey its key: lines of one stream often
	// come in a row, and this spares them the map.
	last    *core[P]
	lastKey K
}

// NewGroups returns a Groups that emits by calling emit with the key, and each event, its
// last line's position and whether it is partial, as Stream's emit. rule chooses a key's rule when its stream is made; nil means
// Auto for all. Lines held count against budget; nil means a Budget of its own with the
// default limit.
func NewGroups[K comparable, P any](cfg Config, rule func(K) Rule, budget *Budget,
	emit func(key K, m message.Message, last P, partial bool)) *Groups[K, P] {
	if budget == nil {
		budget = NewBudget(0)
	}
	return &Groups[K, P]{
		cfg: cfg.withDefaults(), rule: rule, budget: budget, emit: emit,
		streams: make(map[K]*core[P]),
	}
}

// Add takes the next line of the stream key, as Stream.Add does.
func (g *Groups[K, P]) Add(key K, m message.Message, pos P) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.last
	if c == nil || key != g.lastKey {
		if c = g.streams[key]; c == nil {
			c = g.make(key)
		}
		g.last, g.lastKey = c, key
	}
	g.seq++
	c.seq = g.seq
	c.add(&m, pos)
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
	c.init(g.cfg, r, g.budget, func(m *message.Message, last P, partial bool) {
		g.emit(key, *m, last, partial)
	})
	g.streams[key] = c
	return c
}

func (g *Groups[K, P]) makeRoom() {
	var oldest K
	var oldestC *core[P]
	for k, c := range g.streams {
		if !c.open() {
			g.forget(k)
			continue
		}
		if oldestC == nil || c.seq < oldestC.seq {
			oldest, oldestC = k, c
		}
	}
	if len(g.streams) < g.cfg.MaxStreams || oldestC == nil {
		return
	}
	oldestC.finish()
	g.forget(oldest)
	g.budget.evicted.Add(1)
}

// Tick is the wall clock of every stream, as Stream.Tick is; it also forgets the streams
// that have held nothing for a minute of Ticks.
func (g *Groups[K, P]) Tick(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, c := range g.streams {
		c.tick(now)
		if !c.open() && !c.moved && now.Sub(c.quiet) >= forgetAfter {
			g.forget(k)
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

func (g *Groups[K, P]) forget(k K) {
	if c := g.streams[k]; c == g.last {
		g.last = nil
	}
	delete(g.streams, k)
}

// Len returns how many streams the Groups keeps.
func (g *Groups[K, P]) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.streams)
}

// Stats returns the counters of the Groups' Budget.
func (g *Groups[K, P]) Stats() Stats { return g.budget.Stats() }
