package qwatch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/qnib/qwatch/internal/delivery"
	"github.com/qnib/qwatch/internal/spool"
	"github.com/qnib/qwatch/message"
)

// SpoolSync says when a spool's records reach the disk.
type SpoolSync int

const (
	// SpoolSyncInterval fsyncs at most SpoolConfig.SyncInterval after a write (the default):
	// a power loss loses at most that much.
	SpoolSyncInterval SpoolSync = iota
	// SpoolSyncAlways fsyncs every batch before it counts as spooled.
	SpoolSyncAlways
	// SpoolSyncNever leaves it to the operating system; kill -9 still loses nothing.
	SpoolSyncNever
)

// DefaultSpoolMaxBytes is the default of SpoolConfig.MaxBytes.
const DefaultSpoolMaxBytes = spool.DefaultMaxBytes

// SpoolConfig sets up a sink's disk spool; see [WithSpool]. Zero values mean the defaults.
type SpoolConfig struct {
	// Dir holds the spool's files; one directory per sink. Required.
	Dir string
	// MaxBytes bounds the segment files on disk (DefaultSpoolMaxBytes, 1 GiB). When it is reached the
	// sink's overflow policy applies: DropOldest deletes the oldest segment not yet being
	// delivered, DropNewest drops the new messages, Block waits for room.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file starts (default 64 MiB).
	SegmentBytes int64
	// Sync says when records reach the disk; SyncInterval bounds SpoolSyncInterval (default 1 s).
	Sync         SpoolSync
	SyncInterval time.Duration
}

// WithSpool puts a crash-safe disk spool between the sink's queue and its Write. What is
// queued is written to the spool, and so to the operating system, as soon as it is queued
// (what comes during one write goes in the next), so a message the Hub accepted survives
// kill -9 moments later, and a power loss after SyncInterval more. A separate goroutine reads
// the spool and calls Write; a message leaves the spool only when Write accepted it. A Write
// that fails, in whole or in part (see [PartialError]), is retried, only for what it did not
// write, with backoff from 100 ms to 5 s, for as long as the Hub runs: a message on disk is
// never counted as failed. After a restart on the same directory the backlog is delivered
// first, streamed from disk.
//
// Delivery is at least once: a message written just before a crash may be written again. The
// Elasticsearch sink makes it exactly once, creating each document under its message ID.
//
// A disk error (a full disk, say) stops messages going into the spool: they are counted as
// dropped, SinkStats.SpoolError says why, and the spool is tried again with each batch.
func WithSpool(cfg SpoolConfig) SinkOption {
	return func(c *sinkConfig) { c.spool = &cfg }
}

// openSpool opens a sink's spool, as cfg says, with the queue's batch bounds and overflow
// policy.
func openSpool(name string, cfg sinkConfig, log *slog.Logger) (*delivery.Spool, error) {
	policy := map[Overflow]delivery.Overflow{
		Block:      delivery.Block,
		DropNewest: delivery.DropNewest,
		DropOldest: delivery.DropOldest,
	}[cfg.overflow]
	when := map[SpoolSync]spool.Sync{
		SpoolSyncInterval: spool.SyncInterval,
		SpoolSyncAlways:   spool.SyncAlways,
		SpoolSyncNever:    spool.SyncNever,
	}[cfg.spool.Sync]
	return delivery.Open(delivery.Config{
		Spool: spool.Config{Dir: cfg.spool.Dir, MaxBytes: cfg.spool.MaxBytes, SegmentBytes: cfg.spool.SegmentBytes,
			Sync: when, SyncInterval: cfg.spool.SyncInterval},
		Overflow:   policy,
		BatchSize:  cfg.batchSize,
		BatchBytes: cfg.batchBytes,
		Log:        log.With("sink", name),
	})
}

// runSpooled is run for a sink with a spool: this goroutine appends the queue to the spool, a
// second delivers the spool to the sink. At shutdown the queue is drained into the spool;
// delivery goes on until the spool is empty or the shutdown timeout cancels ctx.
func (s *sinkEntry) runSpooled(ctx context.Context, log *slog.Logger) {
	var wg sync.WaitGroup
	wg.Go(func() {
		s.sp.Deliver(ctx, func(ctx context.Context, batch []message.Message) ([]int, error) {
			err := s.write(ctx, batch, log)
			return unwritten(err, len(batch)), err
		})
	})
	// The spool takes what is queued at once, not a batch at a time (a flush of 0): a message
	// reaches the operating system within moments of its arrival, so kill -9 loses next to
	// nothing, and under load the messages that come during one append make the next larger.
	for batch := range s.batches(0) {
		dropped, err := s.sp.Append(ctx, batch)
		if !s.settle(0, dropped) {
			break
		}
		if err != nil {
			s.failLog.Do(func() {
				log.Error("qwatch: cannot write to the spool; messages dropped (logged at most once a second)",
					"sink", s.name, "messages", len(batch), "err", err)
			})
		}
	}
	s.sp.Drain()
	wg.Wait()
	if err := s.sp.Close(); err != nil {
		log.Error("qwatch: closing spool", "sink", s.name, "err", err)
	}
}

// spoolStats fills in what st says of the spool, from what the spool says of itself.
func spoolStats(st *SinkStats, sst delivery.Stats) {
	st.Written = sst.Written
	st.Spooled = sst.Spooled
	st.SpooledBytes = sst.Bytes
	st.SpoolMaxBytes = sst.MaxBytes
	st.Recovered = sst.Recovered
	st.Lost = sst.Lost
	st.Retrying = sst.Retrying
	st.LastError = sst.LastError
	st.SpoolError = sst.SpoolError
}
