package qwatchtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/qnib/qwatch/message"
)

// Recorder is a sink that keeps every message it is given, in order. The zero value is ready
// to use. It is safe for concurrent use, so a test can read it while a Hub writes to it.
type Recorder struct {
	// OnWrite, when set, runs at the start of each Write; if it returns an error, Write
	// returns that error and records nothing. Use it to inject slowness or failures.
	OnWrite func(ctx context.Context, batch []message.Message) error

	mu      sync.Mutex
	msgs    []message.Message
	batches int
	closed  bool
	closes  int
	changed chan struct{} // closed and replaced on every change
}

// Write records the batch, unless OnWrite fails it or the Recorder is closed.
func (r *Recorder) Write(ctx context.Context, batch []message.Message) error {
	if r.OnWrite != nil {
		if err := r.OnWrite(ctx, batch); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("qwatchtest: write to closed recorder")
	}
	if len(batch) == 0 {
		return nil
	}
	r.msgs = append(r.msgs, batch...)
	r.batches++
	r.notify()
	return nil
}

// Close marks the Recorder closed; later writes fail. It may be called any number of times.
func (r *Recorder) Close(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.closes++
	r.notify()
	return nil
}

func (r *Recorder) notify() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// Messages returns a copy of what the Recorder has received so far.
func (r *Recorder) Messages() []message.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]message.Message(nil), r.msgs...)
}

// Len returns how many messages the Recorder has received.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// Batches returns how many non-empty batches it has recorded.
func (r *Recorder) Batches() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.batches
}

// Closed reports whether Close has been called.
func (r *Recorder) Closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// WaitFor waits until the Recorder holds at least n messages and returns them all; after
// timeout it returns what it has and an error saying how many were missing.
func (r *Recorder) WaitFor(n int, timeout time.Duration) ([]message.Message, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		if len(r.msgs) >= n {
			msgs := append([]message.Message(nil), r.msgs...)
			r.mu.Unlock()
			return msgs, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			msgs := r.Messages()
			return msgs, fmt.Errorf("qwatchtest: got %d of %d messages within %v", len(msgs), n, timeout)
		}
	}
}
