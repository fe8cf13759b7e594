package dockerlogs

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/message"
)

// benchLines is the size of the finished json-file the file benchmarks read: a million lines
// of about 100 bytes, as the engine writes them.
const benchLines = 1_000_000

var (
	benchFileOnce sync.Once
	benchFile     string
	benchFileErr  error
)

// finishedFile writes, once per test binary, a json-file of benchLines lines of about 100
// bytes of text, one in ten on stderr, in the engine's format.
func finishedFile(b *testing.B) string {
	benchFileOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dockerlogs-bench")
		if err != nil {
			benchFileErr = err
			return
		}
		benchFile = filepath.Join(dir, "c-json.log")
		f, err := os.Create(benchFile)
		if err != nil {
			benchFileErr = err
			return
		}
		defer f.Close()
		w := bufio.NewWriterSize(f, 1<<20)
		t0 := time.Date(2026, 11, 29, 19, 38, 40, 0, time.UTC)
		for i := range benchLines {
			stream := "stdout"
			if i%10 == 0 {
				stream = "stderr"
			}
			text := fmt.Sprintf("2026-11-29T19:38:40Z INFO http: request served method=GET path=/api/v1/items/%07d status=200 d=1.2ms\n", i)
			line, _ := json.Marshal(struct {
				Log    string `json:"log"`
				Stream string `json:"stream"`
				Time   string `json:"time"`
			}{text, stream, t0.Add(time.Duration(i) * 1733 * time.Nanosecond).Format(time.RFC3339Nano)})
			w.Write(line)
			w.WriteByte('\n')
		}
		benchFileErr = w.Flush()
	})
	if benchFileErr != nil {
		b.Fatal(benchFileErr)
	}
	b.Cleanup(func() {}) // the file is kept for the other benchmarks of the run
	return benchFile
}

// BenchmarkFinishedFile reads a finished json-file of a million lines of about 100 bytes:
// plain is a bare reader (bufio and encoding/json into a struct, the text kept as a string),
// the baseline; source/off and source/auto are the Source's file reader through to emit
// (each line a message with its derived ID, grouped by none or by the default rule, the
// positions advanced). Compare the lines/s of one run.
func BenchmarkFinishedFile(b *testing.B) {
	path := finishedFile(b)
	b.Run("plain", func(b *testing.B) {
		var n int
		for b.Loop() {
			n = plainRead(b, path)
		}
		report(b, n)
	})
	for _, rule := range []multiline.Rule{multiline.Off, multiline.Auto} {
		b.Run("source/"+rule.String(), func(b *testing.B) {
			var n int
			for b.Loop() {
				n = sourceRead(b, path, rule)
			}
			report(b, n)
		})
	}
}

func report(b *testing.B, n int) {
	if n != benchLines {
		b.Fatalf("%d lines read, want %d", n, benchLines)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(0, "ns/op")
}

// plainRead is what a bare reader of the file does: scan lines, unmarshal each.
func plainRead(b *testing.B, path string) int {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var e struct {
		Log    string    `json:"log"`
		Stream string    `json:"stream"`
		Time   time.Time `json:"time"`
	}
	n := 0
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			b.Fatal(err)
		}
		n++
	}
	return n
}

// sourceRead reads the file with the Source's file reader, as a follower of a stopped
// container does, and returns the lines emitted.
func sourceRead(b *testing.B, path string, rule multiline.Rule) int {
	src, err := NewSource(Config{SelfID: "none", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer src.client.Close()
	n := 0
	emit := func(batch []message.Message) { n += len(batch) }
	f := &follower{src: src, id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", rule: rule}
	out, errw := f.writers(emit, nil, time.Time{})
	r := &fileReader{f: f, path: path, buf: make([]byte, readBuffer), out: out, errw: errw}
	out.track, errw.track = &heldLines{at: r.at}, &heldLines{at: r.at}
	if err := r.openOldest(time.Time{}); err != nil {
		b.Fatal(err)
	}
	if err := r.run(b.Context(), true, nil); err != nil {
		b.Fatal(err)
	}
	out.finish()
	errw.finish()
	out.box.flush()
	return n
}
