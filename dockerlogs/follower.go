package dockerlogs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/message"
)

// follower reads one container's logs until the stream ends (the container stopped) or ctx is
// done.
type follower struct {
	src       *Source
	id        string
	base      message.Message // the container's fields, copied into each line
	rule      multiline.Rule  // how its lines are grouped, from its labels
	destroyed bool            // the container was destroyed while followed (Source.mu)
	died      chan struct{}   // a die event came: a file reader asks whether it still runs
}

// run follows the container; it returns why the container is skipped, or "". A container
// just started (fresh) that is gone already, or exited with --rm, is not asked for its logs:
// what the attachment made at its creation read (attachEarly) is emitted instead.
func (f *follower) run(ctx context.Context, fresh bool, attrs map[string]string, emit func([]message.Message)) string {
	s := f.src
	if reason := s.skipByAttributes(f.id, attrs); reason != "" {
		s.dropEarly(f.id)
		return reason
	}
	info, err := s.client.ContainerInspect(ctx, f.id)
	gone := err != nil || info.State == nil || (!info.State.Running && info.HostConfig != nil && info.HostConfig.AutoRemove)
	if fresh && gone {
		s.mu.Lock()
		reason := s.decided[f.id]
		s.mu.Unlock()
		if reason != "" {
			return reason // a GELF-driver --rm container, say: not missed, skipped
		}
		// Gone or exited already: asking for its logs now would race the engine's removal
		// of a --rm container (the engine would open a log file in a directory it is
		// deleting). What the attachment at creation read is all there is.
		if c := s.takeEarly(f.id); c != nil {
			f.replay(ctx, c, attrs, emit)
		} else {
			// Its lines went with it: the engine removed a --rm container before an API reader
			// could attach. Counted, never silent.
			s.countMissed(attrs["name"])
		}
		return ""
	}
	if err != nil {
		if ctx.Err() == nil {
			s.attachErrors.Add(1)
			s.log.Warn("dockerlogs: inspecting container", "id", short(f.id), "err", err)
		}
		return ""
	}
	if reason := s.skip(info); reason != "" {
		s.dropEarly(f.id)
		return reason
	}
	f.base = baseMessage(info, s.host)
	f.rule = s.rule(f.id, f.base.Container.Name, f.base.Container.Labels)
	ck := s.loadCheckpoint(f.id)
	if !fresh && ck != nil && info.State != nil && !info.State.Running && ck.Read == info.State.StartedAt {
		return "" // stopped, and read to its end before
	}
	path, why := s.logFile(info)
	if path != "" && f.readFile(ctx, fresh, info, ck, path, emit) {
		return ""
	}
	if path != "" {
		why = "file not readable"
	}
	s.apiReads.Add(1)
	s.log.Debug("dockerlogs: reading container logs", "container", f.base.Container.Name, "reader", ReaderAPI, "why", why)
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Timestamps: true}
	started := startedAt(info)
	switch {
	case ck != nil:
		opts.Since = since(ck.earliest())
	case fresh || !started.Before(s.runStart.Add(-time.Second)):
		// Started while the Source runs: every line, from the first.
	default:
		opts.Since = since(s.runStart) // running before, with no checkpoint: from now on
	}
	out, errw := f.writers(emit, ck, time.Time{})
	defer s.tick(out, errw)()
	if ck != nil && !fresh {
		// What it wrote while not followed is read first, a limited number of containers at
		// a time; then it is followed from where that read ended.
		if !f.backfill(ctx, opts, out, errw) {
			f.end(ctx, out, errw)
			return ""
		}
		if from, ok := resumeFrom(out, errw); ok {
			opts.Since = from
		}
		out.rewind()
		errw.rewind()
	}
	body, err := s.client.ContainerLogs(ctx, f.id, opts)
	early := s.takeEarly(f.id)
	if err != nil {
		if ctx.Err() == nil {
			if strings.Contains(err.Error(), "does not support reading") {
				early.stop()
				f.end(ctx, out, errw)
				return "unreadable_driver"
			}
			if early != nil {
				// It exited and went in the meantime: what a backfill read, then what the
				// attachment did.
				f.end(ctx, out, errw)
				f.replay(ctx, early, attrs, emit)
				return ""
			}
			s.attachErrors.Add(1)
			s.log.Warn("dockerlogs: reading container logs", "id", short(f.id), "err", err)
		}
		f.end(ctx, out, errw)
		return ""
	}
	early.stop()
	defer body.Close()
	err = copyStreams(body, out, errw)
	if err != nil && ctx.Err() == nil && !errors.Is(err, io.EOF) {
		s.attachErrors.Add(1)
		s.log.Warn("dockerlogs: log stream broke", "container", f.base.Container.Name, "err", err)
	}
	if ctx.Err() == nil && (info.HostConfig == nil || !info.HostConfig.AutoRemove) {
		// A follow stream can end at the container's exit before it has sent every line the
		// engine wrote; read once more from the last position, skipping what was taken. (Not
		// for a --rm container: asking now would race the engine's removal.)
		f.drain(ctx, opts, out, errw)
		f.end(ctx, out, errw)
		if info, err := s.client.ContainerInspect(ctx, f.id); err == nil && info.State != nil && !info.State.Running {
			s.readToEnd(f.id, info.State.StartedAt)
		}
		return ""
	}
	f.end(ctx, out, errw)
	return ""
}

// writers returns the writers of the container's stdout and stderr, which skip the lines up
// to the checkpoint ck (nil: none), or stamp their lines with stampAt when it is not zero.
// They share an outbox, which hands their events to emit.
func (f *follower) writers(emit func([]message.Message), ck *checkpoint, stampAt time.Time) (out, errw *lineWriter) {
	box := &outbox{emit: emit}
	out = &lineWriter{f: f, stream: "stdout", level: message.LevelInfo, box: box, ck: ck.stream("stdout"), stampAt: stampAt}
	errw = &lineWriter{f: f, stream: "stderr", level: message.LevelErr, box: box, ck: ck.stream("stderr"), stampAt: stampAt}
	box.ws = []*lineWriter{out, errw}
	for _, w := range box.ws {
		w.fields = map[string]any{"stream": w.stream}
		if f.rule != multiline.Off {
			w.group = multiline.NewStream(f.src.cfg.Multiline, f.rule, f.src.budget, w.emitEvent)
		}
	}
	return out, errw
}

// end ends the writers when their streams end. When the Source stops and keeps checkpoints,
// what they hold (a group maybe still open, a line begun in pieces) is dropped unemitted: the
// checkpoints stay before it, and the next run reads it again and groups it whole. Otherwise
// (the container stopped, its stream broke, or there are no checkpoints to read it again
// from) it is emitted as far as it goes.
func (f *follower) end(ctx context.Context, out, errw *lineWriter) {
	keep := ctx.Err() != nil && f.src.cfg.StateDir != ""
	for _, w := range []*lineWriter{out, errw} {
		if keep {
			w.discard()
		} else {
			w.finish()
		}
	}
	out.box.flush()
}

// tick calls Tick on the writers' streams every Config.Multiline.TickEvery, so that what they
// hold goes out when no line follows it, and has their outbox hand it on, until the function
// it returns is called; that function waits for the ticks to end. Writers that group nothing
// (rule off) hold nothing: no ticks.
func (s *Source) tick(ws ...*lineWriter) (stop func()) {
	if ws[0].group == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(s.cfg.Multiline.TickEvery())
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				for _, w := range ws {
					w.group.Tick(now)
				}
				ws[0].box.flush()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// resumeFrom returns the time a second read of the container's logs starts from: the
// earliest of where the writers got to; "" and false when neither took a line nor has a
// checkpoint.
func resumeFrom(out, errw *lineWriter) (string, bool) {
	var from time.Time
	ok := false
	for _, w := range []*lineWriter{out, errw} {
		if p := w.resumeAt(); p != nil && (!ok || p.Time.Before(from)) {
			from, ok = p.Time, true
		}
	}
	if !ok {
		return "", false
	}
	return since(from), true
}

// drain reads the container's logs once more, without following, from the position the
// writers reached, so that no line the engine wrote before the container exited is missed.
func (f *follower) drain(ctx context.Context, opts container.LogsOptions, out, errw *lineWriter) {
	from, ok := resumeFrom(out, errw)
	if !ok {
		return // nothing taken: the first read started from the first line
	}
	opts.Follow, opts.Since = false, from
	body, err := f.src.client.ContainerLogs(ctx, f.id, opts)
	if err != nil {
		return
	}
	defer body.Close()
	out.rewind()
	errw.rewind()
	copyStreams(body, out, errw)
}

// backfill reads, without following, what the container wrote from its checkpoint until now,
// holding one of Config.MaxBackfills places. It reports false when ctx ended first.
func (f *follower) backfill(ctx context.Context, opts container.LogsOptions, out, errw *lineWriter) bool {
	s := f.src
	release, ok := s.backfillPlace(ctx)
	if !ok {
		return false
	}
	defer release()
	opts.Follow, opts.Until = false, since(time.Now())
	body, err := s.client.ContainerLogs(ctx, f.id, opts)
	if err != nil {
		return ctx.Err() == nil // the follow stream will say what is wrong
	}
	defer body.Close()
	if err := copyStreams(body, out, errw); err != nil && ctx.Err() == nil && !errors.Is(err, io.EOF) {
		s.attachErrors.Add(1)
		s.log.Warn("dockerlogs: reading what a container wrote while not followed", "container", f.base.Container.Name, "err", err)
	}
	return ctx.Err() == nil
}

// backfillPlace waits for one of Config.MaxBackfills places and returns the function that
// gives it back; false when ctx ended first.
func (s *Source) backfillPlace(ctx context.Context) (func(), bool) {
	s.backfillsWaiting.Add(1)
	defer s.backfillsWaiting.Add(-1)
	select {
	case s.backfills <- struct{}{}:
		return func() { <-s.backfills }, true
	case <-ctx.Done():
		return nil, false
	}
}

// copyStreams reads a logs stream to its end into the writers: stdcopy frames, or a TTY
// container's raw stream. What the writers emit is handed on before each read from body and
// at the end.
func copyStreams(body io.Reader, out, errw *lineWriter) error {
	defer out.box.flush()
	br := bufio.NewReaderSize(flushing{body, out.box}, frameBuffer)
	if multiplexed(br) {
		return demux(br, out, errw)
	}
	return copyRaw(out, br)
}

// frameBuffer is the size of the buffer frames are read into: a frame that fits is handed to
// its writer where it lies.
const frameBuffer = 64 << 10

// demux reads stdcopy frames to the stream's end, as stdcopy.StdCopy does, and writes each
// frame's payload to out (stdin and stdout) or errw (stderr); a frame of the engine's errors
// (stream 3) ends the read with that error. A payload that fits in br's buffer is written
// from where it lies there: StdCopy copies each into a buffer of its own, and then moves the
// whole rest of that buffer (32 KiB) to its front, which costs more than all the rest of the
// reading when, as the logs API sends them, the frames are single lines. As with StdCopy, a
// stream that ends within a frame ends the read without an error.
func demux(br *bufio.Reader, out, errw io.Writer) error {
	var big bytes.Buffer // a payload larger than br's buffer, as it comes
	for {
		h, err := br.Peek(stdcopyHeader)
		if len(h) < stdcopyHeader {
			return cleanEOF(err)
		}
		stream, size := h[0], int(binary.BigEndian.Uint32(h[4:]))
		w := out
		switch stream {
		case 0, 1:
		case 2:
			w = errw
		case 3:
			w = nil
		default:
			return fmt.Errorf("unrecognized stream %d in the logs' frames", stream)
		}
		var payload []byte
		inPlace := stdcopyHeader+size <= br.Size()
		if inPlace {
			frame, err := br.Peek(stdcopyHeader + size)
			if len(frame) < stdcopyHeader+size {
				return cleanEOF(err)
			}
			payload = frame[stdcopyHeader:]
		} else {
			br.Discard(stdcopyHeader)
			big.Reset()
			if _, err := io.CopyN(&big, br, int64(size)); err != nil {
				return cleanEOF(err)
			}
			payload = big.Bytes()
		}
		if w == nil {
			return fmt.Errorf("error from the engine in the logs stream: %s", payload)
		}
		if _, err := w.Write(payload); err != nil {
			return err
		}
		if inPlace {
			br.Discard(stdcopyHeader + size)
		}
	}
}

// stdcopyHeader is the length of a stdcopy frame's header: the stream, three zero bytes and
// the payload's length.
const stdcopyHeader = 8

// cleanEOF is the error a read of frames ends with when a read of its stream failed with err:
// none at the stream's end.
func cleanEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// replay emits what the attachment at creation read of a container that was gone before its
// logs could be read, stamped with the time it was read.
func (f *follower) replay(ctx context.Context, c *capture, attrs map[string]string, emit func([]message.Message)) {
	select {
	case <-c.done:
	case <-time.After(earlyWaitDone):
		c.cancel()
		<-c.done
	case <-ctx.Done():
		c.cancel()
		<-c.done
	}
	f.base = attributeMessage(f.id, attrs, f.src.host)
	f.rule = f.src.rule(f.id, f.base.Container.Name, f.base.Container.Labels)
	c.mu.Lock()
	data, at, cut := c.buf.Bytes(), c.at, c.cut
	c.mu.Unlock()
	if len(data) == 0 {
		// It printed nothing, or the attachment came after it had printed and exited: the
		// two cannot be told apart, so it is counted as missed.
		f.src.countMissed(attrs["name"])
		return
	}
	// Read to its end at once, and never to be read again: no ticks, and all emitted.
	out, errw := f.writers(emit, nil, at)
	copyStreams(bytes.NewReader(data), out, errw)
	out.finish()
	errw.finish()
	out.box.flush()
	if cut {
		f.src.truncated.Add(1)
	}
}

// stop ends a capture that is not needed; it is safe on nil.
func (c *capture) stop() {
	if c != nil {
		c.cancel()
	}
}

// multiplexed tells a stdcopy stream (an 8-byte header: stream 0, 1 or 2, three zero bytes,
// a length) from a TTY container's raw one, which starts with a timestamp.
func multiplexed(br *bufio.Reader) bool {
	h, err := br.Peek(8)
	return err == nil && h[0] <= 2 && h[1] == 0 && h[2] == 0 && h[3] == 0
}

// attributeMessage is what the start event told of a container already gone.
func attributeMessage(id string, attrs map[string]string, host string) message.Message {
	m := message.Message{Kind: message.KindLog, Host: host}
	m.Container.ID, m.Container.Name, m.Container.ImageName = id, attrs["name"], attrs["image"]
	labels := map[string]string{}
	for k, v := range attrs {
		if k != "name" && k != "image" {
			labels[k] = v
		}
	}
	if len(labels) > 0 {
		m.Container.Labels = labels
	}
	return m
}

func since(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

func short(id string) string { return id[:min(12, len(id))] }

// baseMessage is what every line of the container carries.
func baseMessage(info container.InspectResponse, host string) message.Message {
	m := message.Message{Kind: message.KindLog, Host: host}
	m.Container.ID = info.ID
	m.Container.Name = strings.TrimPrefix(info.Name, "/")
	m.Container.ImageID = info.Image
	if info.Config != nil {
		m.Container.ImageName = info.Config.Image
		m.Container.Labels = info.Config.Labels
	}
	m.Container.Command = strings.TrimSpace(info.Path + " " + strings.Join(info.Args, " "))
	m.Container.Created, _ = time.Parse(time.RFC3339Nano, info.Created)
	return m
}

// copyRaw reads a TTY container's stream, which comes without stdcopy frames. With time
// stamps the entries follow one another with nothing between them: an entry is
// "TIMESTAMP TEXT", its TEXT ending in a newline, or, for a piece of a longer line, exactly
// pieceSize bytes long. Only the local driver ends the last piece of a cut line with no
// newline; the next entry's time stamp follows the terminal's carriage return at once, and
// that is where the piece ends. What an attachment read (w.stampAt) has no time stamps and
// is read line by line.
func copyRaw(w *lineWriter, br *bufio.Reader) error {
	if !w.stampAt.IsZero() {
		for {
			line, err := br.ReadSlice('\n')
			if len(line) > 0 {
				w.Write(line)
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return err
			}
		}
	}
	entry := make([]byte, 0, 64+pieceSize)
	for {
		ts, err := br.ReadSlice(' ')
		entry = append(entry[:0], ts...)
		if err == nil {
			entry, err = readRawText(br, entry, len(entry)+pieceSize, w.partial != nil)
		}
		if len(entry) > 0 {
			w.entry(entry)
		}
		if err != nil {
			return err
		}
	}
}

// stamp is the form of the engine's time stamps, d for a digit, with the space after them.
const stamp = "dddd-dd-ddTdd:dd:dd.dddddddddZ "

// readRawText appends to entry the TEXT of a raw entry: through its newline, or up to limit
// bytes. In a line cut into pieces (cont), a time stamp ends the TEXT too, right after a
// carriage return or at once: the local driver's last piece may be empty.
func readRawText(br *bufio.Reader, entry []byte, limit int, cont bool) ([]byte, error) {
	ends := "\n"
	if cont {
		if stampFollows(br) {
			return entry, nil
		}
		ends = "\r\n"
	}
	for len(entry) < limit {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				return entry, err
			}
		}
		buf, _ := br.Peek(min(br.Buffered(), limit-len(entry)))
		i := bytes.IndexAny(buf, ends)
		if i < 0 {
			entry = append(entry, buf...)
			br.Discard(len(buf))
			continue
		}
		entry = append(entry, buf[:i+1]...)
		br.Discard(i + 1)
		if buf[i] == '\n' || stampFollows(br) {
			return entry, nil
		}
	}
	return entry, nil
}

// stampFollows reports whether the next bytes are a time stamp. It waits for more bytes only
// while those at hand begin like one: then they are the next entry, which the engine writes
// whole.
func stampFollows(br *bufio.Reader) bool {
	n := max(1, min(br.Buffered(), len(stamp)))
	for {
		next, err := br.Peek(n)
		for i, c := range next {
			if want := stamp[i]; (want == 'd' && (c < '0' || c > '9')) || (want != 'd' && c != want) {
				return false
			}
		}
		if err != nil || len(next) == len(stamp) {
			return err == nil
		}
		n = len(next) + 1
	}
}

// pieceSize is the size of the pieces the engine cuts longer lines into (its log copier's
// buffer), each sent as an entry of its own.
const pieceSize = 16 << 10

// lineWriter takes one stream's log entries, "TIMESTAMP TEXT", each a whole line ending in a
// newline or a piece of a longer one without it (the engine splits lines at 16 KiB, each piece
// with a timestamp of its own), puts whole lines into its multi-line stream, and emits what
// that stream makes of them.
type lineWriter struct {
	f      *follower
	stream string
	level  message.Level
	box    *outbox
	group  *multiline.Stream[position] // positions are the checkpoint's, each line's own included; nil with rule off
	fields map[string]any              // the Fields of every line: the stream's name
	keys   []string                    // the keys of the lines' IDs, by ordinal: most lines have ordinal 0

	done    position // the last line of the events in box that ends no part of a group (box.mu)
	hasDone bool

	ck       *position // the checkpoint: lines up to it are skipped
	stampAt  time.Time // entries come without timestamps: stamp them with this
	resuming bool
	started  bool
	taken    position // how far lines were taken into the stream, emitted or still held
	took     bool     // a line was taken since the writer began or rewound

	partial   []byte    // a line begun by pieces without a newline
	partialAt time.Time // the time of its first piece
	pieces    int
	cut       bool

	last   time.Time // the time of the last line
	ord    int       // lines at exactly last so far
	stamps stampParser

	track *heldLines // where the lines taken and not emitted begin in the file; nil reading the API
}

// Write takes one or more entries; an entry never spans two calls (demux hands over whole
// frames), except in what an attachment read of a TTY container, taken in 64 KiB slices.
func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		entry := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			entry, p = p[:i+1], p[i+1:]
		} else {
			p = nil
		}
		w.entry(entry)
	}
	return n, nil
}

func (w *lineWriter) entry(e []byte) {
	var at time.Time
	text := e
	if !w.stampAt.IsZero() {
		at = w.stampAt
	} else if ts, rest, ok := bytes.Cut(e, []byte{' '}); ok {
		if t, ok := w.stamps.parse(ts); ok {
			at, text = t, rest
		} else {
			at = w.partialAt // no time stamp, which the engine always sends: part of the line before
		}
	} else {
		at = w.partialAt
	}
	w.piece(at, text)
}

// piece takes one entry's text, stamped at: a whole line ending in a newline, or a piece of
// a longer one.
func (w *lineWriter) piece(at time.Time, text []byte) {
	if w.partial != nil && !at.Equal(w.partialAt) {
		w.flushPieces() // the pieces of a line share its time: that line ended
	}
	if w.partial == nil && w.track != nil {
		w.track.begin()
	}
	// The engine cuts lines into pieces of pieceSize bytes. json-file ends a line's last piece
	// with a newline; the local driver does not, so a shorter piece ends a line too.
	complete := bytes.HasSuffix(text, []byte{'\n'}) || (len(text) < pieceSize && w.stampAt.IsZero())
	text = bytes.TrimSuffix(text, []byte{'\n'})
	if w.partial == nil && !complete {
		w.partialAt = at
	}
	if w.partial != nil || !complete {
		if w.partial == nil {
			w.partial = make([]byte, 0, 2*len(text))
		}
		w.pieces++
		room := w.f.src.cfg.MaxLineBytes - len(w.partial)
		if len(text) > room {
			text, w.cut = text[:max(room, 0)], true
		}
		w.partial = append(w.partial, text...)
		if !complete {
			return
		}
		at, text = w.partialAt, w.partial
	}
	w.end(at, text)
}

// end takes a whole line and starts the next. Only a line taken counts as joined or
// truncated: one skipped by a checkpoint was counted when it was taken.
func (w *lineWriter) end(at time.Time, text []byte) {
	if w.line(at, text) {
		if w.pieces > 1 {
			w.f.src.joined.Add(1)
		}
		if w.cut {
			w.f.src.truncated.Add(1)
		}
	}
	w.partial, w.pieces, w.cut = nil, 0, false
}

// resumeAt returns the position a second read of the stream resumes after: the last line
// taken, or the checkpoint if none was; nil if there is neither.
func (w *lineWriter) resumeAt() *position {
	if w.took {
		p := w.taken
		return &p
	}
	return w.ck
}

// rewind makes the writer skip what a second read of the same logs repeats: the lines up to
// resumeAt. What its stream holds stays: the second read goes on after it, as if the first
// had not ended. A line begun in pieces and not ended is dropped, not taken: it comes again,
// whole, in the second read.
func (w *lineWriter) rewind() {
	w.ck = w.resumeAt()
	w.partial, w.pieces, w.cut = nil, 0, false
	w.started, w.resuming, w.took = false, false, false
	w.last, w.ord = time.Time{}, 0
}

// finish takes a line whose end did not come, and emits all the stream holds: the stream
// ended.
func (w *lineWriter) finish() {
	w.flushPieces()
	if w.group != nil {
		w.group.Flush()
	}
}

// discard forgets what the stream holds, unemitted: it will be read again.
func (w *lineWriter) discard() {
	if w.group != nil {
		w.group.Discard()
	}
}

// flushPieces takes a line whose end did not come: the stream ended, or the next entry began
// another line.
func (w *lineWriter) flushPieces() {
	if w.partial != nil {
		w.end(w.partialAt, w.partial)
	}
}

// emitEvent is the stream's emit: it puts a line or a group of lines in the outbox, which,
// unless the event is a part of a group that goes on, advances the checkpoint to its last
// line once it has handed it on, so that the checkpoint never passes the first line of a
// group still open.
func (w *lineWriter) emitEvent(m message.Message, last position, partial bool) {
	w.box.add(w, &m, last, partial)
}

// line takes one whole line into the stream, unless the checkpoint shows it taken before; it
// reports whether it did.
func (w *lineWriter) line(at time.Time, text []byte) bool {
	if at.Equal(w.last) {
		w.ord++
	} else {
		w.last, w.ord = at, 0
	}
	if !w.started {
		w.started, w.resuming = true, w.ck != nil
	}
	if w.resuming {
		if at.Before(w.ck.Time) || (at.Equal(w.ck.Time) && w.ord < w.ck.Count) {
			w.f.src.resumed.Add(1)
			if w.track != nil {
				w.track.dropPending()
			}
			return false
		}
		w.resuming = false // past the checkpoint: from here no line is dropped for its time
	}
	text = bytes.TrimSuffix(text, []byte{'\r'})
	m := w.f.base
	m.Time, m.Level, m.Text = at, w.level, string(text)
	m.Fields = w.fields
	m.ID = message.DerivedID(at, w.key(w.ord))
	p := position{Time: at, Count: w.ord + 1}
	if w.track != nil {
		p.seq = w.track.take()
	}
	if !w.took {
		w.taken, w.took = p, true
	} else {
		w.taken.advance(p)
	}
	if w.group == nil {
		w.box.add(w, &m, p, false) // rule off: every line an event of its own, at once
	} else {
		w.group.Add(m, p)
	}
	return true
}

// maxKeys is how many ordinals' keys a writer keeps.
const maxKeys = 16

// key returns the key of the ID of the stream's line with ordinal ord among the lines at its
// time stamp: the container, the stream and the ordinal.
func (w *lineWriter) key(ord int) string {
	if ord < len(w.keys) {
		return w.keys[ord]
	}
	k := w.f.id + "/" + w.stream + "/" + strconv.Itoa(ord)
	if ord == len(w.keys) && ord < maxKeys {
		w.keys = append(w.keys, k)
	}
	return k
}

// countMissed counts a --rm container whose output could not be read.
func (s *Source) countMissed(name string) {
	n := s.missed.Add(1)
	s.missLog.Do(func() {
		s.log.Warn("dockerlogs: a --rm container exited and was removed before its output could be read (logged at most once a second)",
			"container", name, "missed_total", n)
	})
}
