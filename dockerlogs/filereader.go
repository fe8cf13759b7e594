package dockerlogs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/qnib/qwatch/message"
)

// Reading a container's json-file.
//
// The file is read in big blocks, its lines decoded where they lie in the buffer, and followed
// by polling: at its end the reader waits pollMin, doubling up to pollMax while nothing
// comes, so an idle container's new line is read within pollMax, and a busy one's without
// waiting. The engine rotates the file (max-size, max-file) by renaming NAME to NAME.1, NAME.1
// to NAME.2 and so on, and creating NAME anew. The reader holds the file it reads open, so a
// renamed (or deleted) file is read to its end before the next is opened; the next is the one
// whose name's number is one less than the current file's now, found by the current file's
// device and inode, not by name, so that several rotations while the reader was behind are
// read oldest first, each once.
const (
	pollMin     = time.Millisecond
	pollMax     = 200 * time.Millisecond
	readBuffer  = 256 << 10
	diedRecheck = 10 * time.Second // how often a waiting reader asks whether its container still runs
)

// Reader values of Config.Reader.
const (
	ReaderAuto = "auto"
	ReaderAPI  = "api"
	ReaderFile = "file"
)

// logFile returns the path to read a container's log from, or "" and why its logs are read
// through the API.
func (s *Source) logFile(info container.InspectResponse) (string, string) {
	switch {
	case s.cfg.Reader == ReaderAPI:
		return "", "configured"
	case info.HostConfig == nil || info.HostConfig.LogConfig.Type != "json-file":
		return "", "driver"
	case info.LogPath == "":
		return "", "no log path"
	case s.cfg.Reader != ReaderFile && !s.local:
		return "", "remote engine"
	}
	p := info.LogPath
	if s.cfg.DataRoot != "" {
		root := s.rootDir
		if root == "" {
			root = "/var/lib/docker"
		}
		if rest, ok := strings.CutPrefix(p, strings.TrimSuffix(root, "/")+"/"); ok {
			p = strings.TrimSuffix(s.cfg.DataRoot, "/") + "/" + rest
		}
	}
	return p, ""
}

// fileReader reads one container's json-file and its rotated predecessors.
type fileReader struct {
	f         *follower
	path      string
	file      *os.File
	cur       place // the file read now, Offset where buf[start:] begins
	buf       []byte
	start     int
	end       int
	dec       entryDecoder
	from      time.Time // lines before it are not read (no checkpoint: followed from then)
	out, errw *lineWriter
	died      <-chan struct{}
}

// nameOf is the name of the file with the number k: the base name for 0.
func (r *fileReader) nameOf(k int) string {
	if k == 0 {
		return r.path
	}
	return r.path + "." + strconv.Itoa(k)
}

// names returns how many rotated files there are: NAME.1 … NAME.n, or NAME.k.gz.
func (r *fileReader) names() int {
	n := 0
	for {
		if _, err := os.Lstat(r.nameOf(n + 1)); err != nil {
			if _, err := os.Lstat(r.nameOf(n+1) + ".gz"); err != nil {
				return n
			}
		}
		n++
	}
}

// indexOf returns the number of the file with p's device and inode now, or -1.
func (r *fileReader) indexOf(p place) int {
	for k := 0; k <= r.names(); k++ {
		if st, err := os.Stat(r.nameOf(k)); err == nil {
			if dev, ino := fileKey(st); dev == p.Dev && ino == p.Ino {
				return k
			}
		}
	}
	return -1
}

// open makes f the file read, at offset, numbered seq.
func (r *fileReader) open(f *os.File, seq int, offset int64) error {
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return err
		}
	}
	if r.file != nil {
		r.file.Close()
	}
	r.file = f
	dev, ino := fileKey(st)
	r.cur = place{Dev: dev, Ino: ino, Seq: seq, Offset: offset}
	r.cur.Head, r.cur.HeadLen = hashPrefix(f, int(min(st.Size(), headLen)))
	r.start, r.end = 0, 0
	return nil
}

// openAt opens the file at a checkpoint's place, if it is still there and the same file.
func (r *fileReader) openAt(p place) bool {
	k := r.indexOf(p)
	if k < 0 {
		return false
	}
	f, err := os.Open(r.nameOf(k))
	if err != nil {
		return false
	}
	st, err := f.Stat()
	if err != nil || !p.sameFile(f, st) || st.Size() < p.Offset {
		f.Close()
		return false
	}
	if r.open(f, p.Seq, p.Offset) != nil {
		return false
	}
	r.out.setMark(p.Out)
	r.errw.setMark(p.Err)
	return true
}

// openOldest opens the oldest file that is not compressed, from its start; with from, the
// newest one that begins before it, near where from is.
func (r *fileReader) openOldest(from time.Time) error {
	n := r.names()
	var first error
	for k := n; k >= 0; k-- {
		f, err := os.Open(r.nameOf(k))
		if err != nil {
			if first == nil && !errors.Is(err, fs.ErrNotExist) {
				first = err
			}
			continue
		}
		if !from.IsZero() && k > 0 {
			if t, ok := r.firstTime(f, 0); ok && t.Before(from) {
				if later, ok := r.firstTimeOf(k - 1); ok && later.Before(from) {
					f.Close()
					continue // the next file begins before from too: start there
				}
			}
		}
		var off int64
		if !from.IsZero() {
			off = r.seekTime(f, from)
		}
		return r.open(f, 0, off)
	}
	if first == nil {
		first = fs.ErrNotExist
	}
	return first
}

func (r *fileReader) firstTimeOf(k int) (time.Time, bool) {
	f, err := os.Open(r.nameOf(k))
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	return r.firstTime(f, 0)
}

// firstTime returns the time of the first line that begins at or after off, and its offset.
func (r *fileReader) firstTime(f *os.File, off int64) (time.Time, bool) {
	t, _, ok := r.lineAfter(f, off)
	return t, ok
}

// lineAfter returns the time and offset of the first whole line that begins at or after off.
func (r *fileReader) lineAfter(f *os.File, off int64) (time.Time, int64, bool) {
	buf := make([]byte, 128<<10)
	from := max(off-1, 0)
	n, _ := f.ReadAt(buf, from)
	b := buf[:n]
	if off > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return time.Time{}, 0, false
		}
		b, from = b[i+1:], from+int64(i)+1
	}
	j := bytes.IndexByte(b, '\n')
	if j < 0 {
		return time.Time{}, 0, false
	}
	var d entryDecoder
	e, err := d.decode(b[:j])
	return e.time, from, err == nil
}

// seekTime returns the offset of a line start shortly before the first line at or after t
// (the file's lines come in time order), found by bisection: a long file is not read whole.
func (r *fileReader) seekTime(f *os.File, t time.Time) int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	lo, hi := int64(0), st.Size()
	for hi-lo > 64<<10 {
		mid := lo + (hi-lo)/2
		at, off, ok := r.lineAfter(f, mid)
		if !ok || !at.Before(t) {
			hi = mid
		} else {
			lo = off
		}
	}
	return lo
}

// next opens the file after the current one, which was renamed; false if there is none yet.
// Compressed files on the way are skipped and counted.
func (r *fileReader) next() bool {
	counted := false
	for range 10 {
		k := r.indexOf(r.cur)
		if k == 0 {
			return false
		}
		if k < 0 {
			// Deleted: every file there is comes after it, and those between may be gone.
			k = r.names() + 1
			if !counted {
				counted = true
				r.f.src.fellBehind.Add(1)
				r.f.src.log.Warn("dockerlogs: the engine deleted a log file the reader was still on; lines of the files after it may be lost (raise max-size or max-file)",
					"container", r.f.base.Container.Name, "file", r.path)
			}
		}
		for j := k - 1; j >= 0; j-- {
			f, err := os.Open(r.nameOf(j))
			if err != nil {
				if _, gz := os.Lstat(r.nameOf(j) + ".gz"); gz == nil {
					r.f.src.filesSkipped.Add(1)
					continue
				}
				break // not there yet: the engine is between renames
			}
			if k <= r.names() && r.indexOf(r.cur) != k {
				f.Close() // rotated again meanwhile: look again
				break
			}
			return r.open(f, r.cur.Seq+1, 0) == nil
		}
	}
	return false
}

// rotated reports whether the current file is no longer the one written.
func (r *fileReader) rotated() bool {
	st, err := os.Stat(r.path)
	if err != nil {
		return false // between the engine's rename and create, or removed with the container
	}
	dev, ino := fileKey(st)
	return dev != r.cur.Dev || ino != r.cur.Ino
}

// at is the place of the entry at buf[start]: used by the writers' heldLines.
func (r *fileReader) at() place {
	p := r.cur
	p.Out, p.Err = r.out.mark(), r.errw.mark()
	return p
}

// lines decodes and hands over every whole line in the buffer, and has the outbox hand on
// what they made.
func (r *fileReader) lines() {
	defer r.out.box.flush()
	for {
		i := bytes.IndexByte(r.buf[r.start:r.end], '\n')
		if i < 0 {
			return
		}
		line := r.buf[r.start : r.start+i]
		e, err := r.dec.decode(line)
		if err == nil && (r.from.IsZero() || !e.time.Before(r.from)) {
			w := r.out
			if e.stderr {
				w = r.errw
			}
			w.piece(e.time, e.log)
		} else if err != nil {
			r.f.src.fileErrors.Add(1)
		}
		r.start += i + 1
		r.cur.Offset += int64(i + 1)
	}
}

// fill reads what the file has into the buffer; it reports how many bytes came.
func (r *fileReader) fill() (int, error) {
	if r.start > 0 && (r.start == r.end || r.end == len(r.buf)) {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	if r.end == len(r.buf) {
		r.buf = append(r.buf, make([]byte, len(r.buf))...) // a line longer than the buffer
	}
	n, err := r.file.Read(r.buf[r.end:])
	r.end += n
	return n, err
}

// publish records where a read resumes: the start of the earliest line not emitted, or where
// the reader is.
func (r *fileReader) publish() {
	if r.cur.HeadLen < headLen {
		// Opened nearly empty (the engine had just created it): the hash takes in the
		// bytes that came since, up to headLen, so that the file is told from another.
		if n := min(r.cur.Offset+int64(r.end-r.start), headLen); n > int64(r.cur.HeadLen) {
			if h, m := hashPrefix(r.file, int(n)); m > r.cur.HeadLen {
				r.cur.Head, r.cur.HeadLen = h, m
			}
		}
	}
	p := r.at()
	for _, w := range []*lineWriter{r.out, r.errw} {
		if q, ok := w.track.first(); ok && q.before(p) {
			p = q
		}
	}
	r.f.src.advanceFile(r.f.id, p)
}

// truncated reports whether the file is shorter than what was read of it, and starts it
// again from its start if so.
func (r *fileReader) truncated() bool {
	st, err := r.file.Stat()
	if err != nil || st.Size() >= r.cur.Offset+int64(r.end-r.start) {
		return false
	}
	r.f.src.log.Warn("dockerlogs: container log file truncated; reading it from its start", "container", r.f.base.Container.Name)
	if _, err := r.file.Seek(0, io.SeekStart); err != nil {
		return false
	}
	r.cur.Offset, r.start, r.end = 0, 0, 0
	return true
}

// run reads until the container stopped (or was found stopped) and its file is read to its
// end, or ctx is done. release, when not nil, is called at the first end of file: a backfill's place is given back.
func (r *fileReader) run(ctx context.Context, stopped bool, release func()) error {
	defer r.file.Close()
	wait := pollMin
	var timer *time.Timer
	lastCheck := time.Now()
	for ctx.Err() == nil {
		n, err := r.fill()
		if n > 0 {
			r.lines()
			r.publish()
			wait = pollMin
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading %s: %w", r.file.Name(), err)
		}
		if release != nil {
			release()
			release = nil
		}
		r.publish()
		if r.truncated() {
			continue
		}
		if r.rotated() {
			// Renamed: the engine writes no more to it, but may have written between the
			// read that found its end and the rename.
			if n, _ := r.fill(); n > 0 {
				r.lines()
				continue
			}
			if r.next() {
				continue
			}
		} else if stopped {
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
		case <-r.died:
			stopped = !r.f.running(ctx)
		case <-timer.C:
			wait = min(2*wait, pollMax)
			if time.Since(lastCheck) > diedRecheck {
				lastCheck = time.Now()
				stopped = !r.f.running(ctx)
			}
		}
	}
	return nil
}

// running asks the engine whether the container runs; a container gone does not.
func (f *follower) running(ctx context.Context) bool {
	info, err := f.src.client.ContainerInspect(ctx, f.id)
	return err == nil && info.State != nil && info.State.Running
}

// readFile reads the container's log from its json-file at path, from the checkpoint ck or,
// without one, from the first line (fresh, or started while the Source runs) or from when Run
// started. It reports false, having read nothing, when the file cannot be opened: the logs API
// is asked then.
func (f *follower) readFile(ctx context.Context, fresh bool, info container.InspectResponse, ck *checkpoint, path string, emit func([]message.Message)) bool {
	s := f.src
	out, errw := f.writers(emit, ck, time.Time{})
	r := &fileReader{f: f, path: path, buf: make([]byte, readBuffer), out: out, errw: errw, died: f.died}
	out.track, errw.track = &heldLines{at: r.at}, &heldLines{at: r.at}
	var err error
	switch {
	case ck != nil && ck.File != nil && r.openAt(*ck.File):
	case ck != nil:
		r.from = ck.earliest()
		err = r.openOldest(r.from)
	case fresh || !startedAt(info).Before(s.runStart.Add(-time.Second)):
		err = r.openOldest(time.Time{})
	default:
		r.from = s.runStart
		err = r.openOldest(r.from)
	}
	if err != nil {
		s.log.Info("dockerlogs: container log file not readable; reading its logs through the engine's API",
			"container", f.base.Container.Name, "path", path, "err", err)
		return false
	}
	s.takeEarly(f.id).stop() // the file has every line, the first ones too
	s.fileReads.Add(1)
	s.log.Debug("dockerlogs: reading container logs", "container", f.base.Container.Name, "reader", ReaderFile, "path", path)
	var release func()
	if ck != nil && !fresh {
		// What it wrote while not followed is read a limited number of containers at a
		// time, as through the API.
		var ok bool
		if release, ok = s.backfillPlace(ctx); !ok {
			r.file.Close()
			f.end(ctx, out, errw)
			return true
		}
		release = sync.OnceFunc(release)
	}
	stopTicks := s.tick(out, errw)
	err = r.run(ctx, info.State == nil || !info.State.Running, release)
	stopTicks()
	if release != nil {
		release()
	}
	if err != nil && ctx.Err() == nil {
		s.attachErrors.Add(1)
		s.log.Warn("dockerlogs: reading container log file", "container", f.base.Container.Name, "err", err)
	}
	f.end(ctx, out, errw)
	r.publish()
	if ctx.Err() == nil {
		if info, err := s.client.ContainerInspect(ctx, f.id); err == nil && info.State != nil && !info.State.Running {
			s.readToEnd(f.id, info.State.StartedAt)
		}
	}
	return true
}

// startedAt is when the container last started; zero if it never did.
func startedAt(info container.InspectResponse) time.Time {
	var t time.Time
	if info.State != nil {
		t, _ = time.Parse(time.RFC3339Nano, info.State.StartedAt)
	}
	return t
}
