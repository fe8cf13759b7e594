package multiline

import (
	"testing"
	"time"

	"github.com/qnib/qwatch/message"
)

// BenchmarkPlainLine is the cost of a line that no rule matches, as most lines are: held
// by Add (it may introduce a trace) and emitted when the next line comes.
func BenchmarkPlainLine(b *testing.B) {
	m := message.Message{ID: "0194c7a1b2c3d4e5f6a7b8c9d0e1f2a3", Time: base, Level: message.LevelInfo,
		Text:      "2026-11-29T19:38:40.123Z INFO http: request served method=GET path=/api/v1/items status=200 duration=1.2ms",
		Container: message.Container{ID: "1a7d2f", Name: "web-1"}, Fields: map[string]any{"stream": "stdout"}}
	n := 0
	s := NewStream(Config{}, Auto, nil, func(message.Message, int, bool) { n++ })
	b.ReportAllocs()
	cpu := cpuTime()
	for i := 0; b.Loop(); i++ {
		s.Add(m, i)
	}
	reportCPU(b, cpu, 1)
	s.Flush()
	if n == 0 {
		b.Fatal("nothing emitted")
	}
}

// BenchmarkPlainLineGroups is BenchmarkPlainLine through a Groups, keyed as a GELF source keys.
func BenchmarkPlainLineGroups(b *testing.B) {
	m := message.Message{Time: base, Level: message.LevelInfo,
		Text:      "INFO http: request served method=GET path=/api/v1/items status=200 duration=1.2ms",
		Container: message.Container{ID: "1a7d2f", Name: "web-1"}}
	type key struct {
		id    string
		level message.Level
	}
	k := key{m.Container.ID, m.Level}
	g := NewGroups(Config{}, nil, nil, func(key, message.Message, struct{}, bool) {})
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		g.Add(k, m, struct{}{})
	}
	reportCPU(b, cpu, 1)
	g.Flush()
}

// BenchmarkJavaTrace is the cost of a recorded Java trace of 17 lines, between two plain
// lines, becoming one event; per trace, and per line as a metric.
func BenchmarkJavaTrace(b *testing.B) {
	lines := javaTrace(b)
	msgs := make([]message.Message, 0, len(lines)+1)
	msgs = append(msgs, message.Message{Time: base, Text: "INFO before", Fields: map[string]any{"stream": "stderr"}})
	for i, l := range lines {
		msgs = append(msgs, message.Message{Time: base.Add(50*time.Millisecond + time.Duration(i)*time.Microsecond),
			Text: l, Fields: map[string]any{"stream": "stderr"}})
	}
	groups := 0
	s := NewStream(Config{}, Auto, nil, func(m message.Message, _ int, _ bool) {
		if len(m.Fields) > 1 {
			groups++
		}
	})
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		for i := range msgs {
			s.Add(msgs[i], i)
		}
	}
	reportCPU(b, cpu, len(msgs))
	s.Flush()
	if groups == 0 {
		b.Fatal("no group formed")
	}
}

// reportCPU reports the CPU time per operation since start (where it can be measured) and,
// if an operation is several lines, the wall and CPU time per line.
func reportCPU(b *testing.B, start time.Duration, lines int) {
	cpu := cpuTime() - start
	if lines > 1 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
	}
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*lines), "cpu-ns/line")
	}
}
