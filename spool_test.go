package qwatch_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/internal/tmpfs"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

// checkSpoolInvariant checks that every message is accounted for once Run has returned.
func checkSpoolInvariant(t *testing.T, st qwatch.SinkStats) {
	t.Helper()
	if st.Offered+st.Recovered != st.Written+st.Failed+st.Dropped+st.Spooled+st.Lost {
		t.Errorf("Offered %d + Recovered %d != Written %d + Failed %d + Dropped %d + Spooled %d + Lost %d",
			st.Offered, st.Recovered, st.Written, st.Failed, st.Dropped, st.Spooled, st.Lost)
	}
}

// syncHub waits until what was published is settled: on disk behind a spool.
func syncHub(t *testing.T, h *qwatch.Hub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must(t, h.Sync(ctx))
}

func publishN(t *testing.T, h *qwatch.Hub, n int) []message.Message {
	t.Helper()
	msgs := qwatchtest.SampleMessages(n)
	for _, m := range msgs {
		must(t, h.Publish(context.Background(), m))
	}
	return msgs
}

// An outage of the sink loses nothing and counts nothing as failed: the messages wait on disk
// and are written once, in order, when it is back.
func TestSpoolRidesOutAnOutage(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	rec := &qwatchtest.Recorder{OnWrite: func(context.Context, []message.Message) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}}
	h := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)))
	must(t, h.AddSink("es", rec, qwatch.WithSpool(qwatch.SpoolConfig{Dir: t.TempDir()}), qwatch.WithBatch(50, 10*time.Millisecond)))
	stop := runHub(t, h)
	want := publishN(t, h, 500)
	deadline := time.Now().Add(10 * time.Second)
	for st := h.Stats().Sinks["es"]; (st.Spooled < 500 || !st.Retrying) && time.Now().Before(deadline); st = h.Stats().Sinks["es"] {
		time.Sleep(10 * time.Millisecond)
	}
	st := h.Stats().Sinks["es"]
	if st.Spooled != 500 || st.Failed != 0 || !st.Retrying || st.LastError == "" {
		t.Errorf("during the outage: %+v; want 500 spooled, none failed, retrying", st)
	}
	down.Store(false)
	got, err := rec.WaitFor(500, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	must(t, stop())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("written messages differ (-want +got):\n%s", diff)
	}
	st = h.Stats().Sinks["es"]
	if st.Written != 500 || st.Spooled != 0 || st.Failed != 0 || st.Retrying {
		t.Errorf("after the outage: %+v", st)
	}
	checkSpoolInvariant(t, st)
}

// A partial failure is retried only for the messages not written: none is written twice.
func TestSpoolRetriesOnlyTheUnwritten(t *testing.T) {
	var calls atomic.Int64
	rec := &qwatchtest.Recorder{}
	rec.OnWrite = func(ctx context.Context, batch []message.Message) error {
		if calls.Add(1) == 1 {
			if len(batch) != 10 {
				t.Errorf("first batch of %d, want the 10 published before Run", len(batch))
			}
			// Write all but the 3rd and 7th, then report those.
			for i := range batch {
				if i != 3 && i != 7 {
					rec.OnWrite = nil
					rec.Write(ctx, batch[i:i+1])
				}
			}
			return &qwatch.PartialError{Err: errors.New("503"), Indexes: []int{3, 7}}
		}
		return nil
	}
	h := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)))
	must(t, h.AddSink("es", rec, qwatch.WithSpool(qwatch.SpoolConfig{Dir: t.TempDir()}), qwatch.WithBatch(10, time.Second)))
	want := publishN(t, h, 10) // queued before Run: they go into the spool, and out, as one batch
	stop := runHub(t, h)
	got, err := rec.WaitFor(10, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	must(t, stop())
	ids := map[string]int{}
	for _, m := range rec.Messages() {
		ids[m.ID]++
	}
	for _, m := range want {
		if ids[m.ID] != 1 {
			t.Errorf("message %s written %d times", m.ID, ids[m.ID])
		}
	}
	if len(got) != 10 {
		t.Errorf("%d messages written", len(got))
	}
	st := h.Stats().Sinks["es"]
	if st.Written != 10 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	checkSpoolInvariant(t, st)
}

// What a dead sink left on disk is delivered by the next Hub on the same directory.
func TestSpoolSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	dead := &qwatchtest.Recorder{OnWrite: func(context.Context, []message.Message) error { return errors.New("down") }}
	h1 := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)), qwatch.WithShutdownTimeout(500*time.Millisecond))
	must(t, h1.AddSink("es", dead, qwatch.WithSpool(qwatch.SpoolConfig{Dir: dir}), qwatch.WithBatch(100, 10*time.Millisecond)))
	stop1 := runHub(t, h1)
	want := publishN(t, h1, 300)
	syncHub(t, h1)
	stop1() // the sink never came back: Run gives up at the shutdown timeout
	st1 := h1.Stats().Sinks["es"]
	if st1.Spooled != 300 || st1.Failed != 0 || st1.Dropped != 0 {
		t.Errorf("first run: %+v, want all 300 spooled", st1)
	}
	checkSpoolInvariant(t, st1)

	rec := &qwatchtest.Recorder{}
	h2 := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)))
	must(t, h2.AddSink("es", rec, qwatch.WithSpool(qwatch.SpoolConfig{Dir: dir}), qwatch.WithBatch(100, 10*time.Millisecond)))
	stop2 := runHub(t, h2)
	got, err := rec.WaitFor(300, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	must(t, stop2())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered after the restart (-want +got):\n%s", diff)
	}
	st2 := h2.Stats().Sinks["es"]
	if st2.Recovered != 300 || st2.Written != 300 || st2.Spooled != 0 {
		t.Errorf("second run: %+v", st2)
	}
	checkSpoolInvariant(t, st2)
}

// A full spool applies the overflow policy, counting every message dropped.
func TestSpoolFullAppliesOverflow(t *testing.T) {
	for _, policy := range []qwatch.Overflow{qwatch.DropNewest, qwatch.DropOldest} {
		t.Run(policy.String(), func(t *testing.T) {
			dead := &qwatchtest.Recorder{OnWrite: func(context.Context, []message.Message) error { return errors.New("down") }}
			h := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)), qwatch.WithShutdownTimeout(500*time.Millisecond))
			must(t, h.AddSink("es", dead, qwatch.WithOverflow(policy), qwatch.WithBatch(20, 5*time.Millisecond),
				qwatch.WithSpool(qwatch.SpoolConfig{Dir: t.TempDir(), MaxBytes: 64 << 10, SegmentBytes: 8 << 10})))
			stop := runHub(t, h)
			for range 10 {
				publishN(t, h, 100)
				syncHub(t, h) // spooled or dropped, before the next hundred come
			}
			stop()
			st := h.Stats().Sinks["es"]
			if st.Dropped == 0 || st.SpooledBytes > 64<<10 || st.Offered != 1000 {
				t.Errorf("stats %+v: want drops, at most 64 KiB on disk", st)
			}
			checkSpoolInvariant(t, st)
		})
	}
}

// A sink that panics behind a spool loses nothing: its batches are retried.
func TestSpoolRetriesAPanickingSink(t *testing.T) {
	var calls atomic.Int64
	rec := &qwatchtest.Recorder{OnWrite: func(context.Context, []message.Message) error {
		if calls.Add(1) <= 2 {
			panic("boom")
		}
		return nil
	}}
	h := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)))
	must(t, h.AddSink("es", rec, qwatch.WithSpool(qwatch.SpoolConfig{Dir: t.TempDir()}), qwatch.WithBatch(10, 5*time.Millisecond)))
	stop := runHub(t, h)
	publishN(t, h, 10)
	if _, err := rec.WaitFor(10, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	must(t, stop())
	st := h.Stats().Sinks["es"]
	if st.Panics != 2 || st.Written != 10 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	checkSpoolInvariant(t, st)
}

func TestSpoolNeedsADirectory(t *testing.T) {
	h := qwatch.NewHub()
	err := h.AddSink("es", &qwatchtest.Recorder{}, qwatch.WithSpool(qwatch.SpoolConfig{}))
	if err == nil {
		t.Error("a spool without a directory was accepted")
	}

}

// A full disk under the spool: the Hub stays up, says why in SpoolError, and counts what the
// spool refused as dropped. Once refusals stop (here because messages stop coming), SpoolError
// clears after its hold.
func TestSpoolOnAFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 256<<10)
	dead := &qwatchtest.Recorder{OnWrite: func(context.Context, []message.Message) error { return errors.New("down") }}
	h := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)), qwatch.WithShutdownTimeout(500*time.Millisecond))
	must(t, h.AddSink("es", dead, qwatch.WithBatch(50, 5*time.Millisecond),
		qwatch.WithSpool(qwatch.SpoolConfig{Dir: dir, SegmentBytes: 32 << 10})))
	stop := runHub(t, h)
	big := strings.Repeat("x", 2000)
	for i := range 300 {
		must(t, h.Publish(context.Background(), message.Message{Text: fmt.Sprint(i, big)}))
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Stats().Sinks["es"].SpoolError == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := h.Stats().Sinks["es"]
	if !strings.Contains(st.SpoolError, "no space") {
		t.Errorf("SpoolError = %q, want the disk full", st.SpoolError)
	}
	syncHub(t, h) // every message spooled or refused: no more appends come
	deadline = time.Now().Add(30 * time.Second)
	for h.Stats().Sinks["es"].SpoolError != "" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if st := h.Stats().Sinks["es"]; st.SpoolError != "" {
		t.Errorf("SpoolError = %q still, with no refusal since the messages stopped", st.SpoolError)
	}
	stop()
	st = h.Stats().Sinks["es"]
	if st.Dropped == 0 || st.Spooled == 0 {
		t.Errorf("stats %+v: want some spooled and the rest dropped", st)
	}
	checkSpoolInvariant(t, st)
}

// Sync returns once what was published before is written, or on disk behind a spool.
func TestSyncWaitsForSettledOrSpooled(t *testing.T) {
	release := make(chan struct{})
	slow := &qwatchtest.Recorder{OnWrite: func(ctx context.Context, _ []message.Message) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}}
	dead := &qwatchtest.Recorder{OnWrite: func(context.Context, []message.Message) error { return errors.New("down") }}
	h := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)), qwatch.WithShutdownTimeout(time.Second))
	must(t, h.AddSink("slow", slow, qwatch.WithBatch(10, time.Millisecond)))
	must(t, h.AddSink("spooled", dead, qwatch.WithBatch(10, time.Millisecond), qwatch.WithSpool(qwatch.SpoolConfig{Dir: t.TempDir()})))
	stop := runHub(t, h)
	publishN(t, h, 20)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := h.Sync(ctx)
	cancel()
	if err == nil {
		t.Fatal("Sync returned while the slow sink still held the messages")
	}
	close(release)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Sync(ctx); err != nil {
		t.Fatalf("Sync = %v once the slow sink wrote and the other spooled", err)
	}
	if st := h.Stats().Sinks; st["slow"].Written != 20 || st["spooled"].Spooled != 20 {
		t.Errorf("after Sync: slow %+v, spooled %+v", st["slow"], st["spooled"])
	}
	stop()
}
