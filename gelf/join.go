package gelf

import (
	"strings"
	"sync"
	"time"

	"github.com/qnib/qwatch/message"
)

// DockerLineLimit is the size of the pieces Docker splits longer log lines into before any
// log driver sees them (its log copier's 16 KiB buffer).
const DockerLineLimit = 16 << 10

// joinWait is how long a piece waits for the rest of its line before it goes out alone.
const joinWait = time.Second

// joiner puts back together the lines Docker split: its GELF driver sends each piece as a
// message of its own, unmarked, but every piece but the last is exactly DockerLineLimit long
// and all carry the line's timestamp. A piece waits, per container and stream, for the next
// message of the same container and stream; if that has the same timestamp it is the next
// piece. The heuristic needs the pieces in order, which UDP with one reader (the default) and
// TCP keep; a line of exactly 16 KiB followed within the same microsecond by another line of
// the same container and stream would be joined with it.
type joiner struct {
	max int // the longest joined text

	mu      sync.Mutex
	pending map[joinKey]*partialLine
	joined  uint64 // pieces merged into a line before them
}

type joinKey struct {
	container string
	level     message.Level
}

type partialLine struct {
	m     message.Message
	text  strings.Builder
	since time.Time
}

func newJoiner(max int) *joiner {
	return &joiner{max: max, pending: map[joinKey]*partialLine{}}
}

// add takes one decoded message and emits what is complete.
func (j *joiner) add(m message.Message, now time.Time, emit func(message.Message)) {
	if m.Container.ID == "" {
		emit(m)
		return
	}
	key := joinKey{m.Container.ID, m.Level}
	j.mu.Lock()
	p := j.pending[key]
	var out []message.Message
	if p != nil && p.m.Time.Equal(m.Time) && p.text.Len()+len(m.Text) <= j.max {
		p.text.WriteString(m.Text)
		j.joined++
		if len(m.Text) == DockerLineLimit {
			j.mu.Unlock()
			return
		}
		out = append(out, p.done())
		delete(j.pending, key)
	} else {
		if p != nil {
			out = append(out, p.done()) // a line of exactly 16 KiB, or its rest never came
			delete(j.pending, key)
		}
		if len(m.Text) == DockerLineLimit {
			p = &partialLine{m: m, since: now}
			p.text.WriteString(m.Text)
			j.pending[key] = p
		} else {
			out = append(out, m)
		}
	}
	j.mu.Unlock()
	for _, m := range out {
		emit(m)
	}
}

// flush emits the lines that have waited since before cutoff (all of them for a zero cutoff).
func (j *joiner) flush(cutoff time.Time, emit func(message.Message)) {
	j.mu.Lock()
	var out []message.Message
	for key, p := range j.pending {
		if cutoff.IsZero() || p.since.Before(cutoff) {
			out = append(out, p.done())
			delete(j.pending, key)
		}
	}
	j.mu.Unlock()
	for _, m := range out {
		emit(m)
	}
}

func (p *partialLine) done() message.Message {
	m := p.m
	m.Text = p.text.String()
	return m
}

func (j *joiner) stats() (joined uint64, waiting int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.joined, len(j.pending)
}
