package dockerlogs

import (
	"io"
	"strings"
	"sync"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/message"
)

// maxBatch is how many events an outbox holds before it hands them on, whatever else is
// still to read: it bounds the memory of a container's batch, and how long the first event
// of a long read waits.
const maxBatch = 128

// outbox gathers the events of one container's streams, as their multi-line streams emit
// them, and hands them on as one batch: before each read that may wait for the engine (the
// end of what one read brought), at each tick, when it holds maxBatch events, and when the
// streams end. A read of many lines then costs the Hub one hand-off, not one a line.
//
// A stream's checkpoint is advanced once a batch is handed on, to the last of its events in
// the batch that is not a part of a group that goes on: never past a line not handed on yet.
type outbox struct {
	// mu is held while a batch is handed on, so that batches go out in the order of their
	// events, whichever goroutine (the reader, the ticker) hands them on.
	mu           sync.Mutex
	emit         func([]message.Message)
	msgs         []message.Message
	lines, bytes uint64
	ws           []*lineWriter // the streams whose events it gathers
}

// add takes an event of w's stream, whose last line is at last; partial says it is a part of
// a group that goes on.
func (o *outbox) add(w *lineWriter, m *message.Message, last position, partial bool) {
	lines, size := 1, len(m.Text)
	if len(m.Fields) > 1 { // a stream's own map holds only "stream"
		if _, grouped := m.Fields[multiline.FieldKind]; grouped {
			lines = strings.Count(m.Text, "\n") + 1
			size -= lines - 1
		}
	}
	o.mu.Lock()
	o.msgs = append(o.msgs, *m)
	o.lines += uint64(lines)
	o.bytes += uint64(size)
	if !partial {
		w.done, w.hasDone = last, true
	}
	full := len(o.msgs) >= maxBatch
	o.mu.Unlock()
	if full {
		o.flush()
	}
}

// flush hands on the events gathered, counts them, and advances the streams' checkpoints.
func (o *outbox) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.msgs) == 0 {
		return
	}
	o.emit(o.msgs)
	clear(o.msgs) // the texts are the Hub's now: let them go with it
	o.msgs = o.msgs[:0]
	s := o.ws[0].f.src
	s.lines.Add(o.lines)
	s.bytes.Add(o.bytes)
	o.lines, o.bytes = 0, 0
	for _, w := range o.ws {
		if w.hasDone {
			w.hasDone = false
			s.advance(w.f.id, w.stream, w.done.Time, w.done.Count)
			if w.track != nil {
				w.track.emitted(w.done.seq)
			}
		}
	}
}

// flushing is a logs stream that has the outbox hand on what it gathered before each read:
// a read may wait for the engine, and the lines read must not wait with it.
type flushing struct {
	r   io.Reader
	box *outbox
}

func (f flushing) Read(p []byte) (int, error) {
	f.box.flush()
	return f.r.Read(p)
}

// eachOf turns the emit of Run, one message at a time, into that of RunBatch.
func eachOf(emit func(message.Message)) func([]message.Message) {
	return func(batch []message.Message) {
		for i := range batch {
			emit(batch[i])
		}
	}
}
