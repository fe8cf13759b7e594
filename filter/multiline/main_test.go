package multiline

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qnib/qwatch/message"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// event is what a test stream emitted: the message and the position of its last line.
type event struct {
	m       message.Message
	last    int
	partial bool
}

// recorder collects what a stream emits.
type recorder struct {
	events []event
	stats  Stats // the stream's stats after feed
}

func (r *recorder) emit(m message.Message, last int, partial bool) {
	r.events = append(r.events, event{m, last, partial})
}

// texts returns the emitted texts.
func (r *recorder) texts() []string {
	out := make([]string, len(r.events))
	for i, e := range r.events {
		out[i] = e.m.Text
	}
	return out
}

// base is when the test lines are stamped from.
var base = time.Date(2026, 11, 29, 19, 38, 40, 0, time.UTC)

// at returns the test message of line i of a stream, stamped d after base.
func at(i int, d time.Duration, text string) message.Message {
	return message.Message{ID: "id-" + strconv.Itoa(i), Time: base.Add(d), Level: message.LevelErr,
		Text: text, Fields: map[string]any{"stream": "stderr"}}
}

// feed adds the lines to a new stream, one ms apart, flushes it, and returns what it emitted.
func feed(t *testing.T, cfg Config, rule Rule, lines []string) *recorder {
	t.Helper()
	stamps := make([]time.Duration, len(lines))
	for i := range stamps {
		stamps[i] = time.Duration(i) * time.Millisecond
	}
	return feedAt(t, cfg, rule, lines, stamps)
}

// feedAt adds the lines, stamped as stamps says, to a new stream, flushes it, and returns
// what it emitted.
func feedAt(t *testing.T, cfg Config, rule Rule, lines []string, stamps []time.Duration) *recorder {
	t.Helper()
	r := &recorder{}
	s := NewStream(cfg, rule, NewBudget(0), r.emit)
	for i, l := range lines {
		s.Add(at(i, stamps[i], l), i)
	}
	s.Flush()
	r.stats = s.Stats()
	if r.stats.Held != 0 {
		t.Errorf("after Flush the budget holds %d bytes", r.stats.Held)
	}
	return r
}

// trace is a recorded trace of testdata/traces.
type trace struct {
	name  string
	kind  string
	lines []string
}

func traces(t testing.TB) []trace {
	t.Helper()
	files, err := filepath.Glob("testdata/traces/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no traces in testdata/traces: %v", err)
	}
	var out []trace
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		kind, _, _ := strings.Cut(name, "-")
		out = append(out, trace{name, kind, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")})
	}
	return out
}
