package sink_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
	"github.com/qnib/qwatch/sink"
)

var _ qwatch.Sink = (*sink.Writer)(nil)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWriterConformanceJSON(t *testing.T) {
	var buf *bytes.Buffer
	qwatchtest.TestSink(t,
		func(t *testing.T) qwatch.Sink {
			buf = new(bytes.Buffer)
			return &sink.Writer{Out: buf, Format: sink.JSON}
		},
		func(t *testing.T) []message.Message { return parseLines(t, buf.Bytes()) })
}

func TestRecorderConformance(t *testing.T) {
	var rec *qwatchtest.Recorder
	qwatchtest.TestSink(t,
		func(t *testing.T) qwatch.Sink { rec = &qwatchtest.Recorder{}; return rec },
		func(t *testing.T) []message.Message { return rec.Messages() })
}

func parseLines(t *testing.T, b []byte) []message.Message {
	t.Helper()
	var msgs []message.Message
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m message.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func TestWriterText(t *testing.T) {
	at := time.Date(2026, 11, 23, 22, 26, 45, 850_400_000, time.FixedZone("CET", 3600))
	batch := []message.Message{
		{Time: at, Level: message.LevelInfo, Text: "Hello World", Container: message.Container{Name: "web-1"}},
		{Time: at, Level: message.LevelInfo, Kind: message.KindEvent, Text: "container start web-1 (nginx:1.27)",
			Container: message.Container{Name: "web-1"}},
		{Time: at, Level: message.LevelErr, Host: "vm", Text: "two\nlines\r"},
		{Time: at, Level: message.LevelDebug, Text: "nobody"},
	}
	var buf bytes.Buffer
	w := &sink.Writer{Out: &buf}
	if err := w.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	want := `2026-11-23T21:26:45.850Z info web-1 Hello World
2026-11-23T21:26:45.850Z info event container start web-1 (nginx:1.27)
2026-11-23T21:26:45.850Z err vm two\nlines\r
2026-11-23T21:26:45.850Z debug - nobody
`
	if got := buf.String(); got != want {
		t.Errorf("text output:\n%s\nwant:\n%s", got, want)
	}
}

// countingWriter records each Write call.
type countingWriter struct {
	calls int
	err   error
	short bool
	bytes.Buffer
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.calls++
	if c.err != nil {
		return 0, c.err
	}
	if c.short {
		return len(p) / 2, nil
	}
	return c.Buffer.Write(p)
}

func TestWriterOneWritePerBatchAndErrors(t *testing.T) {
	batch := qwatchtest.SampleMessages(100)
	for _, f := range []sink.Format{sink.Text, sink.JSON} {
		cw := &countingWriter{}
		w := &sink.Writer{Out: cw, Format: f}
		if err := w.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		if cw.calls != 1 || strings.Count(cw.String(), "\n") != 100 {
			t.Errorf("%v: %d Write calls and %d lines for a batch of 100", f, cw.calls, strings.Count(cw.String(), "\n"))
		}
	}
	disk := errors.New("disk full")
	w := &sink.Writer{Out: &countingWriter{err: disk}}
	if err := w.Write(context.Background(), batch); !errors.Is(err, disk) {
		t.Errorf("Write = %v, want the writer's error", err)
	}
	w = &sink.Writer{Out: &countingWriter{short: true}}
	if err := w.Write(context.Background(), batch); err == nil {
		t.Error("a short write was not reported")
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range []sink.Format{sink.Text, sink.JSON} {
		if got, err := sink.ParseFormat(f.String()); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), got, err)
		}
	}
	if _, err := sink.ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) succeeded")
	}
}

func TestWriterPretty(t *testing.T) {
	at := time.Date(2026, 11, 23, 22, 26, 45, 850_000_000, time.Local)
	batch := []message.Message{
		{Time: at, Level: message.LevelInfo, Text: "Hello World", Container: message.Container{Name: "web-1"}},
		{Time: at, Level: message.LevelErr, Text: "boom", Container: message.Container{Name: "web-1"}},
		{Time: at, Level: message.LevelWarning, Kind: message.KindEvent, Text: "container die web-1 (nginx:1.27)",
			Container: message.Container{Name: "web-1"}},
	}
	var plain bytes.Buffer
	if err := (&sink.Writer{Out: &plain, Format: sink.Pretty}).Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	want := "22:26:45.850 web-1            | Hello World\n" +
		"22:26:45.850 web-1            | err boom\n" +
		"22:26:45.850 web-1            | ▶ event warning container die web-1 (nginx:1.27)\n"
	if plain.String() != want {
		t.Errorf("pretty output:\n%s\nwant:\n%s", plain.String(), want)
	}
	var colored bytes.Buffer
	if err := (&sink.Writer{Out: &colored, Format: sink.Pretty, Color: true}).Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(colored.String(), "\n")
	nameColor := func(line string) string {
		i := strings.Index(line, "web-1")
		return line[strings.LastIndex(line[:i], "\x1b["):i]
	}
	if nameColor(lines[0]) == "" || nameColor(lines[0]) != nameColor(lines[1]) {
		t.Errorf("container name not in one stable colour: %q %q", lines[0], lines[1])
	}
	if !strings.Contains(lines[1], "\x1b[31m\x1b[1merr") {
		t.Errorf("error level not red: %q", lines[1])
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("escapes in uncoloured output")
	}
}

// A log line can neither forge another line nor send terminal escapes, in any field shown.
func TestTextAndPrettyEscapeControls(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"newline forges a line", "ok\n2026-01-01T00:00:00.000Z info web forged", `ok\n2026-01-01T00:00:00.000Z info web forged`},
		{"carriage return", "a\rb", `a\rb`},
		{"escape sequence", "\x1b[2Jclear", `\x1b[2Jclear`},
		{"C1 control", "a\u009b31mb", `a\u009b31mb`},
		{"invalid UTF-8", "a\xffb", `a\xffb`},
		{"bell and NUL", "\a\x00", `\x07\x00`},
		{"tab", "a\tb", `a\tb`},
		{"Unicode kept", "ünïcödé ✓", "ünïcödé ✓"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := message.Message{Level: message.LevelInfo, Text: tt.in, Container: message.Container{Name: "n" + tt.in}}
			for format, line := range map[string]string{
				"text":   string(sink.AppendText(nil, &m)),
				"pretty": string(sink.AppendPretty(nil, &m, false)),
			} {
				if !strings.HasSuffix(line, tt.want) {
					t.Errorf("%s: text %q rendered as %q, want it to end in %q", format, tt.in, line, tt.want)
				}
				if !strings.Contains(line, "n"+tt.want) {
					t.Errorf("%s: name %q not escaped in %q", format, "n"+tt.in, line)
				}
				if strings.ContainsAny(line, "\n\r\x1b\x00") || !utf8.ValidString(line) {
					t.Errorf("%s: %q holds a control character or invalid UTF-8", format, line)
				}
			}
		})
	}
}
