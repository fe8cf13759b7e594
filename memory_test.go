package qwatch_test

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/internal/gelfload"
	"github.com/qnib/qwatch/message"
)

// heldSink takes nothing until its context ends.
type heldSink struct{}

func (heldSink) Write(ctx context.Context, _ []message.Message) error {
	<-ctx.Done()
	return ctx.Err()
}
func (heldSink) Close(context.Context) error { return nil }

// What a queued message really holds, against what message.Message.Size says, for Docker-style
// GELF messages as the decoder makes them (the container fields of a container shared between
// its messages): the byte bound of a queue must not be looser than the memory it bounds.
func TestQueuedMessageMemory(t *testing.T) {
	const n = 20000
	load, err := gelfload.Make(gelfload.Config{Count: n, Compression: "none", MaxLine: 1000}, true)
	if err != nil {
		t.Fatal(err)
	}
	hub := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)), qwatch.WithShutdownTimeout(time.Millisecond))
	if err := hub.AddSink("held", heldSink{}, qwatch.WithQueueSize(2*n), qwatch.WithQueueBytes(1<<30), qwatch.WithBatch(1, 0)); err != nil {
		t.Fatal(err)
	}
	// The queue's ring of message structs is allocated with the sink: measured from here, the
	// heap grows by what the queued messages point to.
	var dec gelf.Decoder
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	estimate := 0
	for _, m := range load {
		if len(m.Packets) != 1 {
			continue // chunked: the decoder wants it whole; the rest are enough
		}
		d, err := dec.Decode(m.Packets[0], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		d.ID = message.NewID()
		estimate += d.Size()
		if err := hub.Publish(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(load) // measured alive both times
	st := hub.Stats().Sinks["held"]
	real := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(st.Queued) + float64(unsafe.Sizeof(message.Message{}))
	estimated := float64(estimate) / float64(st.Queued)
	t.Logf("%d messages queued: %.0f bytes each in memory, %.0f estimated by Size (QueuedBytes %d)", st.Queued, real, estimated, st.QueuedBytes)
	if st.Queued < n*9/10 || estimated < real || estimated > 2*real {
		t.Errorf("Size estimates %.0f bytes a message for %.0f held", estimated, real)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	hub.Run(ctx)
}
