package dockerlogs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/qnib/qwatch/message"
)

// BenchmarkPlainLines is the cost of a plain line through the Source's reading path: a
// stdcopy frame demultiplexed, its time stamp parsed, the message made with its derived ID,
// grouped, emitted and the position advanced; per line.
func BenchmarkPlainLines(b *testing.B) {
	src, err := NewSource(Config{SelfID: "none", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer src.client.Close()
	const n = 1000
	var body bytes.Buffer
	t0 := time.Date(2026, 11, 29, 19, 38, 40, 0, time.UTC)
	for i := range n {
		line := fmt.Sprintf("%s INFO http: request served method=GET path=/api/v1/items/%d status=200 duration=1.2ms\n",
			t0.Add(time.Duration(i)*time.Microsecond).Format("2006-01-02T15:04:05.000000000Z07:00"), i)
		var h [8]byte
		h[0] = 1
		binary.BigEndian.PutUint32(h[4:], uint32(len(line)))
		body.Write(h[:])
		body.WriteString(line)
	}
	emitted := 0
	emit := func(message.Message) { emitted++ }
	f := &follower{src: src, id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	b.ReportAllocs()
	for b.Loop() {
		out := &lineWriter{f: f, stream: "stdout", level: message.LevelInfo, emit: emit}
		errw := &lineWriter{f: f, stream: "stderr", level: message.LevelErr, emit: emit}
		if err := copyStreams(bytes.NewReader(body.Bytes()), out, errw); err != nil {
			b.Fatal(err)
		}
		out.finish()
		errw.finish()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/line")
	if emitted != b.N*n {
		b.Fatalf("%d lines emitted, want %d", emitted, b.N*n)
	}
}
