package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/qnib/qwatch/message"
)

// Format selects how a Writer renders messages.
type Format int

const (
	// Text writes one line per message: time, level, container (or host) and text, as in
	//	2026-11-23T22:26:45.850Z info web-1 Hello World
	//	2026-11-23T22:26:45.851Z info event container start web-1 (nginx:1.27)
	Text Format = iota
	// JSON writes one JSON document per line, the form of [message.Message.AppendJSON].
	JSON
	// Pretty is for a person at a terminal, like `docker logs -f` for the whole host; see
	// [AppendPretty]. Set Writer.Color to colour it.
	Pretty
)

// String returns "text", "json" or "pretty".
func (f Format) String() string {
	switch f {
	case Text:
		return "text"
	case JSON:
		return "json"
	case Pretty:
		return "pretty"
	}
	return fmt.Sprintf("format(%d)", int(f))
}

// ParseFormat parses the names String returns.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "text":
		return Text, nil
	case "json":
		return JSON, nil
	case "pretty":
		return Pretty, nil
	}
	return 0, fmt.Errorf("sink: unknown format %q (want text, json or pretty)", s)
}

// MarshalText returns the format's name, so a Format reads well in JSON, YAML and flags.
func (f Format) MarshalText() ([]byte, error) {
	if f < Text || f > Pretty {
		return nil, fmt.Errorf("sink: invalid format %d", int(f))
	}
	return []byte(f.String()), nil
}

// UnmarshalText parses what ParseFormat accepts, so a Format works with flag.TextVar and in
// YAML or JSON settings.
func (f *Format) UnmarshalText(b []byte) error {
	v, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("sink: writer closed")

// Writer is a sink that writes each batch to Out in a single Write call, so lines from one
// batch are never interleaved with other output on the same file. The zero value writes text
// lines to standard output.
type Writer struct {
	Out    io.Writer // nil means os.Stdout
	Format Format
	Color  bool // colour the Pretty format with ANSI escapes

	mu     sync.Mutex
	buf    []byte
	closed bool
}

// Write renders the batch and writes it. It returns Out's error, if any; a short write is an
// error too (io.ErrShortWrite).
func (w *Writer) Write(ctx context.Context, batch []message.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if len(batch) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sink: writing %d messages: %w", len(batch), err)
	}
	b := w.buf[:0]
	for i := range batch {
		switch w.Format {
		case JSON:
			b = batch[i].AppendJSON(b)
		case Pretty:
			b = AppendPretty(b, &batch[i], w.Color)
		default:
			b = AppendText(b, &batch[i])
		}
		b = append(b, '\n')
	}
	w.buf = b
	out := w.Out
	if out == nil {
		out = os.Stdout
	}
	n, err := out.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if cap(w.buf) > 1<<20 {
		w.buf = nil // one huge batch should not pin its buffer for the life of the sink
	}
	if err != nil {
		return fmt.Errorf("sink: writing %d messages: %w", len(batch), err)
	}
	return nil
}

// Close makes later writes fail. It does not close Out, which the Writer does not own.
func (w *Writer) Close(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.buf = nil
	return nil
}

// AppendText appends the text line of m (without the newline) to b: the time in UTC to the
// millisecond, the level, "event" for engine events or else the container name (the host when
// there is no container), and the text with newlines escaped so one message stays one line.
func AppendText(b []byte, m *message.Message) []byte {
	b = m.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, ' ')
	b = append(b, m.Level.String()...)
	b = append(b, ' ')
	switch {
	case m.Kind == message.KindEvent:
		b = append(b, "event"...)
	case m.Container.Name != "":
		b = append(b, m.Container.Name...)
	case m.Host != "":
		b = append(b, m.Host...)
	default:
		b = append(b, '-')
	}
	b = append(b, ' ')
	return appendOneLine(b, m.Text)
}

func appendOneLine(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "\n\r") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		default:
			b = append(b, s[i])
		}
	}
	return b
}
