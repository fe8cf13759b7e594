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

// DefaultJoinWait is how long a reader waits, idle, for the rest of a split line before it
// lets the pieces it holds go out as they are. It is generous because an engine busy with
// other work can pause between the pieces of one line.
const DefaultJoinWait = 5 * time.Second

// joiner puts back together the lines Docker split: its GELF driver sends each piece as a
// message of its own, unmarked, but every piece but the last is exactly DockerLineLimit long
// and all carry the line's timestamp. A piece waits, per container and stream, for the next
// message of the same container and stream; if that has the same timestamp it is the next
// piece. Each reader (the UDP reader, each TCP connection) has its own joiner, used by it
// alone, so the pieces are seen in the order they came; a reader lets what waits go out only
// when its socket has been idle for Config.JoinWait, never because the sinks held it up. A line of
// exactly 16 KiB followed within the same timestamp by another line of the same container
// and stream would be joined with it.
type joiner struct {
	max     int            // the longest joined text
	joined  *atomic.Uint64 // pieces merged, shared by a Source's joiners
	pending map[joinKey]*partialLine
}

type joinKey struct {
	container string
	level     message.Level
}

type partialLine struct {
	m    message.Message
	text strings.Builder
}

// add takes one decoded message and emits what is complete.
func (j *joiner) add(m message.Message, emit func(message.Message)) {
	if m.Container.ID == "" {
		emit(m)
		return
	}
	key := joinKey{m.Container.ID, m.Level}
	p := j.pending[key]
	if p != nil && p.m.Time.Equal(m.Time) && p.text.Len()+len(m.Text) <= j.max {
		p.text.WriteString(m.Text)
		j.joined.Add(1)
		if len(m.Text) < DockerLineLimit {
			delete(j.pending, key)
			emit(p.done())
		}
		return
	}
	if p != nil {
		delete(j.pending, key)
		emit(p.done()) // a line of exactly 16 KiB, or its rest never came
	}
	if len(m.Text) != DockerLineLimit {
		emit(m)
		return
	}
	p = &partialLine{m: m}
	p.text.WriteString(m.Text)
	j.pending[key] = p
}

// waiting reports whether pieces wait for the rest of their line.
func (j *joiner) waiting() bool { return j != nil && len(j.pending) > 0 }

// flush emits every line that waits, as far as it came.
func (j *joiner) flush(emit func(message.Message)) {
	if j == nil {
		return
	}
	for key, p := range j.pending {
		delete(j.pending, key)
		emit(p.done())
	}
}

func (p *partialLine) done() message.Message {
	m := p.m
	m.Text = p.text.String()
	return m
}
