package qwatch

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qnib/qwatch/internal/ratelimit"
	"github.com/qnib/qwatch/message"
)

// sinkEntry is one sink with its queue and counters. Its run goroutine is the only caller of
// the sink's Write and Close.
type sinkEntry struct {
	name string
	sink Sink
	cfg  sinkConfig
	q    *queue
	sp   *spooled      // nil without a spool
	done chan struct{} // closed when run returns

	offered  atomic.Uint64
	filtered atomic.Uint64
	panics   atomic.Uint64
	dropLog  ratelimit.Limiter
	panicLog ratelimit.Limiter
	failLog  ratelimit.Limiter

	mu        sync.Mutex // guards the counters below, so abandon can settle them at once
	written   uint64
	failed    uint64
	dropped   uint64
	inflight  int
	abandoned bool
	spooledIn uint64 // messages appended to the spool
}

// offer hands m to the sink's queue. It returns false if a Block queue was given up on.
func (s *sinkEntry) offer(m *message.Message, size int, stop, cancel <-chan struct{}, log *slog.Logger) bool {
	if s.cfg.filter != nil {
		keep, panicked := s.keep(m, log)
		if panicked {
			// Offered, and failed: the sink's own filter lost it, not the overflow policy.
			s.offered.Add(1)
			s.mu.Lock()
			s.failed++
			s.mu.Unlock()
			return true
		}
		if !keep {
			s.filtered.Add(1)
			return true
		}
	}
	s.offered.Add(1)
	queued, dropped := s.q.put(m, size, s.cfg.overflow, stop, cancel)
	if dropped == 0 {
		return true
	}
	s.mu.Lock()
	s.dropped += uint64(dropped)
	total := s.dropped
	s.mu.Unlock()
	if s.dropLog.Allow() {
		log.Warn("qwatch: sink queue full; messages dropped", "sink", s.name,
			"overflow", s.cfg.overflow.String(), "dropped_total", total)
	}
	return queued || s.cfg.overflow != Block
}

// keep runs the sink's filter on m, recovering a panic in it.
func (s *sinkEntry) keep(m *message.Message, log *slog.Logger) (keep, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			keep, panicked = false, true
			s.recovered(log, "filter", r)
		}
	}()
	return s.cfg.filter(m), false
}

// recovered counts and logs, at most once a second, a panic in the sink or its filter.
func (s *sinkEntry) recovered(log *slog.Logger, where string, r any) {
	n := s.panics.Add(1)
	if s.panicLog.Allow() {
		log.Error("qwatch: sink panicked; recovered", "sink", s.name, "in", where, "panic", r,
			"panics_total", n, "stack", string(debug.Stack()))
	}
}

// write calls the sink's Write, turning a panic into an error.
func (s *sinkEntry) write(ctx context.Context, batch []message.Message, log *slog.Logger) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.recovered(log, "Write", r)
			err = fmt.Errorf("qwatch: sink %q panicked in Write: %v", s.name, r)
		}
	}()
	return s.sink.Write(ctx, batch)
}

// close calls the sink's Close, turning a panic into an error.
func (s *sinkEntry) close(ctx context.Context, log *slog.Logger) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.recovered(log, "Close", r)
			err = fmt.Errorf("qwatch: sink %q panicked in Close: %v", s.name, r)
		}
	}()
	return s.sink.Close(ctx)
}

// run hands the queue to the sink in batches until the queue is closed and empty, then
// closes the sink.
func (s *sinkEntry) run(ctx context.Context, log *slog.Logger) {
	defer close(s.done)
	defer func() {
		if err := s.close(ctx, log); err != nil {
			log.Error("qwatch: closing sink", "sink", s.name, "err", err)
		}
	}()
	if s.sp != nil {
		s.runSpooled(ctx, log)
		return
	}
	batch := make([]message.Message, 0, s.cfg.batchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		if !s.fill(timer) {
			return
		}
		s.mu.Lock()
		if s.abandoned {
			s.mu.Unlock()
			return
		}
		batch = s.q.take(batch[:0], s.cfg.batchSize, s.cfg.batchBytes)
		s.inflight = len(batch)
		s.mu.Unlock()

		err := s.write(ctx, batch, log)
		clear(batch) // the queue's copies are gone; drop these references too
		failed := 0
		if err != nil {
			failed = unwrittenCount(err, len(batch))
		}

		s.mu.Lock()
		if s.abandoned {
			s.mu.Unlock()
			return
		}
		s.failed += uint64(failed)
		s.written += uint64(s.inflight - failed)
		s.inflight = 0
		s.mu.Unlock()
		if err != nil && s.failLog.Allow() {
			log.Error("qwatch: sink write failed (logged at most once a second)", "sink", s.name,
				"messages", len(batch), "failed", failed, "err", err)
		}
	}
}

// fill waits until a batch is worth handing over: a full batch, a partial one whose flush
// interval has passed, or whatever is left once the queue is closed. It returns false when the
// queue is closed and empty.
func (s *sinkEntry) fill(timer *time.Timer) bool {
	var deadline time.Time
	for {
		n, bytes, closed := s.q.state()
		switch {
		case n == 0 && closed:
			return false
		case n == 0:
			<-s.q.ready
			continue
		case n >= s.cfg.batchSize || closed || s.cfg.flush == 0 || bytes >= int64(s.cfg.batchBytes):
			return true
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(s.cfg.flush)
		}
		if !now.Before(deadline) {
			return true
		}
		timer.Reset(deadline.Sub(now))
		select {
		case <-s.q.ready:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// settled counts the messages offered that are done with as far as the queue is concerned:
// written, failed or dropped, or, with a spool, appended to it.
func (s *sinkEntry) settled() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sp != nil {
		return s.spooledIn + s.failed + s.dropped
	}
	return s.written + s.failed + s.dropped
}

// abandon settles the counters of a sink that did not finish in time: what it is writing is
// failed, what it still queues is dropped. It reports whether the sink was still busy.
func (s *sinkEntry) abandon() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
	}
	s.abandoned = true
	if s.sp != nil {
		s.dropped += uint64(s.inflight) // on its way into the spool: not there
	} else {
		s.failed += uint64(s.inflight)
	}
	s.inflight = 0
	s.dropped += uint64(s.q.discard())
	return true
}

func (s *sinkEntry) stats() SinkStats {
	queued, queuedBytes, _ := s.q.state()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SinkStats{
		Offered:     s.offered.Load(),
		Written:     s.written,
		Failed:      s.failed,
		Dropped:     s.dropped,
		Filtered:    s.filtered.Load(),
		Panics:      s.panics.Load(),
		Queued:      queued,
		QueuedBytes: queuedBytes,
	}
	s.spoolStats(&st)
	return st
}
