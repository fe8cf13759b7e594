package dockerlogs

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/docker/docker/pkg/stdcopy"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/message"
)

// BenchmarkPlainLines is the cost of a plain line through the Source's reading path, from
// the entry a frame holds: its time stamp parsed, the message made with its derived ID,
// grouped (by the default rule, auto, or by none, off), handed on in a batch and the position
// advanced.
func BenchmarkPlainLines(b *testing.B) {
	for _, tt := range []struct {
		name string
		rule multiline.Rule
	}{{"auto", multiline.Auto}, {"off", multiline.Off}} {
		b.Run(tt.name, func(b *testing.B) { benchmarkPlainLines(b, tt.rule) })
	}
}

func benchmarkPlainLines(b *testing.B, rule multiline.Rule) {
	src, err := NewSource(Config{SelfID: "none", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer src.client.Close()
	const n = 1000
	entries := make([][]byte, n)
	t0 := time.Date(2026, 11, 29, 19, 38, 40, 0, time.UTC)
	for i := range entries {
		entries[i] = fmt.Appendf(nil, "%s INFO http: request served method=GET path=/api/v1/items/%d status=200 duration=1.2ms\n",
			t0.Add(time.Duration(i)*time.Microsecond).Format("2006-01-02T15:04:05.000000000Z07:00"), i)
	}
	emitted := 0
	emit := func(batch []message.Message) { emitted += len(batch) }
	f := &follower{src: src, id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", rule: rule}
	out, errw := f.writers(emit, nil, time.Time{})
	b.ReportAllocs()
	lines := 0
	for b.Loop() {
		out.Write(entries[lines%n])
		lines++
	}
	out.finish()
	errw.finish()
	out.box.flush()
	if emitted != lines {
		b.Fatalf("%d lines emitted, want %d", emitted, lines)
	}
}

// BenchmarkFrames is the CPU a line costs from the logs API's bytes: the frames of 10,000
// lines of 100 bytes, each line a frame of its own as the engine sends them, read in the
// pieces of at most 4 KiB that the HTTP client's buffer hands over. bare is what a bare
// reader of the API does (stdcopy.StdCopy to io.Discard); source is the Source's reading
// (frames, time stamps, messages, grouping by rule auto or off, batches handed on, positions
// advanced). The ratio of their ns/line is the Source's share of a flat-out reader's work.
func BenchmarkFrames(b *testing.B) {
	const n = 10_000
	var stream bytes.Buffer
	w := stdcopy.NewStdWriter(&stream, stdcopy.Stdout)
	t0 := time.Date(2026, 11, 29, 19, 38, 40, 0, time.UTC)
	for i := range n {
		fmt.Fprintf(w, "%s out %07d GET /api/v1/items status=200 duration=1.2ms user=alice agent=curl/8.5 bytes=5120 cache=miss\n",
			t0.Add(time.Duration(i)*time.Microsecond).Format("2006-01-02T15:04:05.000000000Z07:00"), i)
	}
	data := stream.Bytes()
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			if _, err := stdcopy.StdCopy(io.Discard, io.Discard, &pieces{data, 4 << 10}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/line")
	})
	for _, rule := range []multiline.Rule{multiline.Off, multiline.Auto} {
		b.Run("source/"+rule.String(), func(b *testing.B) {
			src, err := NewSource(Config{SelfID: "none", Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer src.client.Close()
			emitted := 0
			f := &follower{src: src, id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", rule: rule}
			for b.Loop() {
				out, errw := f.writers(func(batch []message.Message) { emitted += len(batch) }, nil, time.Time{})
				if err := copyStreams(&pieces{data, 4 << 10}, out, errw); err != nil {
					b.Fatal(err)
				}
				out.finish()
				errw.finish()
				out.box.flush()
			}
			if emitted != n*b.N {
				b.Fatalf("%d lines emitted, want %d", emitted, n*b.N)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/line")
		})
	}
}

// pieces reads data in pieces of at most size bytes.
type pieces struct {
	data []byte
	size int
}

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), p.size)], p.data)
	p.data = p.data[n:]
	return n, nil
}
