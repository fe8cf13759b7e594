package qwatch

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/qnib/qwatch/internal/delivery"
	"github.com/qnib/qwatch/message"
)

// sinkEntry is one sink with its queue and counters. Its run goroutine is the only caller of
// the sink's Write and Close.
type sinkEntry struct {
	name string
	sink Sink
	cfg  sinkConfig
	q    *queue
	sp   *delivery.Spool // nil without a spool
	done chan struct{}   // closed when run returns

	offered  atomic.Uint64
	filtered atomic.Uint64
	panics   atomic.Uint64
	dropLog  rate.Sometimes
	panicLog rate.Sometimes
	failLog  rate.Sometimes

	mu        sync.Mutex // guards the counters below, so abandon can settle them at once
	written   uint64     // without a spool: handled by Write (with one, the spool counts them)
	spooledIn uint64     // with a spool: appended to it
	failed    uint64
	dropped   uint64
	inflight  int // messages taken from the queue and not yet settled
	abandoned bool
}

func newSinkEntry(name string, s Sink, cfg sinkConfig) *sinkEntry {
	return &sinkEntry{
		name:     name,
		sink:     s,
		cfg:      cfg,
		q:        newQueue(cfg.queueSize, cfg.batchSize, cfg.queueBytes, cfg.overflow),
		done:     make(chan struct{}),
		dropLog:  rate.Sometimes{Interval: logInterval},
		panicLog: rate.Sometimes{Interval: logInterval},
		failLog:  rate.Sometimes{Interval: logInterval},
	}
}

// offer hands msgs, whose sizes are sizes, to the sink's queue, through its filter if it has
// one. It returns false if a Block queue was given up on.
func (s *sinkEntry) offer(msgs []message.Message, sizes []int, stop, cancel <-chan struct{}, log *slog.Logger) bool {
	if s.cfg.filter == nil {
		s.offered.Add(uint64(len(msgs)))
		return s.put(msgs, sizes, stop, cancel, log)
	}
	ok := true
	for i := range msgs {
		keep, panicked := s.keep(&msgs[i], log)
		switch {
		case panicked:
			// Offered, and failed: the sink's own filter lost it, not the overflow policy.
			s.offered.Add(1)
			s.mu.Lock()
			s.failed++
			s.mu.Unlock()
		case !keep:
			s.filtered.Add(1)
		default:
			s.offered.Add(1)
			if !s.put(msgs[i:i+1], sizes[i:i+1], stop, cancel, log) {
				ok = false
			}
		}
	}
	return ok
}

// put queues msgs and counts what the overflow policy dropped. It returns false if a Block
// queue was given up on.
func (s *sinkEntry) put(msgs []message.Message, sizes []int, stop, cancel <-chan struct{}, log *slog.Logger) bool {
	gaveUp, dropped := s.q.put(msgs, sizes, s.cfg.overflow, stop, cancel)
	if dropped == 0 {
		return true
	}
	s.mu.Lock()
	s.dropped += uint64(dropped)
	total := s.dropped
	s.mu.Unlock()
	s.dropLog.Do(func() {
		log.Warn("qwatch: sink queue full; messages dropped", "sink", s.name,
			"overflow", s.cfg.overflow.String(), "dropped_total", total)
	})
	return !gaveUp
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
	s.panicLog.Do(func() {
		log.Error("qwatch: sink panicked; recovered", "sink", s.name, "in", where, "panic", r,
			"panics_total", n, "stack", string(debug.Stack()))
	})
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

// run hands the queue to the sink in batches, through the spool if the sink has one, until
// the queue is closed and empty; then it closes the sink.
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
	for batch := range s.batches(s.cfg.flush) {
		err := s.write(ctx, batch, log)
		failed := len(unwritten(err, len(batch)))
		if !s.settle(failed, 0) {
			return
		}
		if err != nil {
			s.failLog.Do(func() {
				log.Error("qwatch: sink write failed (logged at most once a second)", "sink", s.name,
					"messages", len(batch), "failed", failed, "err", err)
			})
		}
	}
}

// batches is the one way messages leave a sink's queue. It yields batches of at most the
// batch size and batch bytes (but for a batch's first message) until the queue is closed and
// empty, or abandon gave up on the sink. A batch is handed on once it is full, once flush has
// passed since a partial one began to wait (at once for a flush of 0), and at once after the
// queue closed. From the moment it is taken the batch is in flight: the loop's body must
// count what became of it with settle before it takes the next. The batch lies in the queue's
// ring: it is valid only until the loop's body returns.
func (s *sinkEntry) batches(flush time.Duration) iter.Seq[[]message.Message] {
	return func(yield func([]message.Message) bool) {
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for s.fill(flush, timer) {
			s.mu.Lock()
			if s.abandoned {
				s.mu.Unlock()
				return
			}
			batch := s.q.take(s.cfg.batchSize, s.cfg.batchBytes)
			s.inflight = len(batch)
			s.mu.Unlock()
			more := yield(batch)
			clear(batch) // as take asks, so the collector can have what the sink is done with
			if !more {
				return
			}
		}
	}
}

// settle counts the batch in flight: failed of its messages failed, dropped were dropped, and
// the rest passed on, written by Write or appended to the spool. It returns false, counting
// nothing, if abandon settled the batch first.
func (s *sinkEntry) settle(failed, dropped int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.abandoned {
		return false
	}
	// A spool that drops its oldest messages to make room can drop more than the batch: the
	// older ones passed into it before and now move from spooledIn to dropped. passed is then
	// negative, and the unsigned sum wraps to the right count.
	passed := uint64(s.inflight - failed - dropped)
	if s.sp != nil {
		s.spooledIn += passed
	} else {
		s.written += passed
	}
	s.failed += uint64(failed)
	s.dropped += uint64(dropped)
	s.inflight = 0
	return true
}

// fill waits until a batch is worth handing over: a full batch, a partial one whose flush
// interval has passed, or whatever is left once the queue is closed. It returns false when the
// queue is closed and empty.
func (s *sinkEntry) fill(flush time.Duration, timer *time.Timer) bool {
	var deadline time.Time
	for {
		n, bytes, closed := s.q.state()
		switch {
		case n == 0 && closed:
			return false
		case n == 0:
			if !s.q.await(1, math.MaxInt64) {
				<-s.q.ready
			}
			continue
		case n >= s.cfg.batchSize || closed || flush == 0 || bytes >= s.cfg.batchBytes:
			return true
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(flush)
		}
		if !now.Before(deadline) {
			return true
		}
		if s.q.await(s.cfg.batchSize, s.cfg.batchBytes) {
			continue // filled since state looked
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
	s.mu.Unlock()
	if s.sp != nil {
		spoolStats(&st, s.sp.Stats())
	}
	return st
}
