package qwatch_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	_ qwatch.Sink   = (*qwatchtest.Recorder)(nil)
	_ qwatch.Source = (*qwatchtest.Replay)(nil)
)

// runHub runs h in the background and returns a function that stops it and returns Run's error.
func runHub(t *testing.T, h *qwatch.Hub) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return within 30s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func numbered(n int) []message.Message {
	msgs := make([]message.Message, n)
	for i := range msgs {
		msgs[i] = message.Message{Text: fmt.Sprint(i), Level: message.LevelInfo}
	}
	return msgs
}

func texts(msgs []message.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Text
	}
	return out
}

// checkAccounting fails t unless every offered message ended in exactly one counter.
func checkAccounting(t *testing.T, st qwatch.Stats) {
	t.Helper()
	for name, s := range st.Sinks {
		if s.Offered != s.Written+s.Failed+s.Dropped || s.Queued != 0 {
			t.Errorf("sink %q: offered %d != written %d + failed %d + dropped %d (queued %d)",
				name, s.Offered, s.Written, s.Failed, s.Dropped, s.Queued)
		}
	}
}

func TestBroadcastEverySinkGetsEveryMessage(t *testing.T) {
	const n = 5000
	h := qwatch.NewHub()
	src := qwatchtest.NewReplay(numbered(n)...)
	if err := h.AddSource("replay", src); err != nil {
		t.Fatal(err)
	}
	recs := []*qwatchtest.Recorder{{}, {}, {}}
	for i, r := range recs {
		if err := h.AddSink(fmt.Sprint("rec", i), r, qwatch.WithBatch(64, time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	stop := runHub(t, h)
	for i, r := range recs {
		if _, err := r.WaitFor(n, 10*time.Second); err != nil {
			t.Fatalf("sink %d: %v", i, err)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	want := texts(numbered(n))
	var ids []string
	for i, r := range recs {
		got := r.Messages()
		if diff := cmp.Diff(want, texts(got)); diff != "" {
			t.Errorf("sink %d did not get every message once, in order (-want +got):\n%s", i, diff)
		}
		if !r.Closed() {
			t.Errorf("sink %d not closed after Run returned", i)
		}
		for j, m := range got {
			if m.Source != "replay" || m.ID == "" || m.Time.IsZero() {
				t.Fatalf("sink %d message %d: Source %q ID %q Time %v; want source name, an ID and a time", i, j, m.Source, m.ID, m.Time)
			}
			if i == 0 {
				ids = append(ids, m.ID)
			} else if m.ID != ids[j] {
				t.Fatalf("sink %d message %d has ID %q, sink 0 saw %q: sinks must share one ID", i, j, m.ID, ids[j])
			}
		}
	}
	st := h.Stats()
	checkAccounting(t, st)
	if got := st.Sources["replay"].Emitted; got != n {
		t.Errorf("Emitted = %d, want %d", got, n)
	}
	for name, s := range st.Sinks {
		if s.Written != n {
			t.Errorf("sink %s Written = %d, want %d", name, s.Written, n)
		}
	}
}

// blockingSink blocks every Write until release is closed.
func blockingSink(release <-chan struct{}) *qwatchtest.Recorder {
	return &qwatchtest.Recorder{OnWrite: func(ctx context.Context, _ []message.Message) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
}

func TestDropNewestLosesOnlyTheSlowSinksMessages(t *testing.T) {
	const n = 20000
	release := make(chan struct{})
	slow := blockingSink(release)
	fast := &qwatchtest.Recorder{}
	h := qwatch.NewHub()
	must(t, h.AddSource("replay", qwatchtest.NewReplay(numbered(n)...)))
	must(t, h.AddSink("slow", slow, qwatch.WithQueueSize(100), qwatch.WithBatch(10, 0), qwatch.WithOverflow(qwatch.DropNewest)))
	must(t, h.AddSink("fast", fast, qwatch.WithBatch(100, time.Millisecond)))
	stop := runHub(t, h)
	if _, err := fast.WaitFor(n, 10*time.Second); err != nil {
		t.Fatalf("fast sink starved by the slow one: %v", err)
	}
	close(release)
	must(t, stop())
	if diff := cmp.Diff(texts(numbered(n)), texts(fast.Messages())); diff != "" {
		t.Errorf("fast sink lost or reordered messages:\n%s", diff)
	}
	st := h.Stats()
	checkAccounting(t, st)
	s := st.Sinks["slow"]
	if s.Dropped == 0 || s.Written == 0 || s.Offered != n {
		t.Errorf("slow sink stats %+v: want offered %d, some dropped and some written", s, n)
	}
	// DropNewest keeps what is queued: the sink gets the first messages, and the rest it
	// gets are in order.
	got := slow.Messages()
	if len(got) < 100 || got[0].Text != "0" || !increasing(got) {
		t.Errorf("slow sink got %d messages %v, want at least 100, from the first one, in order", len(got), texts(got))
	}
	if int(s.Written) != len(got) {
		t.Errorf("Written %d, recorded %d", s.Written, len(got))
	}
}

func TestDropOldestKeepsTheNewest(t *testing.T) {
	const n, size = 10000, 50
	release := make(chan struct{})
	slow := blockingSink(release)
	h := qwatch.NewHub()
	src := qwatchtest.NewReplay(numbered(n)...)
	must(t, h.AddSource("replay", src))
	must(t, h.AddSink("slow", slow, qwatch.WithQueueSize(size), qwatch.WithBatch(size, 0), qwatch.WithOverflow(qwatch.DropOldest)))
	stop := runHub(t, h)
	<-src.Done()
	close(release)
	must(t, stop())
	st := h.Stats()
	checkAccounting(t, st)
	got := texts(slow.Messages())
	// The sink holds one batch (taken before it blocked) and then the last size messages.
	if len(got) < size || !cmp.Equal(got[len(got)-size:], texts(numbered(n))[n-size:]) {
		t.Errorf("slow sink's last %d messages are not the newest: %v", size, got[max(0, len(got)-size):])
	}
	if s := st.Sinks["slow"]; s.Dropped != uint64(n-len(got)) {
		t.Errorf("Dropped = %d, want %d (offered %d, written %d)", s.Dropped, n-len(got), s.Offered, s.Written)
	}
}

func TestBlockSlowsTheSourceInsteadOfDropping(t *testing.T) {
	const n = 2000
	var writes atomic.Int64
	slow := &qwatchtest.Recorder{OnWrite: func(context.Context, []message.Message) error {
		writes.Add(1)
		time.Sleep(time.Millisecond)
		return nil
	}}
	fast := &qwatchtest.Recorder{}
	h := qwatch.NewHub()
	src := qwatchtest.NewReplay(numbered(n)...)
	must(t, h.AddSource("replay", src))
	must(t, h.AddSink("slow", slow, qwatch.WithQueueSize(10), qwatch.WithBatch(5, 0)))
	must(t, h.AddSink("fast", fast))
	stop := runHub(t, h)
	select {
	case <-src.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("source did not finish")
	}
	// With a queue of 10 the source can only have run ahead of the slow sink by the queue,
	// the batch in hand and the one message waiting for room.
	if behind := n - slow.Len(); behind > 10+5+1 {
		t.Errorf("source finished %d messages ahead of the Block sink; backpressure did not reach it", behind)
	}
	must(t, stop())
	st := h.Stats()
	checkAccounting(t, st)
	for _, name := range []string{"slow", "fast"} {
		if s := st.Sinks[name]; s.Written != n || s.Dropped != 0 {
			t.Errorf("sink %s: %+v, want all %d written and none dropped", name, s, n)
		}
	}
	if writes.Load() < n/5 {
		t.Errorf("%d writes for %d messages in batches of at most 5", writes.Load(), n)
	}
}

func TestBatchingBySizeAndFlushInterval(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	// Once gate is set, a Write waits on it: the sink holds one batch while the rest queue, so
	// the batches come full however slowly the test publishes.
	var gate atomic.Pointer[chan struct{}]
	rec := &qwatchtest.Recorder{OnWrite: func(_ context.Context, b []message.Message) error {
		mu.Lock()
		sizes = append(sizes, len(b))
		mu.Unlock()
		if g := gate.Load(); g != nil {
			<-*g
		}
		return nil
	}}
	h := qwatch.NewHub()
	must(t, h.AddSink("rec", rec, qwatch.WithBatch(100, 50*time.Millisecond)))
	stop := runHub(t, h)
	start := time.Now()
	must(t, h.Publish(context.Background(), message.Message{Text: "lonely"}))
	if _, err := rec.WaitFor(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Errorf("a lone message was written after %v, before the 50ms flush interval", waited)
	}
	release := make(chan struct{})
	gate.Store(&release)
	for i := range 1000 {
		must(t, h.Publish(context.Background(), message.Message{Text: fmt.Sprint(i)}))
	}
	close(release)
	if _, err := rec.WaitFor(1001, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	must(t, stop())
	mu.Lock()
	defer mu.Unlock()
	for _, s := range sizes {
		if s > 100 {
			t.Errorf("batch of %d, more than the batch size 100: %v", s, sizes)
		}
	}
	// The lone message, the batch the sink held (any size), and the rest in full batches.
	if len(sizes) > 1+1+1000/100 {
		t.Errorf("%d batches for 1001 messages in batches of 100: %v", len(sizes), sizes)
	}
}

func TestProcessorsFiltersAndPublish(t *testing.T) {
	h := qwatch.NewHub()
	all := &qwatchtest.Recorder{}
	errsOnly := &qwatchtest.Recorder{}
	must(t, h.AddSink("all", all, qwatch.WithBatch(10, time.Millisecond)))
	must(t, h.AddSink("errors", errsOnly, qwatch.WithBatch(10, time.Millisecond),
		qwatch.WithFilter(func(m *message.Message) bool { return m.Level <= message.LevelErr })))
	h.Use(
		func(m *message.Message) bool { return !strings.HasPrefix(m.Text, "noise") },
		func(m *message.Message) bool { m.Host = "enriched"; return true },
	)
	// Published before Run: waits in the queues.
	must(t, h.Publish(context.Background(), message.Message{Text: "early", Level: message.LevelInfo, ID: "given-id"}))
	stop := runHub(t, h)
	for _, m := range []message.Message{
		{Text: "noise 1", Level: message.LevelErr},
		{Text: "boom", Level: message.LevelErr},
		{Text: "fine", Level: message.LevelInfo},
	} {
		must(t, h.Publish(context.Background(), m))
	}
	if _, err := all.WaitFor(3, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	must(t, stop())
	if got := texts(all.Messages()); !cmp.Equal(got, []string{"early", "boom", "fine"}) {
		t.Errorf("all sink got %v", got)
	}
	if got := texts(errsOnly.Messages()); !cmp.Equal(got, []string{"boom"}) {
		t.Errorf("filtered sink got %v", got)
	}
	for _, m := range all.Messages() {
		if m.Host != "enriched" {
			t.Errorf("message %q not processed: host %q", m.Text, m.Host)
		}
	}
	if id := all.Messages()[0].ID; id != "given-id" {
		t.Errorf("the Hub replaced a given ID with %q", id)
	}
	st := h.Stats()
	checkAccounting(t, st)
	if st.Published != 4 || st.ProcessorDropped != 1 || st.Sinks["errors"].Filtered != 2 {
		t.Errorf("stats %+v: want 4 published, 1 filtered by a processor, 2 by the sink filter", st)
	}
	if err := h.Publish(context.Background(), message.Message{}); !errors.Is(err, qwatch.ErrClosed) {
		t.Errorf("Publish after Run = %v, want ErrClosed", err)
	}
	if err := h.Run(context.Background()); !errors.Is(err, qwatch.ErrClosed) {
		t.Errorf("second Run = %v, want ErrClosed", err)
	}
}

func TestShutdownDrainsQueues(t *testing.T) {
	const n = 3000
	rec := &qwatchtest.Recorder{OnWrite: func(context.Context, []message.Message) error {
		time.Sleep(time.Millisecond)
		return nil
	}}
	h := qwatch.NewHub()
	must(t, h.AddSink("rec", rec, qwatch.WithQueueSize(n), qwatch.WithBatch(10, time.Second)))
	for _, m := range numbered(n) {
		must(t, h.Publish(context.Background(), m))
	}
	stop := runHub(t, h)
	must(t, stop())
	if got := rec.Len(); got != n {
		t.Errorf("after shutdown the sink has %d of %d queued messages", got, n)
	}
	checkAccounting(t, h.Stats())
}

func TestHungSinkCannotStopShutdown(t *testing.T) {
	release := make(chan struct{})
	hanging := make(chan struct{}, 1)
	hung := &qwatchtest.Recorder{OnWrite: func(context.Context, []message.Message) error {
		select {
		case hanging <- struct{}{}:
		default:
		}
		<-release // ignores its context on purpose
		return nil
	}}
	healthy := &qwatchtest.Recorder{}
	h := qwatch.NewHub(qwatch.WithShutdownTimeout(300 * time.Millisecond))
	must(t, h.AddSink("hung", hung, qwatch.WithQueueSize(1000), qwatch.WithBatch(10, 0)))
	must(t, h.AddSink("healthy", healthy, qwatch.WithBatch(10, 0)))
	stop := runHub(t, h)
	for _, m := range numbered(500) {
		must(t, h.Publish(context.Background(), m))
	}
	if _, err := healthy.WaitFor(500, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	<-hanging // the hung sink holds its first batch
	start := time.Now()
	err := stop()
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run took %v to return with a 300ms shutdown timeout", took)
	}
	if err == nil || !strings.Contains(err.Error(), `sink "hung"`) {
		t.Errorf("Run = %v, want an error naming the hung sink", err)
	}
	st := h.Stats()
	checkAccounting(t, st)
	settled := st.Sinks["hung"]
	if settled.Failed < 1 || settled.Failed > 10 || settled.Failed+settled.Dropped != 500 || settled.Written != 0 {
		t.Errorf("hung sink stats %+v, want the batch in hand (1 to 10) failed and the rest of 500 dropped", settled)
	}
	close(release)
	// The abandoned goroutine finishes once Write returns, and closes the sink; it must not
	// change the settled counts.
	deadline := time.Now().Add(10 * time.Second)
	for !hung.Closed() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !hung.Closed() {
		t.Fatal("the abandoned sink was not closed once its Write returned")
	}
	if s := h.Stats().Sinks["hung"]; s != settled {
		t.Errorf("counters changed after Run returned: %+v, then %+v", settled, s)
	}
}

// failingSource fails after emitting a few messages.
type failingSource struct{}

func (failingSource) Run(_ context.Context, emit func(message.Message)) error {
	emit(message.Message{Text: "last words"})
	return errors.New("socket gone")
}

func TestSourceFailureStopsRun(t *testing.T) {
	h := qwatch.NewHub()
	rec := &qwatchtest.Recorder{}
	must(t, h.AddSource("bad", failingSource{}))
	must(t, h.AddSink("rec", rec))
	done := make(chan error, 1)
	go func() { done <- h.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), `source "bad": socket gone`) {
			t.Errorf("Run = %v, want the source's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its source failed")
	}
	if rec.Len() != 1 {
		t.Errorf("message emitted before the failure was not delivered")
	}
}

func TestAddErrors(t *testing.T) {
	h := qwatch.NewHub()
	must(t, h.AddSource("a", qwatchtest.NewReplay()))
	rec := &qwatchtest.Recorder{}
	must(t, h.AddSink("a", rec, qwatch.WithBatch(1, 0)))
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"duplicate source", h.AddSource("a", qwatchtest.NewReplay()), "name already in use"},
		{"duplicate sink", h.AddSink("a", &qwatchtest.Recorder{}), "name already in use"},
		{"nil sink", h.AddSink("n", nil), "nil sink"},
		{"nil source", h.AddSource("n", nil), "nil source"},
		{"queue size", h.AddSink("q", &qwatchtest.Recorder{}, qwatch.WithQueueSize(0)), "queue size 0"},
		{"batch size", h.AddSink("b", &qwatchtest.Recorder{}, qwatch.WithQueueSize(5), qwatch.WithBatch(6, 0)), "larger than the queue size"},
		{"overflow", h.AddSink("o", &qwatchtest.Recorder{}, qwatch.WithOverflow(qwatch.Overflow(7))), "unknown overflow"},
	}
	stop := runHub(t, h)
	must(t, h.Publish(context.Background(), message.Message{Text: "running?"}))
	if _, err := rec.WaitFor(1, 5*time.Second); err != nil { // Run has started once this arrives
		t.Fatal(err)
	}
	tests = append(tests,
		struct {
			name string
			err  error
			want string
		}{"source after Run", h.AddSource("late", qwatchtest.NewReplay()), "already running"},
		struct {
			name string
			err  error
			want string
		}{"sink after Run", h.AddSink("late", &qwatchtest.Recorder{}), "already running"},
	)
	must(t, stop())
	for _, tt := range tests {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one containing %q", tt.name, tt.err, tt.want)
		}
	}
}

func TestMillionMessagesAccountingUnderChaos(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	chaos := func(seed uint64, failPct int) *qwatchtest.Recorder {
		var mu sync.Mutex
		rng := rand.New(rand.NewPCG(seed, seed))
		return &qwatchtest.Recorder{OnWrite: func(context.Context, []message.Message) error {
			mu.Lock()
			r, sleep := rng.IntN(100), rng.IntN(4) == 0
			mu.Unlock()
			if sleep {
				time.Sleep(time.Duration(r) * time.Microsecond)
			}
			if r < failPct {
				return errors.New("injected failure")
			}
			return nil
		}}
	}
	sinks := map[string]*qwatchtest.Recorder{"block": chaos(1, 5), "newest": chaos(2, 10), "oldest": chaos(3, 20)}
	h := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)))
	perSource := n / 4
	for i := range 4 {
		msgs := make([]message.Message, perSource)
		for j := range msgs {
			msgs[j] = message.Message{Text: "x", Level: message.LevelInfo, Time: time.Unix(1, 0)}
		}
		must(t, h.AddSource(fmt.Sprint("src", i), qwatchtest.NewReplay(msgs...)))
	}
	must(t, h.AddSink("block", sinks["block"], qwatch.WithQueueSize(1000), qwatch.WithBatch(100, time.Millisecond)))
	must(t, h.AddSink("newest", sinks["newest"], qwatch.WithQueueSize(200), qwatch.WithBatch(50, time.Millisecond), qwatch.WithOverflow(qwatch.DropNewest)))
	must(t, h.AddSink("oldest", sinks["oldest"], qwatch.WithQueueSize(200), qwatch.WithBatch(50, time.Millisecond), qwatch.WithOverflow(qwatch.DropOldest)))
	stop := runHub(t, h)
	if _, err := sinks["block"].WaitFor(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var emitted uint64
		for _, s := range h.Stats().Sources {
			emitted += s.Emitted
		}
		if emitted == uint64(4*perSource) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	must(t, stop())
	st := h.Stats()
	checkAccounting(t, st)
	for name, s := range st.Sinks {
		if s.Offered != uint64(4*perSource) {
			t.Errorf("sink %s offered %d, want %d", name, s.Offered, 4*perSource)
		}
		if got := sinks[name].Len(); uint64(got) != s.Written {
			t.Errorf("sink %s recorded %d, Written says %d", name, got, s.Written)
		}
		if s.Failed == 0 {
			t.Errorf("sink %s: no failures counted though Write failed at random", name)
		}
	}
	if s := st.Sinks["block"]; s.Dropped != 0 {
		t.Errorf("Block sink dropped %d", s.Dropped)
	}
	t.Logf("stats: %+v", st.Sinks)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// increasing reports whether the messages' numbered texts strictly increase.
func increasing(msgs []message.Message) bool {
	prev := -1
	for _, m := range msgs {
		var n int
		if _, err := fmt.Sscan(m.Text, &n); err != nil || n <= prev {
			return false
		}
		prev = n
	}
	return true
}

func TestPublishGivesUpWhenCtxIsDone(t *testing.T) {
	release := make(chan struct{})
	h := qwatch.NewHub()
	must(t, h.AddSink("stuck", blockingSink(release), qwatch.WithQueueSize(1), qwatch.WithBatch(1, 0)))
	stop := runHub(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var err error
	for range 3 { // one in the sink's hands, one queued, the third must wait
		if err = h.Publish(ctx, message.Message{Text: "x"}); err != nil {
			break
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish to a full Block queue = %v, want DeadlineExceeded once ctx expired", err)
	}
	close(release)
	must(t, stop())
	checkAccounting(t, h.Stats())
	if s := h.Stats().Sinks["stuck"]; s.Dropped != 1 {
		t.Errorf("stats %+v: want the one message Publish gave up on counted as dropped", s)
	}
}
