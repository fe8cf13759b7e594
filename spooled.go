package qwatch

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

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

// spooled is the spool of a sink, with what the Hub counts of it.
type spooled struct {
	sp       *spool.Spool
	maxBytes int64

	mu             sync.Mutex
	pendingWritten int // of the batch being delivered, the messages written but not acked yet
	decodeLost     uint64
	retrying       bool
	lastErr        string
	spoolErr       string
	spoolErrAt     time.Time // when an append last failed
}

// spoolErrHold is how long SpoolError stays set after an append failed. A failed append leaves
// its space free, so on a disk that is full but for a little, small appends succeed between
// failed ones; the error must not flap between them.
const spoolErrHold = 5 * time.Second

func openSpool(cfg *SpoolConfig) (*spooled, error) {
	if cfg.Dir == "" {
		return nil, errors.New("spool: no directory")
	}
	sp, err := spool.Open(spool.Config{Dir: cfg.Dir, MaxBytes: cfg.MaxBytes, SegmentBytes: cfg.SegmentBytes,
		Sync: spool.Sync(cfg.Sync), SyncInterval: cfg.SyncInterval})
	if err != nil {
		return nil, err
	}
	maxBytes := cfg.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultSpoolMaxBytes
	}
	return &spooled{sp: sp, maxBytes: maxBytes}, nil
}

// runSpooled is run for a sink with a spool: this goroutine moves the queue into the spool,
// a second delivers the spool to the sink. At shutdown the queue is drained into the spool;
// delivery goes on until the spool is empty or the shutdown deadline cancels ctx.
func (s *sinkEntry) runSpooled(ctx context.Context, log *slog.Logger) {
	fed, stopFeed := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.deliver(ctx, fed, log) })
	s.feed(ctx, log)
	stopFeed()
	wg.Wait()
	if err := s.sp.sp.Close(); err != nil {
		log.Error("qwatch: closing spool", "sink", s.name, "err", err)
	}
}

// feed appends the queue to the spool in batches until the queue is closed and empty.
func (s *sinkEntry) feed(ctx context.Context, log *slog.Logger) {
	batch := make([]message.Message, 0, s.cfg.batchSize)
	var recs [][]byte
	for s.waitQueued() {
		s.mu.Lock()
		if s.abandoned {
			s.mu.Unlock()
			return
		}
		batch = s.q.take(batch[:0], s.cfg.batchSize, s.cfg.batchBytes)
		s.inflight = len(batch)
		s.mu.Unlock()
		recs = recs[:0]
		for i := range batch {
			recs = append(recs, appendMessage(nil, &batch[i]))
		}
		clear(batch)
		dropped, err := s.append(ctx, recs)
		s.mu.Lock()
		s.dropped += uint64(dropped)
		s.spooledIn += uint64(len(recs) - dropped)
		s.inflight = 0
		s.mu.Unlock()
		s.sp.mu.Lock()
		switch {
		case err != nil:
			s.sp.spoolErr, s.sp.spoolErrAt = err.Error(), time.Now()
		case time.Since(s.sp.spoolErrAt) >= spoolErrHold:
			s.sp.spoolErr = ""
		}
		s.sp.mu.Unlock()
		if err != nil && s.failLog.Allow() {
			log.Error("qwatch: cannot write to the spool; messages dropped (logged at most once a second)",
				"sink", s.name, "messages", len(recs), "err", err)
		}
	}
}

// waitQueued waits until the queue holds a message, and reports false once it is closed and
// empty. The spool takes what is queued at once, not a batch at a time: a message reaches the
// operating system within moments of its arrival, so kill -9 loses next to nothing, and under
// load the messages that come during one append make the next one larger.
func (s *sinkEntry) waitQueued() bool {
	for {
		n, _, closed := s.q.state()
		switch {
		case n > 0:
			return true
		case closed:
			return false
		}
		<-s.q.ready
	}
}

// append puts recs into the spool, applying the overflow policy when it is full. It returns
// how many messages it dropped, and the disk error that made it drop them, if any.
func (s *sinkEntry) append(ctx context.Context, recs [][]byte) (dropped int, err error) {
	for {
		err := s.sp.sp.Append(recs...)
		switch {
		case err == nil:
			return dropped, nil
		case !errors.Is(err, spool.ErrFull):
			return dropped + len(recs), err
		case s.cfg.overflow == DropOldest:
			n, derr := s.sp.sp.DropOldest()
			if derr != nil || n == 0 {
				return dropped + len(recs), derr
			}
			dropped += n
		case s.cfg.overflow == DropNewest:
			return dropped + len(recs), nil
		default: // Block: wait for delivery to make room
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return dropped + len(recs), nil
			}
		}
	}
}

// deliver reads the spool and writes it to the sink until fed is done and the spool has no
// more, or ctx is.
func (s *sinkEntry) deliver(ctx context.Context, fed context.Context, log *slog.Logger) {
	for ctx.Err() == nil {
		readCtx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(fed, cancel)
		recs, err := s.sp.sp.Read(readCtx, s.cfg.batchSize, s.cfg.batchBytes)
		stop()
		cancel()
		if len(recs) == 0 {
			if err != nil && fed.Err() == nil && ctx.Err() == nil {
				log.Error("qwatch: reading the spool", "sink", s.name, "err", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			return // fed and empty, or shut down
		}
		if !s.deliverBatch(ctx, recs, log) {
			return
		}
	}
}

// deliverBatch writes recs to the sink, retrying what is not written, and acknowledges them.
// It returns false if ctx ended first: the rest stays on disk.
func (s *sinkEntry) deliverBatch(ctx context.Context, recs []spool.Record, log *slog.Logger) bool {
	batch := make([]message.Message, 0, len(recs))
	for _, r := range recs {
		m, err := decodeMessage(r.Data)
		if err != nil {
			s.sp.mu.Lock()
			s.sp.decodeLost++
			s.sp.mu.Unlock()
			continue
		}
		batch = append(batch, m)
	}
	backoff := 100 * time.Millisecond
	for len(batch) > 0 {
		err := s.write(ctx, batch, log)
		rest := batch[:0:0]
		if err != nil {
			rest = unwrittenOf(err, batch)
		}
		s.mu.Lock()
		s.written += uint64(len(batch) - len(rest))
		s.mu.Unlock()
		s.sp.mu.Lock()
		s.sp.pendingWritten += len(batch) - len(rest)
		s.sp.retrying = err != nil
		if err != nil {
			s.sp.lastErr = err.Error()
		}
		s.sp.mu.Unlock()
		if err == nil {
			break
		}
		if s.failLog.Allow() {
			log.Error("qwatch: sink write failed; retrying from the spool (logged at most once a second)",
				"sink", s.name, "messages", len(rest), "in", backoff, "err", err)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))):
		}
		backoff = min(2*backoff, 5*time.Second)
		batch = rest
	}
	if err := s.sp.sp.Ack(recs[len(recs)-1].Seq); err != nil {
		log.Error("qwatch: acknowledging spooled messages", "sink", s.name, "err", err)
	}
	s.sp.mu.Lock()
	s.sp.pendingWritten = 0
	s.sp.mu.Unlock()
	return true
}

// unwrittenOf returns the messages of batch that err says were not written: all of them for
// an error that does not say.
func unwrittenOf(err error, batch []message.Message) []message.Message {
	var p interface{ Unwritten() []int }
	if !errors.As(err, &p) {
		return batch
	}
	seen := make(map[int]bool)
	var rest []message.Message
	for _, i := range p.Unwritten() {
		if i >= 0 && i < len(batch) && !seen[i] {
			seen[i] = true
			rest = append(rest, batch[i])
		}
	}
	return rest
}

// spoolStats fills in what the spool holds.
func (s *sinkEntry) spoolStats(st *SinkStats) {
	if s.sp == nil {
		return
	}
	sst := s.sp.sp.Stats()
	s.sp.mu.Lock()
	defer s.sp.mu.Unlock()
	st.Spooled = uint64(sst.Messages) - uint64(s.sp.pendingWritten)
	st.SpooledBytes = sst.Bytes
	st.SpoolMaxBytes = s.sp.maxBytes
	st.Recovered = uint64(sst.Recovered)
	st.Lost = sst.Lost + s.sp.decodeLost
	st.Retrying = s.sp.retrying
	st.LastError = s.sp.lastErr
	st.SpoolError = s.sp.spoolErr
	if !st.Retrying {
		st.LastError = ""
	}
}
