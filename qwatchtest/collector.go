package qwatchtest

import "github.com/qnib/qwatch/message"

// Collector gathers what a source emits: pass its Emit method to the source's Run as emit.
// The zero value is ready to use, and it is safe for concurrent use, as emit must be.
//
//	c := &qwatchtest.Collector{}
//	go src.Run(ctx, c.Emit)
//	msgs, err := c.WaitFor(3, 5*time.Second)
type Collector struct {
	// OnEmit, when set, runs at the start of every Emit, before the message is kept. Use it
	// to make emit slow or to block it for a while, as a Hub with full queues does.
	OnEmit func(m message.Message)

	store
}

// Emit keeps m, after OnEmit returns.
func (c *Collector) Emit(m message.Message) {
	if c.OnEmit != nil {
		c.OnEmit(m)
	}
	c.add(m)
}
