package gelf

import (
	"sync"
	"time"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/message"
)

// lines is one reader's way from a decoded message to emit: the joiner of split Docker
// lines, then the multiline grouping, either nil when off. A reader is a UDP worker or a TCP
// connection, which use their lines alone, or the HTTP handlers, which share theirs under mu.
type lines struct {
	mu   *sync.Mutex // nil for a reader of its own
	j    *joiner
	g    *grouper
	next func(message.Message) // what the joiner emits into: g.add, or out when g is nil
	out  func(message.Message) // the Source's emit
}

// newLines returns the lines of one reader that emits into out.
func (s *Source) newLines(out func(message.Message)) *lines {
	l := &lines{j: s.joiner(), g: s.grouper(out), out: out, next: out}
	if l.g != nil {
		l.next = l.g.add
	}
	return l
}

// add takes a decoded message received at now, and ticks the grouping if a tick is due.
func (l *lines) add(m message.Message, now time.Time) {
	if l.mu != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
	}
	if l.j != nil {
		l.j.add(m, now, l.next)
	} else {
		l.next(m)
	}
	l.g.tick(now)
}

// flushJoined lets out the pieces of split lines that wait for the rest, into the grouping.
func (l *lines) flushJoined() { l.j.flush(l.next) }

// tick ticks the grouping if it holds lines: for a reader woken to tick, when a timer may
// fire a moment before the tick is due.
func (l *lines) tick(now time.Time) {
	if l.mu != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
	}
	if l.g != nil && l.g.held > 0 {
		l.g.due = now
		l.g.tick(now)
	}
}

// finish emits everything held, the joiner's first, since it emits into the grouping; what
// is added after it goes out at once.
func (l *lines) finish() {
	if l.mu != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
	}
	l.j.flush(l.next)
	l.j = nil
	if l.g != nil {
		l.g.groups.Flush()
		l.g, l.next = nil, l.out
	}
}

// grouper groups one reader's lines into multiline events, per container and stream (GELF
// level: Docker's driver sends stdout at 6, stderr at 3); a message without a container ID
// is no container's stream and goes out as it came. It counts the lines each stream holds,
// so that the reader ticks the Groups only while they hold some: an idle TCP connection then
// costs no wake-up, and a reader that holds a line wakes every Config.Multiline.TickEvery
// until it is out, however quiet its socket.
type grouper struct {
	groups *multiline.Groups[joinKey, uint64]
	emit   func(message.Message)
	every  time.Duration
	// streams holds the counts of the streams that hold lines, and held their sum. A line's
	// position in the Groups is its number in its stream, so an event's last position says
	// how many of the stream's lines are out.
	streams map[joinKey]*lineCount
	held    int
	// last is the stream of the last line and lastKey its key: a stream's lines often come
	// in a row, and its events are emitted as its next line is added.
	last    *lineCount
	lastKey joinKey
	due     time.Time // when the next Tick is due
}

type lineCount struct{ added, emitted uint64 }

// grouper returns the grouping of one reader that emits into emit, or nil when grouping is
// off for every container.
func (s *Source) grouper(emit func(message.Message)) *grouper {
	if s.budget == nil {
		return nil
	}
	// At least a millisecond: an Idle of a few nanoseconds would make it zero, which a
	// ticker does not take.
	every := max(s.cfg.Multiline.TickEvery(), time.Millisecond)
	g := &grouper{emit: emit, every: every, streams: make(map[joinKey]*lineCount)}
	g.groups = multiline.NewGroups(s.cfg.Multiline, s.ruleOf, s.budget, g.emitted)
	return g
}

// ruleOf returns the rule for a container's stream: Config.MultilineRuleFor's answer, or
// Config.MultilineRule.
func (s *Source) ruleOf(k joinKey) multiline.Rule {
	if s.cfg.MultilineRuleFor != nil {
		if r, ok := s.cfg.MultilineRuleFor(k.container); ok {
			return r
		}
	}
	return s.cfg.MultilineRule
}

func (g *grouper) add(m message.Message) {
	if m.Container.ID == "" {
		g.emit(m)
		return
	}
	k := joinKey{m.Container.ID, m.Level}
	c := g.stream(k)
	if c == nil {
		c = &lineCount{}
		g.streams[k] = c
		g.last, g.lastKey = c, k
	}
	c.added++
	g.held++
	g.groups.Add(k, m, c.added)
}

// stream returns the count of the stream k, nil if it holds no lines.
func (g *grouper) stream(k joinKey) *lineCount {
	if g.last != nil && k == g.lastKey {
		return g.last
	}
	c := g.streams[k]
	if c != nil {
		g.last, g.lastKey = c, k
	}
	return c
}

// emitted is the Groups' emit: last is the number of the event's last line in its stream.
func (g *grouper) emitted(k joinKey, m message.Message, last uint64, _ bool) {
	c := g.stream(k)
	g.held -= int(last - c.emitted)
	c.emitted = last
	if c.emitted == c.added {
		delete(g.streams, k)
		g.last = nil
	}
	g.emit(m)
}

// tick calls the Groups' Tick if lines are held and a tick is due at now.
func (g *grouper) tick(now time.Time) {
	if g == nil || g.held == 0 || now.Before(g.due) {
		return
	}
	g.due = now.Add(g.every)
	g.groups.Tick(now)
}

// wake returns when the reader must next tick, and false if it holds no lines.
func (g *grouper) wake() (time.Time, bool) {
	if g == nil || g.held == 0 {
		return time.Time{}, false
	}
	return g.due, true
}
