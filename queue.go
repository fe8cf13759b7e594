package qwatch

import (
	"sync"

	"github.com/qnib/qwatch/message"
)

// queue is one sink's bounded FIFO of messages: a ring buffer that its producers (sources and
// Publish, on any goroutine) fill and its one consumer empties in batches.
//
// The consumer reads a batch where it lies in the ring rather than from a copy, when it can
// (see lend): with several sinks, copying every message into each queue and out again was a
// large part of a message's cost.
type queue struct {
	mu    sync.Mutex
	buf   []message.Message
	sizes []int // sizes[i] is buf[i].Size(), kept so take need not compute it again
	head  int   // index of the oldest message
	n     int   // messages queued
	size  int   // the most messages queued
	// lend says take may hand out the ring's own slots. The ring then has room for a batch
	// beyond size; as only take moves head, the producers, who fill at most size slots after
	// head, cannot reach the slots of the batch taken last (just before head) until the
	// consumer takes again: they are the consumer's, without the lock, until then. DropOldest
	// moves head too, past any number of messages, so its queue copies batches out.
	lend     bool
	spare    []message.Message // a batch take copies out is copied here
	bytes    int64             // sum of the queued messages' sizes
	maxBytes int64
	closed   bool
	// ready wakes the consumer once the queue holds what it waits for (see await), or closes.
	// Producers send on it only while the consumer sleeps: a send per message would cost a
	// wake-up, or at least a channel operation, on every put.
	ready     chan struct{}
	sleeping  bool  // the consumer waits on ready
	wantN     int   // for this many messages
	wantBytes int64 // or this many bytes
	// space is closed, and replaced, when the consumer makes room while producers wait.
	space   chan struct{}
	waiters int
}

// newQueue returns a queue of size messages and maxBytes bytes, from which take hands out
// batches of at most batchSize messages, for the overflow policy policy.
func newQueue(size, batchSize int, maxBytes int64, policy Overflow) *queue {
	lend := policy != DropOldest
	ring := size
	if lend {
		ring += batchSize
	}
	return &queue{
		buf:      make([]message.Message, ring),
		sizes:    make([]int, ring),
		size:     size,
		lend:     lend,
		maxBytes: maxBytes,
		ready:    make(chan struct{}, 1),
		space:    make(chan struct{}),
	}
}

// full reports whether a message of size bytes does not fit now. An empty queue takes any
// message, however large, so one bigger than the byte bound cannot wedge the sink.
func (q *queue) full(size int) bool {
	return q.n == q.size || (q.n > 0 && q.bytes+int64(size) > q.maxBytes)
}

// put queues copies of msgs, whose sizes are sizes, in order, according to the overflow
// policy, under one lock and with at most one wake-up of the consumer while none has to wait.
// It returns how many messages were discarded to honour the policy (the new ones for
// DropNewest, the oldest ones for DropOldest, those not queued once the queue closed). With
// Block it waits for room until stop or cancel is closed, and then gives up on the rest of
// msgs, which are counted as dropped; gaveUp says so.
func (q *queue) put(msgs []message.Message, sizes []int, policy Overflow, stop, cancel <-chan struct{}) (gaveUp bool, dropped int) {
	q.mu.Lock()
	wake := false
	for i := range msgs {
		size := sizes[i]
		for q.full(size) && !q.closed && policy != DropNewest {
			if policy == DropOldest {
				q.dropLocked()
				dropped++
				continue
			}
			space := q.space
			q.waiters++
			q.mu.Unlock()
			if wake { // the consumer must make the room this waits for
				q.wake()
				wake = false
			}
			select {
			case <-space:
			case <-stop:
				q.unwait()
				return true, dropped + len(msgs) - i
			case <-cancel:
				q.unwait()
				return true, dropped + len(msgs) - i
			}
			q.mu.Lock()
			q.waiters--
		}
		if q.closed {
			q.mu.Unlock()
			return policy == Block, dropped + len(msgs) - i
		}
		if q.full(size) { // DropNewest
			dropped++
			continue
		}
		tail := q.head + q.n
		if tail >= len(q.buf) {
			tail -= len(q.buf)
		}
		q.buf[tail], q.sizes[tail] = msgs[i], size
		q.n++
		q.bytes += int64(size)
		if q.sleeping && (q.n >= q.wantN || q.bytes >= q.wantBytes) {
			q.sleeping, wake = false, true
		}
	}
	q.mu.Unlock()
	if wake {
		q.wake()
	}
	return false, dropped
}

func (q *queue) unwait() {
	q.mu.Lock()
	q.waiters--
	q.mu.Unlock()
}

func (q *queue) wake() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// dropLocked removes the oldest message.
func (q *queue) dropLocked() {
	q.buf[q.head] = message.Message{} // let the collector have what the sink is done with
	q.bytes -= int64(q.sizes[q.head])
	q.head = (q.head + 1) % len(q.buf)
	q.n--
}

// await reports whether the queue holds at least n messages or bytes bytes, or is closed; if
// not, it marks the consumer as sleeping until it does, and the caller must then wait on
// q.ready (a wake-up may come for an earlier await, so the caller looks again after one).
func (q *queue) await(n int, bytes int64) (ready bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n >= n || q.bytes >= bytes || q.closed {
		q.sleeping = false
		return true
	}
	q.sleeping, q.wantN, q.wantBytes = true, n, bytes
	return false
}

// take removes the oldest messages from the queue and returns them: at most max of them (no
// more than the batch size given to newQueue), and no more than maxBytes of them but for the
// first. The batch is the ring's own slots when it may lend them and they are in one run, a
// copy otherwise; it is the consumer's until it calls take again, and it must clear the batch
// before then, so the collector can have what the sink is done with.
func (q *queue) take(max int, maxBytes int64) []message.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	k, taken := q.count(max, maxBytes)
	var batch []message.Message
	if first := len(q.buf) - q.head; q.lend && k <= first {
		batch = q.buf[q.head : q.head+k : q.head+k]
	} else {
		first = min(k, first)
		batch = append(append(q.spare[:0], q.buf[q.head:q.head+first]...), q.buf[:k-first]...)
		q.spare = batch
		clear(q.buf[q.head : q.head+first])
		clear(q.buf[:k-first])
	}
	q.remove(k, taken)
	return batch
}

// count returns how many of the oldest messages take may hand out, and their bytes.
func (q *queue) count(max int, maxBytes int64) (k int, taken int64) {
	for i := q.head; k < max && k < q.n; k++ {
		size := int64(q.sizes[i])
		if k > 0 && taken+size > maxBytes {
			break
		}
		taken += size
		if i++; i == len(q.buf) {
			i = 0
		}
	}
	return k, taken
}

// remove moves head past k messages of taken bytes, and wakes the producers that wait for
// room.
func (q *queue) remove(k int, taken int64) {
	q.head += k
	if q.head >= len(q.buf) {
		q.head -= len(q.buf)
	}
	q.n -= k
	q.bytes -= taken
	if k > 0 && q.waiters > 0 {
		close(q.space)
		q.space = make(chan struct{})
	}
}

// discard empties the queue and returns how many messages it held; a batch taken and not yet
// released stays the consumer's.
func (q *queue) discard() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := q.n
	for q.n > 0 {
		q.dropLocked()
	}
	return k
}

// state returns the number of queued messages, the sum of their sizes, and whether the queue
// is closed.
func (q *queue) state() (n int, bytes int64, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.bytes, q.closed
}

// close stops the queue from taking messages; what it holds can still be taken.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	if q.waiters > 0 {
		close(q.space)
		q.space = make(chan struct{})
	}
	q.mu.Unlock()
	q.wake()
}
