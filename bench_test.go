package qwatch_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/internal/benchcpu"
	"github.com/qnib/qwatch/message"
)

// discard is a sink that throws batches away.
type discard struct{}

func (discard) Write(context.Context, []message.Message) error { return nil }
func (discard) Close(context.Context) error                    { return nil }

var benchMsg = message.Message{
	Time: time.Date(2026, 11, 23, 22, 26, 45, 850_000_000, time.UTC), Source: "gelf", Host: "vm",
	Level: message.LevelInfo, Text: "Hello World from a container that logs a line of ordinary length",
	Container: message.Container{ID: "1a7d5e0c3f2b", Name: "web-1", ImageName: "hello:latest", Tag: "demo"},
}

// BenchmarkHub measures one message from Publish through the Hub to every sink: ns/op,
// cpu-ns/op (the CPU time of every goroutine, which a busy machine does not inflate) and
// allocs/op are per message. The Hub sets a new ID on each (one allocation per message).
func BenchmarkHub(b *testing.B) { benchHub(b, 1) }

// BenchmarkHubBatch is BenchmarkHub with the messages handed over in batches of 64 with
// PublishBatch, as a BatchSource that reads many lines at a time does: ns/op is still per
// message.
func BenchmarkHubBatch(b *testing.B) { benchHub(b, 64) }

// benchHub publishes b.N messages to 1, 2 and 4 discarding sinks, size at a time: with
// Publish for a size of 1, PublishBatch otherwise.
func benchHub(b *testing.B, size int) {
	msgs := make([]message.Message, size)
	for i := range msgs {
		msgs[i] = benchMsg
	}
	for _, sinks := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("sinks=%d", sinks), func(b *testing.B) {
			h := qwatch.NewHub()
			for i := range sinks {
				if err := h.AddSink(fmt.Sprint("discard", i), discard{}); err != nil {
					b.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- h.Run(ctx) }()
			b.ReportAllocs()
			b.ResetTimer()
			stopCPU := benchcpu.Start(b)
			for i := 0; i < b.N; i += size {
				var err error
				if size == 1 {
					err = h.Publish(ctx, benchMsg)
				} else {
					err = h.PublishBatch(ctx, msgs[:min(size, b.N-i)])
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			stopCPU()
			for name, s := range h.Stats().Sinks {
				if s.Written != uint64(b.N) {
					b.Fatalf("sink %s wrote %d of %d", name, s.Written, b.N)
				}
			}
		})
	}
}

// BenchmarkBaselineChannel is the floor to compare BenchmarkHub with: the same message sent
// through one buffered channel to one goroutine, batched by nothing and counted by nothing.
func BenchmarkBaselineChannel(b *testing.B) {
	ch := make(chan message.Message, qwatch.DefaultQueueSize)
	done := make(chan int)
	go func() {
		n := 0
		for range ch {
			n++
		}
		done <- n
	}()
	b.ReportAllocs()
	stopCPU := benchcpu.Start(b)
	for range b.N {
		m := benchMsg
		m.ID = message.NewID()
		ch <- m
	}
	close(ch)
	if n := <-done; n != b.N {
		b.Fatalf("received %d of %d", n, b.N)
	}
	stopCPU()
}

// BenchmarkHubSpooled is BenchmarkHub with one sink behind a disk spool (default sync: fsync
// at most once a second), to compare with the in-memory path of the same run.
func BenchmarkHubSpooled(b *testing.B) {
	h := qwatch.NewHub()
	if err := h.AddSink("spooled", discard{}, qwatch.WithSpool(qwatch.SpoolConfig{Dir: b.TempDir()})); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	b.ReportAllocs()
	b.ResetTimer()
	stopCPU := benchcpu.Start(b)
	for range b.N {
		if err := h.Publish(ctx, benchMsg); err != nil {
			b.Fatal(err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	stopCPU()
	if s := h.Stats().Sinks["spooled"]; s.Written != uint64(b.N) {
		b.Fatalf("wrote %d of %d (spooled %d)", s.Written, b.N, s.Spooled)
	}
}
