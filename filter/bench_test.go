package filter_test

import (
	"encoding/json"
	"testing"

	"github.com/qnib/qwatch/filter"
	"github.com/qnib/qwatch/message"
)

// BenchmarkPlainLine runs a plain line that nothing matches through the whole stage (Parse in
// auto mode, then Service), as most lines of most containers are. It must not allocate.
func BenchmarkPlainLine(b *testing.B) {
	line := "2026-11-29 19:38:15.587 handled GET /api/v1/orders?page=2 in 3.2 ms (200, 1532 bytes)"
	for _, bc := range []struct {
		name   string
		labels map[string]string
	}{
		{"no labels", nil},
		{"other labels", map[string]string{"maintainer": "ops", "org.opencontainers.image.version": "1.27.3", "org.opencontainers.image.vendor": "x"}},
		{"compose labels", map[string]string{"com.docker.compose.service": "web", "com.docker.compose.project": "shop",
			"com.docker.compose.oneoff": "False", "com.docker.compose.version": "1.29.2"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			stage := filter.New(filter.Config{})
			in := message.Message{Text: line, Level: message.LevelInfo, Fields: map[string]any{"stream": "stdout"},
				Container: message.Container{ID: "1a7d5e0c3f2b", Name: "web-1", Labels: bc.labels}}
			var m message.Message
			b.ReportAllocs()
			for b.Loop() {
				m = in
				stage.Process(&m)
			}
			if m.Text != line || m.Level != message.LevelInfo {
				b.Fatalf("the line changed: %+v", m)
			}
		})
	}
}

// BenchmarkJSONLine parses real JSON lines into fields, beside encoding/json decoding the
// same lines into a map (what a parser built on it would do before any flattening).
func BenchmarkJSONLine(b *testing.B) {
	for _, bc := range []struct{ name, file string }{
		{"slog", "slog-json.log"},
		{"pino error", "pino.log"},
	} {
		lines := readLines(&testing.T{}, bc.file)
		line := lines[2]
		if bc.file == "pino.log" {
			line = lines[3] // the error, with its stack
		}
		b.Run(bc.name+"/filter", func(b *testing.B) {
			stage := filter.New(filter.Config{})
			in := message.Message{Text: line, Level: message.LevelInfo, Fields: map[string]any{"stream": "stdout"}}
			var m message.Message
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				m = in
				stage.Parse(&m)
			}
			if len(m.Fields) < 3 {
				b.Fatalf("not parsed: %+v", m)
			}
		})
		b.Run(bc.name+"/encoding-json", func(b *testing.B) {
			data := []byte(line)
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				var v map[string]any
				if err := json.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLogfmtLine parses a line of slog's TextHandler.
func BenchmarkLogfmtLine(b *testing.B) {
	line := readLines(&testing.T{}, "slog-text.log")[3]
	stage := filter.New(filter.Config{})
	in := message.Message{Text: line, Level: message.LevelInfo, Fields: map[string]any{"stream": "stdout"}}
	var m message.Message
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		m = in
		stage.Parse(&m)
	}
	if m.Text != "request failed" {
		b.Fatalf("not parsed: %+v", m)
	}
}
