package sink_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/qnib/qwatch/internal/benchcpu"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/sink"
)

// benchBatch is a batch as the Hub hands it to the stdout sink: Docker-style log lines of one
// container, each with its own ID and time.
func benchBatch() []message.Message {
	batch := make([]message.Message, 500)
	at := time.Date(2026, 11, 23, 22, 26, 45, 850_000_000, time.UTC)
	for i := range batch {
		batch[i] = message.Message{ID: message.NewID(), Time: at.Add(time.Duration(i) * time.Millisecond),
			Source: "docker-logs", Host: "vm", Level: message.LevelInfo,
			Text:      "Hello World from a container that logs a line of ordinary length",
			Container: message.Container{ID: "1a7d5e0c3f2b", Name: "web-1", ImageName: "hello:latest", Tag: "demo"}}
	}
	return batch
}

// BenchmarkWriter measures the Writer's cost per message (ns/op, B/op and allocs/op are per
// message, and so is cpu-ns/op) for each format, writing 500-message batches to io.Discard.
func BenchmarkWriter(b *testing.B) {
	batch := benchBatch()
	for _, f := range []sink.Format{sink.Text, sink.JSON, sink.Pretty} {
		b.Run(f.String(), func(b *testing.B) {
			w := &sink.Writer{Out: io.Discard, Format: f}
			b.ReportAllocs()
			defer benchcpu.Start(b)()
			for i := 0; i < b.N; i += len(batch) {
				if err := w.Write(context.Background(), batch[:min(len(batch), b.N-i)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBaselineLines is the floor to compare BenchmarkWriter with: the same batches, each
// message's text alone appended to a reused buffer with a newline, and written in one call.
func BenchmarkBaselineLines(b *testing.B) {
	batch := benchBatch()
	var buf []byte
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for i := 0; i < b.N; i += len(batch) {
		buf = buf[:0]
		for j := range batch[:min(len(batch), b.N-i)] {
			buf = append(append(buf, batch[j].Text...), '\n')
		}
		if _, err := io.Discard.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}
