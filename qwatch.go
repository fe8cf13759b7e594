package qwatch

import (
	"context"

	"github.com/qnib/qwatch/message"
)

// Source produces messages until ctx is done.
//
// Run blocks. It returns nil after ctx is cancelled, or an error if it cannot go on; the Hub
// calls Run once. emit hands one message to the Hub: it may block while the sinks' queues are
// full (backpressure), it is safe to call from several goroutines at once, and it must not be
// called after Run has returned. A source that binds sockets should do so in its constructor
// (like net.Listen) so that a failure to bind is reported before the Hub runs.
type Source interface {
	Run(ctx context.Context, emit func(message.Message)) error
}

// BatchSource is a Source that can hand over many messages at a time, such as one that reads
// many lines with each read: the Hub then calls RunBatch instead of Run, and a batch costs
// each sink's queue one lock and at most one wake-up rather than one a message.
//
// RunBatch is Run with emit taking a batch: it blocks, and returns nil after ctx is cancelled
// or an error if it cannot go on; the Hub calls it once. emit hands the messages of batch to
// the Hub in order, as that many calls of Run's emit would: it may block while the sinks'
// queues are full, it is safe to call from several goroutines at once, and it must not be
// called after RunBatch has returned. The Hub neither keeps nor changes batch, so the source
// may reuse it once emit returns. Run is still needed, for a program that calls it directly.
type BatchSource interface {
	Source
	RunBatch(ctx context.Context, emit func(batch []message.Message)) error
}

// Sink receives batches of messages from the Hub.
//
// The Hub calls Write and Close from one goroutine per sink, never concurrently. Write returns
// nil only when every message of the batch is handled by the sink for good: written, or
// dead-lettered by the sink's own documented policy. An error means the sink gave up on the
// batch after its own retries; the Hub counts the batch as failed and does not retry it
// (behind a spool, it retries). When only part of the batch was handled, Write says which
// part with a [PartialError], or any error with an Unwritten() []int method: the Hub then
// counts exactly those messages as failed and the others as written. ctx bounds how long
// Write may take. A panic in Write or Close is recovered, logged and counted in
// SinkStats.Panics, and the batch counts as failed; the sink keeps getting later batches. Messages are shared with other sinks and must be treated
// as read-only; the batch slice itself is reused by the Hub after Write returns, so a sink
// that keeps messages must copy them out of it.
//
// Close flushes what the sink buffers and releases its resources; ctx bounds how long it may
// wait. Close is safe to call twice. Write after Close returns an error.
type Sink interface {
	Write(ctx context.Context, batch []message.Message) error
	Close(ctx context.Context) error
}

// Processor runs on every message before it is broadcast, in the order the processors were
// added with [Hub.Use]. It may change the message; returning false drops it. A message's maps
// (Fields, Container.Labels, Event.Attributes) may be shared with other messages of its
// source, so a Processor that changes one sets a changed copy in its place, as package filter
// does, and never writes into it. Processors run on the goroutine that emitted the message,
// possibly on several at once, so a Processor must be safe for concurrent use.
type Processor func(m *message.Message) bool
