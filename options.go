package qwatch

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/qnib/qwatch/message"
)

// Defaults for the Hub and its sinks.
const (
	DefaultShutdownTimeout = 10 * time.Second
	DefaultQueueSize       = 10000
	DefaultQueueBytes      = 64 << 20
	DefaultBatchSize       = 500
	DefaultBatchBytes      = 8 << 20
	DefaultFlushInterval   = 200 * time.Millisecond
)

// Option configures a [Hub].
type Option func(*Hub)

// WithLogger sets the logger the Hub reports drops, failures and shutdown on. The default is
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(h *Hub) {
		if l != nil {
			h.log = l
		}
	}
}

// WithShutdownTimeout bounds the whole shutdown: stopping the sources, draining every queue
// into its sink and closing the sinks. The default is DefaultShutdownTimeout.
func WithShutdownTimeout(d time.Duration) Option {
	return func(h *Hub) {
		if d > 0 {
			h.shutdownTimeout = d
		}
	}
}

// Overflow says what a sink's queue does with a message when it is full.
type Overflow int

const (
	// Block makes the emitting source (or Publish) wait for room: backpressure. Nothing is
	// dropped, but one slow sink slows every source and so, in effect, every other sink.
	Block Overflow = iota
	// DropNewest discards the message that did not fit; the queue keeps the older ones.
	DropNewest
	// DropOldest discards the oldest queued message to make room for the new one.
	DropOldest
)

// String returns "block", "drop-newest" or "drop-oldest".
func (o Overflow) String() string {
	switch o {
	case Block:
		return "block"
	case DropNewest:
		return "drop-newest"
	case DropOldest:
		return "drop-oldest"
	}
	return fmt.Sprintf("overflow(%d)", int(o))
}

// ParseOverflow parses the names String returns.
func ParseOverflow(s string) (Overflow, error) {
	for _, o := range []Overflow{Block, DropNewest, DropOldest} {
		if s == o.String() {
			return o, nil
		}
	}
	return 0, fmt.Errorf("qwatch: unknown overflow policy %q (want block, drop-newest or drop-oldest)", s)
}

// MarshalText returns the policy's name, so an Overflow reads well in JSON, YAML and flags.
func (o Overflow) MarshalText() ([]byte, error) {
	if o < Block || o > DropOldest {
		return nil, fmt.Errorf("qwatch: invalid overflow policy %d", int(o))
	}
	return []byte(o.String()), nil
}

// UnmarshalText parses what ParseOverflow accepts, so an Overflow works with flag.TextVar and
// in YAML or JSON settings.
func (o *Overflow) UnmarshalText(b []byte) error {
	v, err := ParseOverflow(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// SinkOption configures one sink's queue; see [Hub.AddSink].
type SinkOption func(*sinkConfig)

type sinkConfig struct {
	queueSize  int
	queueBytes int64
	batchSize  int
	batchBytes int64
	batchSet   bool // the batch size was chosen, not defaulted
	flush      time.Duration
	overflow   Overflow
	filter     func(*message.Message) bool
	spool      *SpoolConfig
}

// newSinkConfig returns the defaults with opts applied, checked together. A default batch
// size larger than a small queue the user chose shrinks to the queue; only a batch size the
// user chose can be too large.
func newSinkConfig(opts []SinkOption) (sinkConfig, error) {
	c := sinkConfig{
		queueSize:  DefaultQueueSize,
		queueBytes: DefaultQueueBytes,
		batchSize:  DefaultBatchSize,
		batchBytes: DefaultBatchBytes,
		flush:      DefaultFlushInterval,
		overflow:   Block,
	}
	for _, o := range opts {
		o(&c)
	}
	if !c.batchSet && c.batchSize > c.queueSize && c.queueSize >= 1 {
		c.batchSize = c.queueSize
	}
	return c, c.validate()
}

// validate reports the first option that is out of range, or that does not fit another.
func (c sinkConfig) validate() error {
	switch {
	case c.queueSize < 1:
		return fmt.Errorf("queue size %d: must be at least 1", c.queueSize)
	case c.batchSize < 1:
		return fmt.Errorf("batch size %d: must be at least 1", c.batchSize)
	case c.batchSize > c.queueSize:
		return fmt.Errorf("batch size %d: larger than the queue size %d", c.batchSize, c.queueSize)
	case c.queueBytes < 1:
		return fmt.Errorf("queue bytes %d: must be at least 1", c.queueBytes)
	case c.batchBytes < 1:
		return fmt.Errorf("batch bytes %d: must be at least 1", c.batchBytes)
	case c.flush < 0:
		return fmt.Errorf("flush interval %v: must not be negative", c.flush)
	case c.overflow < Block || c.overflow > DropOldest:
		return fmt.Errorf("unknown overflow policy %d", int(c.overflow))
	}
	return nil
}

// WithQueueSize sets how many messages the sink's queue holds (default DefaultQueueSize).
// A default batch size larger than the queue shrinks to it.
func WithQueueSize(n int) SinkOption { return func(c *sinkConfig) { c.queueSize = n } }

// WithQueueBytes bounds the sink's queue by the memory its messages hold, as
// [message.Message.Size] estimates it (default DefaultQueueBytes, 64 MiB). The overflow
// policy applies when either this or the queue size is reached, so a sender of 1 MiB
// messages cannot take the room of thousands of small ones. A single message larger than
// the bound is still taken when the queue is empty, so nothing wedges.
func WithQueueBytes(n int64) SinkOption { return func(c *sinkConfig) { c.queueBytes = n } }

// WithBatch sets the largest batch handed to the sink's Write and how long the queue waits
// for a batch to fill before it hands over what it has (defaults DefaultBatchSize and
// DefaultFlushInterval). A flush interval of 0 hands over whatever is queued at once.
func WithBatch(size int, flush time.Duration) SinkOption {
	return func(c *sinkConfig) { c.batchSize, c.flush, c.batchSet = size, flush, true }
}

// WithBatchBytes bounds a batch handed to Write by the memory its messages hold, as
// [message.Message.Size] estimates it (default DefaultBatchBytes, 8 MiB); a batch always has
// at least one message.
func WithBatchBytes(n int64) SinkOption { return func(c *sinkConfig) { c.batchBytes = n } }

// WithOverflow sets what happens when the sink's queue is full (default Block).
func WithOverflow(o Overflow) SinkOption { return func(c *sinkConfig) { c.overflow = o } }

// WithFilter offers the sink only the messages for which keep returns true. keep must not
// change the message and must be safe for concurrent use. Messages it rejects are counted in
// SinkStats.Filtered and are not part of Offered.
func WithFilter(keep func(*message.Message) bool) SinkOption {
	return func(c *sinkConfig) { c.filter = keep }
}
