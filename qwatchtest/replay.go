package qwatchtest

import (
	"context"
	"sync"

	"github.com/qnib/qwatch/message"
)

// Replay is a source that emits its messages in order, then waits for ctx to be done. Create
// it with NewReplay.
type Replay struct {
	msgs []message.Message
	done chan struct{}
	once sync.Once
}

// NewReplay returns a source that will emit msgs.
func NewReplay(msgs ...message.Message) *Replay {
	return &Replay{msgs: msgs, done: make(chan struct{})}
}

// Run emits the messages, then blocks until ctx is done and returns nil. If ctx is done
// before all are emitted, it stops early.
func (r *Replay) Run(ctx context.Context, emit func(message.Message)) error {
	for _, m := range r.msgs {
		if ctx.Err() != nil {
			return nil
		}
		emit(m)
	}
	r.once.Do(func() { close(r.done) })
	<-ctx.Done()
	return nil
}

// Done is closed once every message has been emitted.
func (r *Replay) Done() <-chan struct{} { return r.done }
