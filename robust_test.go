package qwatch_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

func TestPartialErrorCountsExactly(t *testing.T) {
	h := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)))
	var batches atomic.Int64
	partial := &qwatchtest.Recorder{OnWrite: func(ctx context.Context, batch []message.Message) error {
		if batches.Add(1) == 1 {
			// 99 of 100 written; index 42 (and some nonsense indexes) not.
			return fmt.Errorf("bulk: %w", &qwatch.PartialError{Err: errors.New("503 past the budget"), Indexes: []int{42, 42, -1, 100}})
		}
		return nil
	}}
	must(t, h.AddSink("partial", partial, qwatch.WithBatch(100, time.Hour)))
	stop := runHub(t, h)
	for i := range 100 {
		must(t, h.Publish(context.Background(), message.Message{Text: fmt.Sprint(i)}))
	}
	must(t, stop())
	got := h.Stats().Sinks["partial"]
	if got.Offered != 100 || got.Written != 99 || got.Failed != 1 {
		t.Errorf("stats = %+v, want Offered 100, Written 99, Failed 1", got)
	}
}

func TestPanickingSinkLeavesOthersWhole(t *testing.T) {
	h := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)))
	var calls atomic.Int64
	panicky := &qwatchtest.Recorder{OnWrite: func(ctx context.Context, batch []message.Message) error {
		if calls.Add(1)%3 == 0 {
			panic("boom")
		}
		return nil
	}}
	healthy := &qwatchtest.Recorder{}
	must(t, h.AddSink("panicky", panicky, qwatch.WithBatch(10, 0)))
	must(t, h.AddSink("healthy", healthy, qwatch.WithBatch(10, 0)))
	var filterCalls atomic.Int64
	must(t, h.AddSink("badfilter", &qwatchtest.Recorder{}, qwatch.WithFilter(func(m *message.Message) bool {
		if filterCalls.Add(1)%100 == 0 {
			panic("filter boom")
		}
		return true
	})))
	h.Use(func(m *message.Message) bool {
		if m.Text == "poison" {
			var mm map[string]int
			mm["x"]++ // a nil-map panic, as a careless processor would hit
		}
		return true
	})
	stop := runHub(t, h)
	const n = 1000
	for i := range n {
		must(t, h.Publish(context.Background(), message.Message{Text: fmt.Sprint(i)}))
	}
	must(t, h.Publish(context.Background(), message.Message{Text: "poison"}))
	must(t, stop())

	st := h.Stats()
	if got := healthy.Len(); got != n {
		t.Errorf("healthy sink got %d messages, want %d", got, n)
	}
	if st.ProcessorPanics != 1 {
		t.Errorf("ProcessorPanics = %d, want 1", st.ProcessorPanics)
	}
	p := st.Sinks["panicky"]
	if p.Panics == 0 || p.Failed == 0 || p.Written == 0 || p.Written+p.Failed != n || p.Offered != n {
		t.Errorf("panicky sink stats = %+v: want panics, failures and writes adding up to %d", p, n)
	}
	if int(p.Written) != panicky.Len() {
		t.Errorf("panicky sink: Written = %d but it stored %d", p.Written, panicky.Len())
	}
	f := st.Sinks["badfilter"]
	if f.Panics != n/100 || f.Failed != n/100 || f.Offered != f.Written+f.Failed+f.Dropped {
		t.Errorf("badfilter sink stats = %+v, want %d panics counted as failed", f, n/100)
	}
}

// A sender of 1 MiB messages (300 of them: 300 MiB unbounded) cannot take more than the byte bound of a sink's queue.
func TestQueueBoundedByBytes(t *testing.T) {
	for _, policy := range []qwatch.Overflow{qwatch.DropNewest, qwatch.Block} {
		t.Run(policy.String(), func(t *testing.T) {
			h := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)))
			release := make(chan struct{})
			slow := &qwatchtest.Recorder{OnWrite: func(ctx context.Context, batch []message.Message) error {
				select {
				case <-release:
				case <-ctx.Done():
				}
				return nil
			}}
			const bound = 16 << 20
			must(t, h.AddSink("slow", slow, qwatch.WithOverflow(policy), qwatch.WithQueueBytes(bound)))
			stop := runHub(t, h)
			big := string(make([]byte, 1<<20))
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			sent := 0
			for range 300 {
				// Each message gets its own copy of the text, as a decoder would make.
				m := message.Message{Text: string(append([]byte(nil), big...))}
				if err := h.Publish(ctx, m); err != nil {
					break // Block: the queue stayed full until ctx ran out
				}
				sent++
			}
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			st := h.Stats().Sinks["slow"]
			if st.QueuedBytes > bound+2<<20 {
				t.Errorf("QueuedBytes = %d, want at most about %d", st.QueuedBytes, bound)
			}
			if grown > 3*bound {
				t.Errorf("heap grew by %d MiB with a %d MiB queue bound", grown>>20, bound>>20)
			}
			close(release)
			must(t, stop())
			st = h.Stats().Sinks["slow"]
			if st.Offered != st.Written+st.Failed+st.Dropped {
				t.Errorf("stats do not add up: %+v", st)
			}
			if policy == qwatch.DropNewest && (sent != 300 || st.Dropped == 0) {
				t.Errorf("DropNewest: sent %d, dropped %d; want 300 sent and drops", sent, st.Dropped)
			}
		})
	}
}

// An option the user did not set cannot break one they did.
func TestSmallQueueClampsDefaultBatch(t *testing.T) {
	h := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)))
	if err := h.AddSink("small", &qwatchtest.Recorder{}, qwatch.WithQueueSize(100)); err != nil {
		t.Fatalf("WithQueueSize(100) alone: %v", err)
	}
	if err := h.AddSink("explicit", &qwatchtest.Recorder{}, qwatch.WithQueueSize(100), qwatch.WithBatch(200, 0)); err == nil {
		t.Errorf("an explicit batch of 200 with a queue of 100 was accepted")
	}
}
