package dockerlogs

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/message"
)

// BenchmarkPlainLines is the cost of a plain line through the Source's reading path, from
// the entry stdcopy hands over: its time stamp parsed, the message made with its derived ID,
// grouped (by the default rule, auto, or by none, off), emitted and the position advanced.
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
	emit := func(message.Message) { emitted++ }
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
	if emitted != lines {
		b.Fatalf("%d lines emitted, want %d", emitted, lines)
	}
}
