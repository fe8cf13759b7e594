package qwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/qnib/qwatch/message"
)

// ErrClosed is returned by Publish once the Hub's Run has shut down, and by Run when it is
// called a second time.
var ErrClosed = errors.New("qwatch: hub closed")

// Hub connects sources to sinks. Every message a source emits, or the program publishes, gets
// an ID, runs through the processors, and is offered to every sink: each sink has its own
// bounded queue and its own goroutine, so a slow sink delays only itself (unless its overflow
// policy is Block, which passes its backpressure to the sources).
//
// A Hub runs once. Add sources, sinks and processors, then call Run; Stats may be called at any
// time, and Publish from any goroutine.
type Hub struct {
	log             *slog.Logger
	shutdownTimeout time.Duration

	mu      sync.Mutex // guards started and the slices' growth
	started bool
	sources []*sourceEntry

	// pubMu is held for reading while a message is dispatched, and for writing when the set
	// of sinks changes or the Hub closes, so no message is offered to a closed queue.
	pubMu  sync.RWMutex
	closed bool
	sinks  []*sinkEntry

	procs       atomic.Pointer[[]Processor]
	published   atomic.Uint64
	procDropped atomic.Uint64
	procPanics  atomic.Uint64
	panicLog    rate.Sometimes

	// stop is closed when the shutdown timeout has passed: every wait gives up.
	stop     chan struct{}
	stopOnce sync.Once
}

type sourceEntry struct {
	name    string
	src     Source
	emitted atomic.Uint64
	late    atomic.Uint64
	lateLog rate.Sometimes
}

// logInterval is how often at most a repeated report (a drop, a failure, a panic) is logged,
// so that a flood of them does not flood the log.
const logInterval = time.Second

// NewHub returns a Hub with no sources and no sinks. It starts nothing.
func NewHub(opts ...Option) *Hub {
	h := &Hub{
		log:             slog.Default(),
		shutdownTimeout: DefaultShutdownTimeout,
		panicLog:        rate.Sometimes{Interval: logInterval},
		stop:            make(chan struct{}),
	}
	h.procs.Store(new([]Processor))
	for _, o := range opts {
		o(h)
	}
	return h
}

// AddSource adds a source under a unique name, which the Hub writes into the Source field of
// each message the source emits without one. It is an error to add a source after Run started.
func (h *Hub) AddSource(name string, s Source) error {
	if s == nil {
		return fmt.Errorf("qwatch: adding source %q: nil source", name)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return fmt.Errorf("qwatch: adding source %q: hub already running", name)
	}
	for _, e := range h.sources {
		if e.name == name {
			return fmt.Errorf("qwatch: adding source %q: name already in use", name)
		}
	}
	h.sources = append(h.sources, &sourceEntry{name: name, src: s, lateLog: rate.Sometimes{Interval: logInterval}})
	return nil
}

// AddSink adds a sink under a unique name with its own queue, configured by opts. It is an
// error to add a sink after Run started, or with invalid options.
func (h *Hub) AddSink(name string, s Sink, opts ...SinkOption) error {
	if s == nil {
		return fmt.Errorf("qwatch: adding sink %q: nil sink", name)
	}
	cfg, err := newSinkConfig(opts)
	if err != nil {
		return fmt.Errorf("qwatch: adding sink %q: %w", name, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return fmt.Errorf("qwatch: adding sink %q: hub already running", name)
	}
	h.pubMu.Lock()
	defer h.pubMu.Unlock()
	for _, e := range h.sinks {
		if e.name == name {
			return fmt.Errorf("qwatch: adding sink %q: name already in use", name)
		}
	}
	e := newSinkEntry(name, s, cfg)
	if cfg.spool != nil {
		// Opened here, so that a spool that cannot be used is an error before Run.
		sp, err := openSpool(name, cfg, h.log)
		if err != nil {
			return fmt.Errorf("qwatch: adding sink %q: %w", name, err)
		}
		e.sp = sp
	}
	h.sinks = append(h.sinks, e)
	return nil
}

// Use appends processors; they run on every message dispatched after Use returns.
func (h *Hub) Use(p ...Processor) {
	for {
		old := h.procs.Load()
		next := append(append(make([]Processor, 0, len(*old)+len(p)), *old...), p...)
		if h.procs.CompareAndSwap(old, &next) {
			return
		}
	}
}

// Publish hands a message from the embedding program to the Hub, as a source's emit does.
// It may be called before Run starts (the message waits in the sinks' queues) and returns
// ErrClosed once Run has shut down. With a Block sink whose queue is full it waits for room
// until ctx is done, and then returns ctx's error; the message is counted as dropped for
// the sinks it could not reach.
func (h *Hub) Publish(ctx context.Context, m message.Message) error {
	return h.PublishBatch(ctx, []message.Message{m})
}

// PublishBatch hands several messages to the Hub at once, in order, as that many calls of
// Publish would, for less: each sink's queue is locked, and its goroutine woken, once for the
// batch rather than once a message. The Hub does not keep msgs, and does not change them. It
// returns ErrClosed, having published none, once Run has shut down; with a Block sink whose
// queue is full it waits for room until ctx is done, and then returns ctx's error, the
// messages that could not be queued counted as dropped for the sinks they did not reach.
func (h *Hub) PublishBatch(ctx context.Context, msgs []message.Message) error {
	gaveUp, err := h.dispatch(ctx.Done(), "", msgs)
	if err != nil {
		return err
	}
	h.published.Add(uint64(len(msgs)))
	if gaveUp {
		return fmt.Errorf("qwatch: publishing to a full queue: %w", context.Cause(ctx))
	}
	return nil
}

// batch is the copy of the messages being dispatched, which processors may change, with their
// sizes; pooled, because a message handed to a func value would otherwise escape to the heap,
// one allocation per message.
type batch struct {
	msgs  []message.Message
	sizes []int
}

var scratch = sync.Pool{New: func() any { return new(batch) }}

// dispatch stamps, processes and offers msgs to every sink; source names those without a
// Source. It reports whether a Block queue was given up on because cancel or the shutdown
// deadline came first.
func (h *Hub) dispatch(cancel <-chan struct{}, source string, msgs []message.Message) (gaveUp bool, err error) {
	h.pubMu.RLock()
	defer h.pubMu.RUnlock()
	if h.closed {
		return false, ErrClosed
	}
	b := scratch.Get().(*batch)
	defer func() {
		clear(b.msgs)
		b.msgs, b.sizes = b.msgs[:0], b.sizes[:0]
		scratch.Put(b)
	}()
	for _, msg := range msgs {
		b.msgs = append(b.msgs, msg)
		m := &b.msgs[len(b.msgs)-1]
		if m.Source == "" {
			m.Source = source
		}
		if m.ID == "" {
			m.ID = message.NewID()
		}
		if m.Time.IsZero() {
			m.Time = time.Now()
		}
		if !h.process(m) {
			*m = message.Message{}
			b.msgs = b.msgs[:len(b.msgs)-1]
			continue
		}
		b.sizes = append(b.sizes, m.Size())
	}
	if len(b.msgs) == 0 {
		return false, nil
	}
	for _, s := range h.sinks {
		if !s.offer(b.msgs, b.sizes, h.stop, cancel, h.log) {
			gaveUp = true
		}
	}
	return gaveUp, nil
}

// process runs the processors on m and reports whether to keep it. A processor that panics
// drops the message, which is counted in Stats.ProcessorPanics.
func (h *Hub) process(m *message.Message) (keep bool) {
	defer func() {
		if r := recover(); r != nil {
			keep = false
			n := h.procPanics.Add(1)
			h.panicLog.Do(func() {
				h.log.Error("qwatch: processor panicked; message dropped", "panic", r,
					"panics_total", n, "stack", string(debug.Stack()))
			})
		}
	}()
	for _, p := range *h.procs.Load() {
		if !p(m) {
			h.procDropped.Add(1)
			return false
		}
	}
	return true
}

// emitter is the emit function of source e: one message at a time.
func (h *Hub) emitter(e *sourceEntry) func(message.Message) {
	return func(m message.Message) { h.emit(e, []message.Message{m}) }
}

// batchEmitter is the emit function of a BatchSource e.
func (h *Hub) batchEmitter(e *sourceEntry) func([]message.Message) {
	return func(msgs []message.Message) { h.emit(e, msgs) }
}

// emit dispatches what source e emitted, and counts it.
func (h *Hub) emit(e *sourceEntry, msgs []message.Message) {
	if _, err := h.dispatch(nil, e.name, msgs); err != nil {
		n := e.late.Add(uint64(len(msgs)))
		e.lateLog.Do(func() {
			h.log.Error("qwatch: source emitted after the hub closed; messages discarded",
				"source", e.name, "discarded", n)
		})
		return
	}
	e.emitted.Add(uint64(len(msgs)))
}

// Run starts every sink's queue, then every source, and blocks until ctx is done or a source
// fails. Then it shuts down within the shutdown timeout: it stops the sources, lets each queue
// drain into its sink, and closes the sinks. It returns nil after a clean shutdown; an error
// that names the sources that failed and the parts that did not finish in time otherwise. A
// sink still busy when the timeout passes is left behind: its queued messages are counted as
// dropped and the batch it holds as failed, so Stats add up the moment Run returns.
// Run returns ErrClosed if the Hub has run before.
func (h *Hub) Run(ctx context.Context) error {
	sources, sinks, err := h.begin()
	if err != nil {
		return err
	}
	// Writes outlive ctx: the queues drain into the sinks after it is done, until the
	// shutdown timeout cancels writeCtx.
	writeCtx, cancelWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer h.abort(cancelWrites)
	for _, s := range sinks {
		go s.run(writeCtx, h.log)
	}
	srcs := h.startSources(ctx, sources)
	defer srcs.stop()
	errs := srcs.wait(srcs.ctx.Done(), h.log) // until ctx is done or a source fails
	<-srcs.ctx.Done()                         // sources that all ended well leave Publish open

	timeout := time.AfterFunc(h.shutdownTimeout, func() { h.abort(cancelWrites) })
	defer timeout.Stop()
	errs = append(errs, h.stopSources(srcs)...)
	h.closePublishing(sinks)
	errs = append(errs, h.drainSinks(sinks)...)
	return errors.Join(errs...)
}

// begin marks the Hub as running and returns its sources and sinks, or ErrClosed if it ran
// before.
func (h *Hub) begin() ([]*sourceEntry, []*sinkEntry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return nil, nil, ErrClosed
	}
	h.started = true
	return h.sources, h.sinkList(), nil
}

// runningSources is the sources of a Run, each on a goroutine of its own.
type runningSources struct {
	ctx     context.Context // the sources' context
	stop    context.CancelFunc
	results chan sourceResult
	running int // sources that have not returned
}

type sourceResult struct {
	name string
	err  error
}

// startSources runs every source under a context of its own, derived from ctx.
func (h *Hub) startSources(ctx context.Context, sources []*sourceEntry) *runningSources {
	ctx, stop := context.WithCancel(ctx)
	r := &runningSources{ctx: ctx, stop: stop, results: make(chan sourceResult, len(sources)), running: len(sources)}
	for _, e := range sources {
		go func() { r.results <- sourceResult{e.name, h.runSource(ctx, e)} }()
	}
	return r
}

// runSource runs e's source: RunBatch for a BatchSource, Run otherwise.
func (h *Hub) runSource(ctx context.Context, e *sourceEntry) error {
	if bs, ok := e.src.(BatchSource); ok {
		return bs.RunBatch(ctx, h.batchEmitter(e))
	}
	return e.src.Run(ctx, h.emitter(e))
}

// wait collects what the sources return until every one has returned or until is closed, and
// returns the errors of those that failed. A source that fails stops the others. Once they are
// told to stop, a source that returns context.Canceled has stopped cleanly.
func (r *runningSources) wait(until <-chan struct{}, log *slog.Logger) []error {
	var errs []error
	for r.running > 0 {
		select {
		case res := <-r.results:
			r.running--
			if res.err == nil || r.ctx.Err() != nil && errors.Is(res.err, context.Canceled) {
				continue
			}
			errs = append(errs, fmt.Errorf("qwatch: source %q: %w", res.name, res.err))
			log.Error("qwatch: source failed; shutting down", "source", res.name, "err", res.err)
			r.stop()
		case <-until:
			return errs
		}
	}
	return errs
}

// stopSources stops the sources and waits for them until the shutdown timeout; one still
// running then is left behind, and counted in the error.
func (h *Hub) stopSources(srcs *runningSources) []error {
	srcs.stop()
	errs := srcs.wait(h.stop, h.log)
	if srcs.running > 0 {
		errs = append(errs, fmt.Errorf("qwatch: %d source(s) still running after the shutdown timeout of %v", srcs.running, h.shutdownTimeout))
	}
	return errs
}

// closePublishing makes Publish and emit return ErrClosed from now on, once the calls in
// flight have returned (a blocked one gives up at the shutdown timeout), and closes the
// queues: what they hold still drains.
func (h *Hub) closePublishing(sinks []*sinkEntry) {
	h.pubMu.Lock()
	h.closed = true
	h.pubMu.Unlock()
	for _, s := range sinks {
		s.q.close()
	}
}

// drainSinks waits until every sink has written what its queue holds and is closed, or the
// shutdown timeout passed: a sink still busy then is abandoned and named in the errors.
func (h *Hub) drainSinks(sinks []*sinkEntry) []error {
	var errs []error
	for _, s := range sinks {
		select {
		case <-s.done:
		case <-h.stop:
			if s.abandon() {
				errs = append(errs, fmt.Errorf("qwatch: sink %q did not finish within the shutdown timeout of %v", s.name, h.shutdownTimeout))
				h.log.Error("qwatch: sink did not finish in time; its messages are counted as failed or dropped", "sink", s.name)
			}
		}
	}
	return errs
}

// abort ends what is left of the shutdown: every wait on h.stop gives up, and the sinks'
// writes are cancelled.
func (h *Hub) abort(cancelWrites context.CancelFunc) {
	h.stopOnce.Do(func() {
		close(h.stop)
		cancelWrites()
	})
}

func (h *Hub) sinkList() []*sinkEntry {
	h.pubMu.RLock()
	defer h.pubMu.RUnlock()
	return h.sinks
}

// Sync returns once every message dispatched before the call is settled in every sink:
// written, failed or dropped, or, for a sink with a spool, on disk. A source that keeps a
// read position (such as a checkpoint of the Docker logs it has read) calls Sync before it
// saves the position, so that the position never runs ahead of what is safe. It returns ctx's
// error if ctx ends first.
func (h *Hub) Sync(ctx context.Context) error {
	sinks := h.sinkList()
	targets := make([]uint64, len(sinks))
	for i, s := range sinks {
		targets[i] = s.offered.Load()
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(sinks); {
		if sinks[i].settled() >= targets[i] {
			i++
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("qwatch: sync: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// Stats is a snapshot of the Hub's counters.
type Stats struct {
	Sources          map[string]SourceStats
	Sinks            map[string]SinkStats
	Published        uint64 // messages handed in with Publish
	ProcessorDropped uint64 // messages a processor dropped by returning false
	ProcessorPanics  uint64 // messages dropped because a processor panicked on them
}

// SourceStats counts one source's messages.
type SourceStats struct {
	Emitted uint64 // messages the source emitted while the Hub ran
	Late    uint64 // messages emitted after the Hub closed, discarded
}

// SinkStats counts one sink's messages. Every message offered ends in exactly one of Written,
// Failed or Dropped, or is still Queued or being written; once Run has returned,
// Offered == Written + Failed + Dropped.
//
// With a spool (see [WithSpool]) a message may also be on disk, and what was on disk at start
// comes in besides what is offered; once Run has returned,
// Offered + Recovered == Written + Failed + Dropped + Spooled + Lost.
type SinkStats struct {
	Offered     uint64 // messages offered to the sink's queue
	Written     uint64 // handled for good by Write: all of a batch, or the part a partial error says
	Failed      uint64 // not written by a Write that returned an error, or abandoned at shutdown
	Dropped     uint64 // discarded by the overflow policy, or still queued at the shutdown timeout
	Filtered    uint64 // not offered: the sink's filter rejected them
	Panics      uint64 // panics recovered in the sink's Write, Close or filter
	Queued      int    // in the queue now
	QueuedBytes int64  // memory the queued messages hold, as message.Message.Size estimates it

	// With a spool:
	Spooled       uint64 // messages on disk, not yet written
	SpooledBytes  int64  // bytes of the spool's files
	SpoolMaxBytes int64  // the bound on those (SpoolConfig.MaxBytes, or its default)
	Recovered     uint64 // messages found on disk when the Hub started
	Lost          uint64 // messages in corrupt spool records, skipped
	Retrying      bool   // Write failed and is being retried from the spool
	LastError     string // why, while Retrying
	// SpoolError is the disk error (a full disk, say) with which the spool last refused
	// messages, while that was less than 5 s ago; empty otherwise. The 5 s keep it from
	// flapping on a disk that is full but for a little, where small appends succeed between
	// refused ones; with no refusal for 5 s it clears, whether or not messages came since.
	SpoolError string
}

// Problems lists what is wrong with the sink now, one line each; none when nothing is. Two
// things can be: the spool refuses messages (SpoolError is set), and writes fail and are
// being retried from the spool (Retrying). A health check reports a sink with problems as
// unhealthy.
func (s SinkStats) Problems() []string {
	var p []string
	if s.SpoolError != "" {
		p = append(p, "spool refuses messages: "+s.SpoolError)
	}
	if s.Retrying {
		p = append(p, "writes failing, retrying from the spool: "+s.LastError)
	}
	return p
}

// Stats returns a snapshot of the counters. It is safe to call at any time.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	sources := h.sources
	h.mu.Unlock()
	st := Stats{
		Sources:          make(map[string]SourceStats, len(sources)),
		Sinks:            make(map[string]SinkStats),
		Published:        h.published.Load(),
		ProcessorDropped: h.procDropped.Load(),
		ProcessorPanics:  h.procPanics.Load(),
	}
	for _, e := range sources {
		st.Sources[e.name] = SourceStats{Emitted: e.emitted.Load(), Late: e.late.Load()}
	}
	for _, s := range h.sinkList() {
		st.Sinks[s.name] = s.stats()
	}
	return st
}
