package dockerevents

import (
	"sync"
	"sync/atomic"

	"github.com/docker/docker/api/types/events"
)

// backlog holds the events read from the engine until they are emitted, so that a blocked
// emit never stops the reading. The engine gives each subscriber a buffer of 1,024 events
// and skips, without a word, the events of one that has not taken them within 100 ms; a
// reader that waits for emit would lose events exactly when a sink is slow. The backlog is
// bounded in bytes: an event read while it is full is dropped, and the window of the events
// dropped is handed over to be reported as a gap.
type backlog struct {
	mu      sync.Mutex
	items   []events.Message
	bytes   int
	max     int
	dropped dropWindow
	err     error // why the stream ended
	ended   bool
	ready   chan struct{}  // has a value when there is something to take
	waiting *atomic.Int64  // the Source's count of events read and not yet handled
	lost    *atomic.Uint64 // the Source's count of events dropped
}

// dropWindow counts the events dropped for lack of room and the span of their times.
type dropWindow struct {
	n        uint64
	from, to int64
}

func newBacklog(maxBytes int, waiting *atomic.Int64, lost *atomic.Uint64) *backlog {
	return &backlog{max: maxBytes, ready: make(chan struct{}, 1), waiting: waiting, lost: lost}
}

// eventSize is what an event is taken to cost in memory.
func eventSize(ev events.Message) int {
	n := 200 + len(ev.Type) + len(ev.Action) + len(ev.Actor.ID) + len(ev.Scope) + len(ev.From) + len(ev.Status) + len(ev.ID)
	for k, v := range ev.Actor.Attributes {
		n += len(k) + len(v) + 32
	}
	return n
}

// fill reads the stream into the backlog until it ends: msgs and errs are the docker
// client's, which sends one error on errs (the context's when it is cancelled) and stops.
func (b *backlog) fill(msgs <-chan events.Message, errs <-chan error) {
	for {
		select {
		case ev := <-msgs:
			b.push(ev)
		case err := <-errs:
			b.mu.Lock()
			b.err, b.ended = err, true
			b.mu.Unlock()
			b.signal()
			return
		}
	}
}

func (b *backlog) push(ev events.Message) {
	size := eventSize(ev)
	b.mu.Lock()
	if b.bytes+size > b.max && len(b.items) > 0 {
		t := ev.TimeNano
		if t == 0 {
			t = ev.Time * 1e9
		}
		if b.dropped.n == 0 || t < b.dropped.from {
			b.dropped.from = t
		}
		b.dropped.to = max(b.dropped.to, t)
		b.dropped.n++
		b.lost.Add(1)
	} else {
		b.items = append(b.items, ev)
		b.bytes += size
		b.waiting.Add(1)
	}
	b.mu.Unlock()
	b.signal()
}

func (b *backlog) signal() {
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// take hands over up to n events in the order read, and the window of those dropped since
// the last take. more says whether events are left; once the stream has ended and none are,
// ended is true and err says why it ended.
func (b *backlog) take(n int) (evs []events.Message, dropped dropWindow, more, ended bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = min(n, len(b.items))
	evs = make([]events.Message, n)
	copy(evs, b.items)
	clear(b.items[:n])
	b.items = b.items[n:]
	for _, ev := range evs {
		b.bytes -= eventSize(ev)
	}
	if len(b.items) == 0 {
		b.items = nil // lets the array go
	}
	dropped, b.dropped = b.dropped, dropWindow{}
	more = len(b.items) > 0
	return evs, dropped, more, b.ended && !more, b.err
}
