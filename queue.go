package qwatch

import (
	"math"
	"sync"

	"github.com/qnib/qwatch/message"
)

// queue is one sink's bounded FIFO of messages: a ring buffer that its producers (sources and
// Publish, on any goroutine) fill and its one consumer empties in batches.
type queue struct {
	mu       sync.Mutex
	buf      []message.Message
	sizes    []int // sizes[i] is buf[i].Size(), kept so take need not compute it again
	head     int   // index of the oldest message
	n        int   // messages queued
	bytes    int64 // sum of the queued messages' sizes
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

func newQueue(size int, maxBytes int64) *queue {
	return &queue{
		buf:      make([]message.Message, size),
		sizes:    make([]int, size),
		maxBytes: maxBytes,
		ready:    make(chan struct{}, 1),
		space:    make(chan struct{}),
	}
}

// full reports whether a message of size bytes does not fit now. An empty queue takes any
// message, however large, so one bigger than the byte bound cannot wedge the sink.
func (q *queue) full(size int) bool {
	return q.n == len(q.buf) || (q.n > 0 && q.bytes+int64(size) > q.maxBytes)
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

// take moves the oldest messages to dst and returns it: at most max of them, and no more than
// maxBytes of them but for the first. They are copied, and their slots cleared, in at most
// two runs of the ring, not one by one.
func (q *queue) take(dst []message.Message, max int, maxBytes int64) []message.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	k, taken := 0, int64(0)
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
	first := min(k, len(q.buf)-q.head)
	run := q.buf[q.head : q.head+first]
	dst = append(dst, run...)
	clear(run) // let the collector have what the sink is done with
	run = q.buf[:k-first]
	dst = append(dst, run...)
	clear(run)
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
	return dst
}

// discard empties the queue and returns how many messages it held.
func (q *queue) discard() int {
	q.mu.Lock()
	k := q.n
	q.mu.Unlock()
	q.take(nil, k, math.MaxInt64)
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
