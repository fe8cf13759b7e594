package multiline

import (
	"strings"
	"sync"
	"time"

	"github.com/qnib/qwatch/message"
)

// Stream groups the lines of one ordered stream: one container's stdout, or its stderr.
// P is the source's position of a line (a checkpoint, an offset); Stream only hands it back.
//
// Add, Tick, Flush and Discard may be called from different goroutines (a reader adds, a
// timer ticks); they are serialised, and emit is called with that lock held, so events come
// out in order whatever calls it. emit must not call the Stream's methods.
type Stream[P any] struct {
	mu sync.Mutex
	c  core[P]
}

// NewStream returns a Stream that emits by calling emit with each event, the position of
// its last line, and whether it is partial: a part, not the last, of a group split at a
// bound, which goes on. A source that checkpoints advances its checkpoint to last only when
// partial is false (see the package documentation). Lines held by the Stream count against
// budget; nil means a Budget of its own with the default limit.
func NewStream[P any](cfg Config, rule Rule, budget *Budget, emit func(m message.Message, last P, partial bool)) *Stream[P] {
	s := &Stream[P]{}
	s.c.init(cfg, rule, budget, func(m *message.Message, last P, partial bool) { emit(*m, last, partial) })
	return s
}

// Add takes the stream's next line, with its position, and emits what the line closes: the
// lines before it that no longer wait for anything, and the line itself when it can begin
// nothing (a blank line, a JSON record, any line under Off). Events come out in the order of
// their lines, so no event's last position is past a line still held.
func (s *Stream[P]) Add(m message.Message, pos P) {
	s.mu.Lock()
	s.c.add(&m, pos)
	s.mu.Unlock()
}

// Tick is the stream's wall clock: call it every Config.TickEvery or so (the Stream reads no
// clock itself). The first Tick after a line starts the stream's quiet time; a Tick that
// comes Config.Idle or more after it, with no line in between, emits everything the stream
// holds. So what a stream holds goes out between Idle and Idle plus the tick interval after
// its last line.
func (s *Stream[P]) Tick(now time.Time) {
	s.mu.Lock()
	s.c.tick(now)
	s.mu.Unlock()
}

// Flush emits everything the stream holds, grouped as far as it is known: call it when the
// stream ends.
func (s *Stream[P]) Flush() {
	s.mu.Lock()
	s.c.finish()
	s.mu.Unlock()
}

// Discard forgets everything the stream holds, unemitted, and gives its bytes back to the
// Budget: for a source that will read those lines again (from the last emitted position).
func (s *Stream[P]) Discard() {
	s.mu.Lock()
	s.c.discard()
	s.mu.Unlock()
}

// Stats returns the counters of the stream's Budget (shared with every stream that uses it).
func (s *Stream[P]) Stats() Stats { return s.c.budget.Stats() }

// entry is a held line.
type entry[P any] struct {
	m   message.Message
	pos P
	cl  class
	d   time.Duration // since the line before it
}

// core is a Stream without its lock: Groups holds many under one.
type core[P any] struct {
	cfg     Config
	rule    Rule
	builtin bool // the rule is a built-in one: lines are classified
	budget  *Budget
	emit    func(*message.Message, P, bool) // the event is the callee's to copy, not to keep

	// lines are the held lines: lines[head:head+n] are judged into st, and the ones after
	// them wait to be judged again, from the empty state, after a break.
	lines   []entry[P]
	head, n int
	conf    int // lines[head:head+conf] are confirmed to be one event
	size    int // text bytes of the judged lines
	st      state
	part    int             // the number of the part being collected of a group split at a bound; 0 if none
	prev    time.Time       // the timestamp of the last line, for Config.Gap
	moved   bool            // a line came since the last Tick
	quiet   time.Time       // the time of the first Tick that found no new line
	seq     uint64          // the Groups' count of lines when this stream had its last one
	out     message.Message // a group's event while it is emitted: it need not be on the heap of its own
}

func (c *core[P]) init(cfg Config, rule Rule, budget *Budget, emit func(*message.Message, P, bool)) {
	if budget == nil {
		budget = NewBudget(0)
	}
	c.cfg, c.rule, c.budget, c.emit = cfg.withDefaults(), rule, budget, emit
	c.builtin = rule.enabled() != 0
}

// open reports whether the stream holds lines or is inside a group.
func (c *core[P]) open() bool { return c.head < len(c.lines) || c.st.phase != pFresh }

func (c *core[P]) add(m *message.Message, pos P) {
	c.moved = true
	d := since(c.prev, m.Time)
	if c.open() && (d > c.cfg.Gap || d < -c.cfg.Gap) {
		c.budget.gapClosed.Add(1)
		c.finish()
	}
	c.prev = m.Time
	var cl class
	if c.builtin {
		cl = classify(m.Text)
	}
	squeezed := -1
	if !c.budget.take(len(m.Text)) {
		squeezed = len(c.lines)
	}
	c.push(m, pos, cl, d)
	if squeezed >= 0 {
		squeezed = len(c.lines) - 1 // push may have moved the lines
	}
	c.run(squeezed)
}

// since returns b - a, as time.Time.Sub does but cheaper, and capped at about ±34 years.
func since(a, b time.Time) time.Duration {
	const limit = 1 << 30 // seconds
	ds := b.Unix() - a.Unix()
	if ds > limit || ds < -limit {
		return time.Duration(ds/limit) * limit * time.Second
	}
	return time.Duration(ds)*time.Second + time.Duration(b.Nanosecond()-a.Nanosecond())
}

// push appends a line to the held ones, moving them to the front of the array first when
// it is full and at least half of it is already emitted.
func (c *core[P]) push(m *message.Message, pos P, cl class, d time.Duration) {
	if c.lines == nil {
		c.lines = make([]entry[P], 0, 8)
	}
	if len(c.lines) == cap(c.lines) && c.head >= len(c.lines)/2 {
		n := copy(c.lines, c.lines[c.head:])
		clear(c.lines[n:])
		c.lines = c.lines[:n]
		c.head = 0
	}
	c.lines = append(c.lines, entry[P]{})
	e := &c.lines[len(c.lines)-1]
	e.m, e.pos, e.cl, e.d = *m, pos, cl, d
}

// run judges the lines that wait, in order. squeezed is the index of the new line if the
// Budget had no room for it, or -1.
func (c *core[P]) run(squeezed int) {
	for c.head+c.n < len(c.lines) {
		i := c.head + c.n
		e := &c.lines[i]
		text := e.m.Text
		if c.st.phase == pFresh {
			st, v := c.rule.first(e.cl, text)
			if v == vAlone {
				c.emitHead(1, false, false)
				continue
			}
			c.st, c.n, c.size = st, 1, len(text)
			if v == vJoin {
				c.conf = 1
			}
			continue
		}
		var prev string
		near := false
		if c.n > 0 { // else a split emitted the lines before: only a trace's rules apply, which need neither
			prev, near = c.lines[i-1].m.Text, e.d <= c.cfg.Intro && e.d >= -c.cfg.Intro
		}
		st, v := c.rule.next(c.st, e.cl, text, prev, near)
		if v == vBreak {
			c.close()
			continue
		}
		over := c.n > 0 && (c.n+1 > c.cfg.MaxLines || c.size+c.n+len(text) > c.cfg.MaxBytes)
		if over || i == squeezed {
			if !over {
				c.budget.overflows.Add(1)
				squeezed = -1 // the line is held after this split, whatever the Budget says
			}
			if c.conf == 0 {
				c.close()
			} else {
				c.split()
			}
			continue // the line is judged again, as the next part's
		}
		c.st, c.n, c.size = st, c.n+1, c.size+len(text)
		if v == vJoin {
			c.conf = c.n
		}
	}
}

// close emits what is confirmed as one event, or the first held line alone if nothing is,
// and returns to the empty state: the lines after the emitted ones wait to be judged again.
func (c *core[P]) close() {
	if c.n > 0 {
		c.emitHead(max(c.conf, 1), c.conf > 0, false)
	}
	c.n, c.conf, c.size, c.st, c.part = 0, 0, 0, state{}, 0
}

// split emits what is confirmed as a part of a group that goes on; the state stays.
func (c *core[P]) split() {
	if c.part == 0 {
		c.part = 1
	}
	k := c.conf
	c.size -= c.emitHead(k, true, true)
	c.n -= k
	c.conf = 0
	c.part++
	c.budget.continuations.Add(1)
}

// finish emits everything held and returns to the empty state.
func (c *core[P]) finish() {
	for {
		c.run(-1)
		if c.head == len(c.lines) {
			break
		}
		c.close()
	}
	c.close()
}

func (c *core[P]) tick(now time.Time) {
	if c.moved {
		c.moved, c.quiet = false, now
		return
	}
	if c.open() && now.Sub(c.quiet) >= c.cfg.Idle {
		if c.head < len(c.lines) {
			c.budget.idleClosed.Add(1)
		}
		c.finish()
	}
}

func (c *core[P]) discard() {
	size := 0
	for i := c.head; i < len(c.lines); i++ {
		size += len(c.lines[i].m.Text)
	}
	c.budget.held.Add(-int64(size))
	c.lines, c.head = nil, 0
	c.n, c.conf, c.size, c.st, c.part = 0, 0, 0, state{}, 0
}

// emitHead emits the first k held lines as one event, a group's if group is set (it then
// carries FieldKind, and FieldPart if split), partial if the group goes on, and returns
// their text bytes.
func (c *core[P]) emitHead(k int, group, partial bool) int {
	es := c.lines[c.head : c.head+k]
	size := 0
	for i := range es {
		size += len(es[i].m.Text)
	}
	c.budget.held.Add(-int64(size))
	if group && (k > 1 || c.part > 0) {
		c.out = c.joined(es, size)
		c.emit(&c.out, es[k-1].pos, partial)
		c.out = message.Message{}
	} else {
		c.emit(&es[0].m, es[0].pos, partial)
	}
	clear(es)
	c.head += k
	if c.head == len(c.lines) {
		c.head = 0
		if cap(c.lines) > 32 {
			c.lines = nil // a large group held: let the array go
		} else {
			c.lines = c.lines[:0]
		}
	}
	return size
}

// joined returns the event of a group: its first line's message with all their texts (size
// bytes) joined, and a copy of its fields with FieldKind, and FieldPart if the group is split.
func (c *core[P]) joined(es []entry[P], size int) message.Message {
	m := es[0].m
	var b strings.Builder
	b.Grow(size + len(es) - 1)
	for i := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(es[i].m.Text)
	}
	m.Text = b.String()
	fields := make(map[string]any, len(m.Fields)+2)
	for key, v := range m.Fields {
		fields[key] = v
	}
	fields[FieldKind] = c.st.kind.label()
	if c.part > 0 {
		fields[FieldPart] = float64(c.part)
	}
	m.Fields = fields
	c.budget.groups.Add(1)
	c.budget.joined.Add(uint64(len(es)))
	return m
}
