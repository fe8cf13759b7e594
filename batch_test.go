package qwatch_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

// batchSource hands its messages over in batches of size through RunBatch, reusing one slice
// as the contract allows, and then waits for ctx.
type batchSource struct {
	msgs      []message.Message
	size      int
	runCalled atomic.Bool
}

var _ qwatch.BatchSource = (*batchSource)(nil)

func (s *batchSource) Run(context.Context, func(message.Message)) error {
	s.runCalled.Store(true)
	return errors.New("Run called on a BatchSource")
}

func (s *batchSource) RunBatch(ctx context.Context, emit func([]message.Message)) error {
	buf := make([]message.Message, 0, s.size)
	for i := 0; i < len(s.msgs); i += s.size {
		buf = append(buf[:0], s.msgs[i:min(i+s.size, len(s.msgs))]...)
		emit(buf)
		clear(buf) // the Hub must have copied what it keeps
	}
	<-ctx.Done()
	return nil
}

// A BatchSource's batches reach every sink as its messages one by one would: in order, each
// with the source's name, an ID and a time, counted once; and a filter, a processor that
// drops, and a DropNewest sink with a small queue each see the batch message by message.
func TestBatchSourceAsOneByOne(t *testing.T) {
	const n = 3000
	h := qwatch.NewHub()
	src := &batchSource{msgs: numbered(n), size: 64}
	if err := h.AddSource("batches", src); err != nil {
		t.Fatal(err)
	}
	h.Use(func(m *message.Message) bool { return m.Text != "7" })
	all := &qwatchtest.Recorder{}
	odd := &qwatchtest.Recorder{}
	release := make(chan struct{})
	small := blockingSink(release)
	if err := h.AddSink("all", all, qwatch.WithBatch(100, time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := h.AddSink("odd", odd, qwatch.WithFilter(func(m *message.Message) bool { return m.Text[len(m.Text)-1]%2 == 1 })); err != nil {
		t.Fatal(err)
	}
	if err := h.AddSink("small", small, qwatch.WithQueueSize(10), qwatch.WithOverflow(qwatch.DropNewest)); err != nil {
		t.Fatal(err)
	}
	stop := runHub(t, h)
	if _, err := all.WaitFor(n-1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if src.runCalled.Load() {
		t.Error("the Hub called Run on a BatchSource")
	}
	var want, wantOdd []string
	for i := range n {
		if s := fmt.Sprint(i); s != "7" {
			want = append(want, s)
			if i%2 == 1 {
				wantOdd = append(wantOdd, s)
			}
		}
	}
	if diff := cmp.Diff(want, texts(all.Messages())); diff != "" {
		t.Errorf("not every message once, in order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantOdd, texts(odd.Messages())); diff != "" {
		t.Errorf("the filter did not see each message (-want +got):\n%s", diff)
	}
	for _, m := range all.Messages() {
		if m.Source != "batches" || m.ID == "" || m.Time.IsZero() {
			t.Fatalf("message %q: Source %q ID %q Time %v", m.Text, m.Source, m.ID, m.Time)
		}
	}
	st := h.Stats()
	checkAccounting(t, st)
	if got := st.Sources["batches"].Emitted; got != n {
		t.Errorf("Emitted = %d, want %d", got, n)
	}
	if got := st.ProcessorDropped; got != 1 {
		t.Errorf("ProcessorDropped = %d, want 1", got)
	}
	if s := st.Sinks["small"]; s.Dropped == 0 || s.Offered != n-1 {
		t.Errorf("small sink: %+v; want drops, and every message offered", s)
	}
}

// PublishBatch publishes as Publish does, and leaves the caller's slice as it was.
func TestPublishBatch(t *testing.T) {
	h := qwatch.NewHub()
	rec := &qwatchtest.Recorder{}
	if err := h.AddSink("rec", rec, qwatch.WithBatch(10, time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	msgs := numbered(25)
	before := append([]message.Message(nil), msgs...)
	if err := h.PublishBatch(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, msgs); diff != "" {
		t.Errorf("PublishBatch changed the caller's messages:\n%s", diff)
	}
	stop := runHub(t, h)
	if _, err := rec.WaitFor(25, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(texts(before), texts(rec.Messages())); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if st := h.Stats(); st.Published != 25 {
		t.Errorf("Published = %d, want 25", st.Published)
	}
	if err := h.PublishBatch(context.Background(), msgs); !errors.Is(err, qwatch.ErrClosed) {
		t.Errorf("PublishBatch after Run = %v, want ErrClosed", err)
	}
}

// A sink reads its batch where it lies in the queue. While it writes, the queue filling up
// behind it (and, with DropOldest, dropping and refilling over and over) leaves the batch as
// it was taken, under every overflow policy.
func TestABatchIsUntouchedWhileTheQueueFills(t *testing.T) {
	const n, size = 200, 20
	for _, policy := range []qwatch.Overflow{qwatch.Block, qwatch.DropNewest, qwatch.DropOldest} {
		t.Run(policy.String(), func(t *testing.T) {
			h := qwatch.NewHub()
			writing, filled := make(chan struct{}), make(chan struct{})
			first := true
			sink := &qwatchtest.Recorder{OnWrite: func(ctx context.Context, batch []message.Message) error {
				if !first {
					return nil
				}
				first = false
				taken := texts(batch)
				close(writing)
				<-filled
				if diff := cmp.Diff(taken, texts(batch)); diff != "" {
					t.Errorf("the batch changed while the sink wrote it (-taken +now):\n%s", diff)
				}
				return nil
			}}
			must(t, h.AddSink("s", sink, qwatch.WithQueueSize(size), qwatch.WithBatch(5, 0), qwatch.WithOverflow(policy)))
			stop := runHub(t, h)
			msgs := numbered(n)
			must(t, h.Publish(context.Background(), msgs[0]))
			<-writing
			published := make(chan error, 1)
			go func() {
				for _, m := range msgs[1:] {
					if err := h.Publish(context.Background(), m); err != nil {
						published <- err
						return
					}
				}
				published <- nil
			}()
			if policy == qwatch.Block { // Publish waits for room: wait for the queue to fill
				for deadline := time.Now().Add(10 * time.Second); h.Stats().Sinks["s"].Queued < size; {
					if time.Now().After(deadline) {
						t.Fatalf("queue not filled: %+v", h.Stats().Sinks["s"])
					}
					time.Sleep(time.Millisecond)
				}
				close(filled)
				must(t, <-published)
			} else {
				must(t, <-published)
				close(filled)
			}
			must(t, stop())
			checkAccounting(t, h.Stats())
		})
	}
}
