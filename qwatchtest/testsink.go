package qwatchtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
)

// TestSink checks that the sinks newSink makes keep the [qwatch.Sink] contract, and reports
// every violation it finds as a failed subtest. stored returns, in order, what the sink made by
// the most recent newSink call has stored; the harness calls it after it closed that sink.
//
// Each check runs in its own subtest with a new sink:
//   - every message of several batches is stored intact and in order (compared with go-cmp,
//     after a trip through the sink's own storage);
//   - an empty or nil batch is accepted and stores nothing;
//   - Close may be called twice, and Write after Close returns an error;
//   - Write with a cancelled context returns promptly: either nil with the batch stored, or an
//     error that wraps context.Canceled;
//   - no goroutine the sink started outlives Close (and the cleanups newSink registered).
//
// The messages carry IDs from [message.NewID], so a sink that sorts what it stored by ID gets
// them back in the order they were written.
func TestSink(t *testing.T, newSink func(t *testing.T) qwatch.Sink, stored func(t *testing.T) []message.Message) {
	t.Helper()
	run := func(name string, check func(t *testing.T, s qwatch.Sink)) {
		t.Run(name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			// Registered first, so it runs after the cleanups newSink registers.
			t.Cleanup(func() {
				if err := goleak.Find(before); err != nil {
					t.Errorf("goroutines left behind after Close: %v", err)
				}
			})
			check(t, newSink(t))
		})
	}

	run("StoresEveryMessageInOrder", func(t *testing.T, s qwatch.Sink) {
		ctx := context.Background()
		want := SampleMessages(311)
		for _, batch := range [][]message.Message{want[:1], want[1:11], want[11:]} {
			if err := writeCopy(ctx, t, s, batch); err != nil {
				t.Fatalf("Write(%d messages) = %v, want nil", len(batch), err)
			}
		}
		closeOnce(t, s)
		if diff := cmp.Diff(want, stored(t)); diff != "" {
			t.Errorf("stored messages differ from those written (-written +stored):\n%s", diff)
		}
	})

	run("EmptyBatch", func(t *testing.T, s qwatch.Sink) {
		ctx := context.Background()
		if err := s.Write(ctx, nil); err != nil {
			t.Errorf("Write(nil) = %v, want nil", err)
		}
		if err := s.Write(ctx, []message.Message{}); err != nil {
			t.Errorf("Write(empty batch) = %v, want nil", err)
		}
		closeOnce(t, s)
		if got := stored(t); len(got) != 0 {
			t.Errorf("empty writes stored %d messages, want 0", len(got))
		}
	})

	run("CloseTwice", func(t *testing.T, s qwatch.Sink) {
		if err := writeCopy(context.Background(), t, s, SampleMessages(3)); err != nil {
			t.Fatalf("Write = %v, want nil", err)
		}
		closeOnce(t, s)
		if err := callWithin(t, "second Close", func() error { return s.Close(context.Background()) }); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
		if got := len(stored(t)); got != 3 {
			t.Errorf("stored %d messages, want 3", got)
		}
	})

	run("WriteAfterClose", func(t *testing.T, s qwatch.Sink) {
		closeOnce(t, s)
		err := callWithin(t, "Write after Close", func() error {
			return s.Write(context.Background(), SampleMessages(2))
		})
		if err == nil {
			t.Errorf("Write after Close = nil, want an error")
		}
	})

	run("CancelledContext", func(t *testing.T, s qwatch.Sink) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		want := SampleMessages(5)
		err := callWithin(t, "Write with a cancelled context", func() error { return writeCopyErr(ctx, s, want) })
		closeOnce(t, s)
		got := stored(t)
		switch {
		case err == nil && !cmp.Equal(want, got):
			t.Errorf("Write with a cancelled context returned nil but stored (-want +got):\n%s", cmp.Diff(want, got))
		case err != nil && !errors.Is(err, context.Canceled):
			t.Errorf("Write with a cancelled context = %v, want nil or an error wrapping context.Canceled", err)
		}
	})
}

// writeCopy writes a copy of batch and then scribbles over the copy, as the Hub reuses its
// batch slice, so a sink that keeps the slice instead of its contents is caught.
func writeCopy(ctx context.Context, t *testing.T, s qwatch.Sink, batch []message.Message) error {
	t.Helper()
	return callWithin(t, "Write", func() error { return writeCopyErr(ctx, s, batch) })
}

func writeCopyErr(ctx context.Context, s qwatch.Sink, batch []message.Message) error {
	c := append([]message.Message(nil), batch...)
	err := s.Write(ctx, c)
	for i := range c {
		c[i] = message.Message{Text: "overwritten by the caller after Write returned"}
	}
	return err
}

func closeOnce(t *testing.T, s qwatch.Sink) {
	t.Helper()
	if err := callWithin(t, "Close", func() error { return s.Close(context.Background()) }); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
}

// callWithin runs f and fails the test if it takes longer than a generous bound, so a sink
// that hangs shows up as a clear failure instead of a test binary timeout.
func callWithin(t *testing.T, what string, f func() error) error {
	t.Helper()
	const bound = 30 * time.Second
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(bound):
		t.Fatalf("%s did not return within %v", what, bound)
		return nil
	}
}

// SampleMessages returns n varied messages, logs and events, that exercise every field of
// message.Message: Unicode, quotes, newlines, labels, fields of each kind. Their IDs sort in
// the order of the slice, and their times are whole microseconds in UTC.
func SampleMessages(n int) []message.Message {
	base := time.Date(2026, 11, 23, 22, 26, 45, 850_000_000, time.UTC)
	msgs := make([]message.Message, n)
	for i := range msgs {
		m := message.Message{
			ID:     message.NewID(),
			Time:   base.Add(time.Duration(i) * 1001 * time.Microsecond),
			Source: "gelf",
			Host:   "vm",
			Level:  message.Level(i % 8),
			Text:   fmt.Sprintf("line %d: \"quoted\" tab\t ünïcödé ✓ <b>&</b>", i),
		}
		switch i % 3 {
		case 0:
			m.Container = message.Container{
				ID:        "1a7d5e0c3f2b",
				Name:      "web-1",
				ImageID:   "sha256:68e3",
				ImageName: "hello:latest",
				Command:   "/hello from-container",
				Tag:       "demo",
				Created:   base.Add(-time.Minute),
				Labels:    map[string]string{"com.docker.compose.service": "web", "com.docker.compose.project": "demo"},
			}
			m.Fields = map[string]any{"request_id": fmt.Sprint("r", i), "status": float64(200 + i%5), "ok": i%2 == 0}
		case 1:
			m.FullText = fmt.Sprintf("stack trace %d\n\tat main.go:%d\n", i, i)
		case 2:
			m.Kind = message.KindEvent
			m.Level = message.LevelInfo
			m.Text = "container start web-1 (nginx:1.27)"
			m.Container = message.Container{ID: "c0ffee", Name: "web-1", ImageName: "nginx:1.27",
				Labels: map[string]string{"maintainer": "x"}}
			m.Event = message.Event{Type: "container", Action: "start", ActorID: "c0ffee", Scope: "local",
				Attributes: map[string]string{"name": "web-1", "image": "nginx:1.27", "maintainer": "x"}}
		}
		msgs[i] = m
	}
	return msgs
}
