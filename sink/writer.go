package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"unicode/utf8"

	"github.com/qnib/qwatch/internal/rfc3339"
	"github.com/qnib/qwatch/message"
)

// Format selects how a Writer renders messages.
type Format int

const (
	// Text writes one line per message: time, level, container (or host, or "event" for an
	// engine event) and text; see [AppendText]. As in
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
// error too (io.ErrShortWrite). After Close it returns ErrClosed, and with ctx already done
// the context's error; either way it writes nothing.
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
// there is no container, "-" when there is neither), and the text, with control characters
// and invalid UTF-8 escaped so that one message stays one line and cannot send terminal
// escapes.
func AppendText(b []byte, m *message.Message) []byte {
	b = rfc3339.AppendUTC(b, m.Time, 3)
	b = append(b, ' ')
	b = append(b, m.Level.String()...)
	b = append(b, ' ')
	switch {
	case m.Kind == message.KindEvent:
		b = append(b, "event"...)
	case m.Container.Name != "":
		b = appendSafe(b, m.Container.Name)
	case m.Host != "":
		b = appendSafe(b, m.Host)
	default:
		b = append(b, '-')
	}
	b = append(b, ' ')
	return appendSafe(b, m.Text)
}

// appendSafe appends s so that it stays on one line and cannot drive a terminal: newlines,
// carriage returns and tabs as \n, \r and \t, every other control character (ESC included)
// and each byte of invalid UTF-8 as \xNN, C1 controls as \u00NN. A log line can then neither
// forge another line nor send escape sequences.
func appendSafe(b []byte, s string) []byte {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	b = append(b, s[:i]...) // the common case: all plain ASCII
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			b = append(b, c)
			i++
			continue
		}
		if c < 0x80 {
			switch c {
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, `\x`...)
				b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\x`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		case r < 0xa0: // C1 controls, such as CSI
			b = append(b, `\u00`...)
			b = append(b, hexDigits[r>>4], hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

const hexDigits = "0123456789abcdef"
