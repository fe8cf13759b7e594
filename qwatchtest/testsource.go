package qwatchtest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
)

// SourceKit tells [TestSource] how to make and drive one kind of source.
type SourceKit struct {
	// New returns a new source, ready to run: sockets bound, as a constructor should. It is
	// called once for each check. Required.
	New func(t *testing.T) qwatch.Source
	// Feed makes the source the latest New call returned produce at least n messages while
	// its Run runs: it sends n datagrams, say, or creates n volumes on an engine. Feed must
	// not wait for the messages to be emitted. Nil for a source that emits by itself, such as
	// a replay; the checks then wait for n messages of its own.
	Feed func(t *testing.T, n int)
	// NewInvalid, when set, calls the source's constructor with settings that cannot work,
	// such as an address already in use, and returns its error. TestSource checks that the
	// error is not nil and that the failed constructor left no goroutine behind.
	NewInvalid func(t *testing.T) error
	// Wait bounds each wait for the source: for what Feed asked for to be emitted, and for
	// Run to return after its context is cancelled. Zero means 10 seconds, generous for a
	// loaded CI machine or a real engine.
	Wait time.Duration
}

// TestSource checks that the sources kit makes keep the [qwatch.Source] contract, and reports
// every violation it finds as a failed subtest, in the spirit of testing/slogtest.
//
// Each check runs in its own subtest with a new source:
//   - what Feed asks for is emitted;
//   - Run returns nil soon after its context is cancelled, and soon when it is cancelled
//     before Run starts;
//   - emit is never called after Run has returned, and no call is still running then;
//   - emit may block for a while (backpressure, as a Hub with full queues does) without the
//     source losing what it was fed meanwhile;
//   - a constructor given settings that cannot work returns an error (when NewInvalid is set);
//   - no goroutine the source started outlives Run (and the cleanups New registered).
//
// A source that is also a [qwatch.BatchSource] is run by the Hub through RunBatch, so the
// checks run again through RunBatch, as subtests of "RunBatch": its emit takes batches, each
// message counted as Run's emit counts it.
func TestSource(t *testing.T, kit SourceKit) {
	t.Helper()
	if kit.New == nil {
		t.Fatal("qwatchtest.TestSource: SourceKit.New is nil")
	}
	wait := kit.Wait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	feed := func(t *testing.T, n int) {
		t.Helper()
		if kit.Feed != nil {
			kit.Feed(t, n)
		}
	}
	checks := []struct {
		name  string
		check func(t *testing.T, src qwatch.Source)
	}{
		{"EmitsWhatItIsFed", func(t *testing.T, src qwatch.Source) {
			r := startSource(t, wait, src, nil)
			feed(t, 20)
			if _, err := r.c.WaitFor(20, wait); err != nil {
				t.Errorf("fed 20 messages: %v", err)
			}
			r.stop(t)
		}},
		{"ReturnsNilAfterCancel", func(t *testing.T, src qwatch.Source) {
			r := startSource(t, wait, src, nil)
			feed(t, 5)
			if _, err := r.c.WaitFor(1, wait); err != nil {
				t.Errorf("fed 5 messages: %v", err)
			}
			r.stop(t)
		}},
		{"CancelledBeforeRun", func(t *testing.T, src qwatch.Source) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var c Collector
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx, c.Emit) }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run with a cancelled context = %v, want nil", err)
				}
			case <-time.After(wait):
				t.Fatalf("Run with a cancelled context did not return within %v", wait)
			}
		}},
		{"NoEmitAfterReturn", func(t *testing.T, src qwatch.Source) {
			before := goleak.IgnoreCurrent()
			// A slow emit makes it likely that a source which does not wait for its own
			// goroutines is still inside, or about to call, emit when Run returns.
			r := startSource(t, wait, src, func(message.Message) { time.Sleep(20 * time.Millisecond) })
			feed(t, 50)
			if _, err := r.c.WaitFor(3, wait); err != nil {
				t.Errorf("fed 50 messages: %v", err)
			}
			r.stop(t)
			// A stray emit can come only from a goroutine the source left running: wait until
			// they are all gone, or until goleak gives up on them (the leak check then fails
			// the test for them too).
			_ = goleak.Find(before)
			if n := r.late.Load(); n > 0 {
				t.Errorf("emit was called %d time(s) after Run returned", n)
			}
			if n := r.inflightAtReturn.Load(); n > 0 {
				t.Errorf("%d emit call(s) were still running when Run returned", n)
			}
		}},
		{"BackpressureLosesNothing", func(t *testing.T, src qwatch.Source) {
			release := make(chan struct{})
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			t.Cleanup(free)
			r := startSource(t, wait, src, func(message.Message) { <-release })
			const n = 100
			feed(t, n)
			// Emit stays blocked for a while after the feed, long enough for a source that
			// buffers what it cannot hand on to overflow, and lose it.
			time.Sleep(2 * time.Second)
			free()
			if _, err := r.c.WaitFor(n, wait); err != nil {
				t.Errorf("fed %d messages while emit was blocked for 2s: %v", n, err)
			}
			r.stop(t)
		}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			watchLeaks(t, "after Run returned")
			c.check(t, runOnly{kit.New(t)})
		})
	}
	// A source of its own tells whether the kit makes batch sources (it is never run).
	if _, batches := kit.New(t).(qwatch.BatchSource); batches {
		t.Run("RunBatch", func(t *testing.T) {
			for _, c := range checks {
				t.Run(c.name, func(t *testing.T) {
					watchLeaks(t, "after RunBatch returned")
					src, ok := kit.New(t).(qwatch.BatchSource)
					if !ok {
						t.Fatal("SourceKit.New returned a BatchSource once and a plain Source now")
					}
					c.check(t, batchAsRun{src})
				})
			}
		})
	}
	if kit.NewInvalid != nil {
		t.Run("InvalidSettingsFailInConstructor", func(t *testing.T) {
			watchLeaks(t, "after the constructor failed")
			if err := kit.NewInvalid(t); err == nil {
				t.Errorf("constructor with settings that cannot work returned no error")
			}
		})
	}
}

// runOnly hides every method of a source but Run, so the checks call Run even on a
// BatchSource.
type runOnly struct{ src qwatch.Source }

func (r runOnly) Run(ctx context.Context, emit func(message.Message)) error {
	return r.src.Run(ctx, emit)
}

// batchAsRun runs a BatchSource through RunBatch, handing each message of a batch to Run's
// emit in order, so that every check reads the same for both.
type batchAsRun struct{ src qwatch.BatchSource }

func (b batchAsRun) Run(ctx context.Context, emit func(message.Message)) error {
	return b.src.RunBatch(ctx, func(batch []message.Message) {
		for _, m := range batch {
			emit(m)
		}
	})
}

// watchLeaks fails t if goroutines started during the test are still running once it and the
// cleanups it registers later are done.
func watchLeaks(t *testing.T, when string) {
	before := goleak.IgnoreCurrent()
	// Registered first, so it runs after the cleanups registered later.
	t.Cleanup(func() {
		if err := goleak.Find(before); err != nil {
			t.Errorf("goroutines left behind %s: %v", when, err)
		}
	})
}

// runningSource is a source under test running with a Collector as its emit, watching for
// emit calls that break the contract.
type runningSource struct {
	c      Collector
	wait   time.Duration
	cancel context.CancelFunc
	done   chan error

	returned         atomic.Bool
	inflight         atomic.Int64
	inflightAtReturn atomic.Int64
	late             atomic.Int64
}

func startSource(t *testing.T, wait time.Duration, src qwatch.Source, onEmit func(message.Message)) *runningSource {
	t.Helper()
	r := &runningSource{wait: wait, done: make(chan error, 1)}
	r.c.OnEmit = onEmit
	emit := func(m message.Message) {
		if r.returned.Load() {
			r.late.Add(1)
			return
		}
		r.inflight.Add(1)
		defer r.inflight.Add(-1)
		r.c.Emit(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		err := src.Run(ctx, emit)
		r.inflightAtReturn.Store(r.inflight.Load())
		r.returned.Store(true)
		r.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(wait):
		}
	})
	return r
}

// stop cancels Run's context and checks that Run returns nil in time.
func (r *runningSource) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run after its context was cancelled = %v, want nil", err)
		}
		r.done <- err // for the cleanup
	case <-time.After(r.wait):
		t.Fatalf("Run did not return within %v of its context being cancelled", r.wait)
	}
}
