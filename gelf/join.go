package gelf

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/qnib/qwatch/message"
)

// DockerLineLimit is the size of the pieces Docker splits longer log lines into before any
// log driver sees them (its log copier's 16 KiB buffer).
const DockerLineLimit = 16 << 10

// joiner puts back together the lines Docker split: its GELF driver sends each piece as a
// message of its own, unmarked, but every piece but the last is exactly DockerLineLimit long
// and all carry the line's timestamp. A piece waits, per container and stream, for the next
// message of the same container and stream; if that has the same timestamp it is the next
// piece. Each reader (the UDP reader, each TCP connection) has its own joiner, used by it
// alone, so the pieces are seen in the order they came; a reader lets what waits go out only
// when its socket has been idle for Config.JoinWait, never because the sinks held it up. A line of
// exactly 16 KiB followed within the same timestamp by another line of the same container
// and stream would be joined with it.
//
// What waits is bounded: a piece waits at most wait from its arrival, even on a busy socket,
// and the pieces all of a Source's joiners hold share a byte budget; a piece that would exceed
// it, or waits too long, goes out as it is (a partial line beats none), counted in released.
type joiner struct {
	max      int            // the longest joined text
	wait     time.Duration  // the longest a piece waits for the rest
	budget   int64          // bytes all joiners may hold together
	held     *atomic.Int64  // bytes held now, shared by a Source's joiners
	joined   *atomic.Uint64 // pieces merged, shared by a Source's joiners
	released *atomic.Uint64 // lines let go before their end came, shared
	pending  map[joinKey]*partialLine
	order    []*partialLine // pending lines by arrival; entries no longer pending are skipped
}

type joinKey struct {
	container string
	level     message.Level
}

type partialLine struct {
	key     joinKey
	m       message.Message
	text    strings.Builder
	arrived time.Time
	done    bool
}

// add takes one decoded message, received at now, and emits what is complete, and what has
// waited too long.
func (j *joiner) add(m message.Message, now time.Time, emit func(message.Message)) {
	defer j.expire(now, emit)
	if m.Container.ID == "" {
		emit(m)
		return
	}
	key := joinKey{m.Container.ID, m.Level}
	p := j.pending[key]
	if p != nil && p.m.Time.Equal(m.Time) && p.text.Len()+len(m.Text) <= j.max && j.hold(len(m.Text)) {
		p.text.WriteString(m.Text)
		j.joined.Add(1)
		if len(m.Text) < DockerLineLimit {
			j.emitLine(p, emit)
		}
		return
	}
	if p != nil {
		j.released.Add(1) // a line of exactly 16 KiB, or its rest never came
		j.emitLine(p, emit)
	}
	if len(m.Text) != DockerLineLimit {
		emit(m)
		return
	}
	if !j.hold(len(m.Text)) {
		j.released.Add(1) // no room to wait for the rest
		emit(m)
		return
	}
	p = &partialLine{key: key, m: m, arrived: now}
	p.text.WriteString(m.Text)
	j.pending[key] = p
	j.order = append(j.order, p)
}

// hold reserves n bytes of the shared budget, if there is room.
func (j *joiner) hold(n int) bool {
	if j.held.Add(int64(n)) > j.budget {
		j.held.Add(-int64(n))
		return false
	}
	return true
}

// emitLine emits p as far as it came and forgets it.
func (j *joiner) emitLine(p *partialLine, emit func(message.Message)) {
	delete(j.pending, p.key)
	p.done = true
	j.held.Add(-int64(p.text.Len()))
	m := p.m
	m.Text = p.text.String()
	emit(m)
}

// expire lets the lines that have waited longer than j.wait go out as they are.
func (j *joiner) expire(now time.Time, emit func(message.Message)) {
	for len(j.order) > 0 {
		p := j.order[0]
		if !p.done {
			if now.Sub(p.arrived) < j.wait {
				return
			}
			j.released.Add(1)
			j.emitLine(p, emit)
		}
		j.order[0] = nil
		j.order = j.order[1:]
	}
	j.order = nil // let the array go once it has emptied
}

// waiting reports whether pieces wait for the rest of their line.
func (j *joiner) waiting() bool { return j != nil && len(j.pending) > 0 }

// flush emits every line that waits, as far as it came.
func (j *joiner) flush(emit func(message.Message)) {
	if j == nil {
		return
	}
	for _, p := range j.order {
		if !p.done {
			j.released.Add(1)
			j.emitLine(p, emit)
		}
	}
	j.order = nil
}
