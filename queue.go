package qwatch

import (
	"sync"

	"github.com/qnib/qwatch/message"
)

// queue is one sink's bounded FIFO of messages: a ring buffer that its producers (sources and
// Publish, on any goroutine) fill and its one consumer empties in batches.
type queue struct {
	mu     sync.Mutex
	buf    []message.Message
	head   int // index of the oldest message
	n      int // messages queued
	batch  int // wake the consumer when this many are queued
	closed bool
	// ready wakes the consumer when the queue stops being empty, fills a batch, or closes.
	ready chan struct{}
	// space is closed, and replaced, when the consumer makes room while producers wait.
	space   chan struct{}
	waiters int
}

func newQueue(size, batch int) *queue {
	return &queue{
		buf:   make([]message.Message, size),
		batch: batch,
		ready: make(chan struct{}, 1),
		space: make(chan struct{}),
	}
}

// put queues a copy of *m according to the overflow policy. It reports whether *m was queued
// and how many messages were discarded to honour the policy (the new one for DropNewest, the
// oldest for DropOldest). With Block it waits for room until stop or cancel is closed, and then
// gives up on *m, which the caller must count as dropped.
func (q *queue) put(m *message.Message, policy Overflow, stop, cancel <-chan struct{}) (queued bool, dropped int) {
	q.mu.Lock()
	for q.n == len(q.buf) && !q.closed {
		switch policy {
		case DropNewest:
			q.mu.Unlock()
			return false, 1
		case DropOldest:
			q.buf[q.head] = message.Message{}
			q.head = (q.head + 1) % len(q.buf)
			q.n--
			dropped = 1
		default:
			space := q.space
			q.waiters++
			q.mu.Unlock()
			select {
			case <-space:
			case <-stop:
				q.unwait()
				return false, 1
			case <-cancel:
				q.unwait()
				return false, 1
			}
			q.mu.Lock()
			q.waiters--
		}
	}
	if q.closed {
		q.mu.Unlock()
		return false, dropped + 1
	}
	q.buf[(q.head+q.n)%len(q.buf)] = *m
	q.n++
	wake := q.n == 1 || q.n == q.batch
	q.mu.Unlock()
	if wake {
		q.wake()
	}
	return true, dropped
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

// take moves up to max of the oldest messages to dst and returns it.
func (q *queue) take(dst []message.Message, max int) []message.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := min(q.n, max)
	for range k {
		dst = append(dst, q.buf[q.head])
		q.buf[q.head] = message.Message{} // let the collector have what the sink is done with
		q.head = (q.head + 1) % len(q.buf)
	}
	q.n -= k
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
	q.take(nil, k)
	return k
}

// state returns the number of queued messages and whether the queue is closed.
func (q *queue) state() (n int, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.closed
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
