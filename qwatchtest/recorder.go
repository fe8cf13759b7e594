package qwatchtest

import (
	"context"
	"errors"

	"github.com/qnib/qwatch/message"
)

// Recorder is a sink that keeps every message it is given, in order. The zero value is ready
// to use. It is safe for concurrent use, so a test can read it while a Hub writes to it.
type Recorder struct {
	// OnWrite, when set, runs at the start of each Write; if it returns an error, Write
	// returns that error and records nothing. Use it to inject slowness or failures.
	OnWrite func(ctx context.Context, batch []message.Message) error

	store
	batches int
	closed  bool
	closes  int
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
	r.notifyLocked()
	return nil
}

// Close marks the Recorder closed; later writes fail. It may be called any number of times.
func (r *Recorder) Close(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.closes++
	r.notifyLocked()
	return nil
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
