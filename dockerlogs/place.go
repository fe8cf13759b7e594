package dockerlogs

import (
	"hash/fnv"
	"os"
	"sync"
	"syscall"
)

// place is where a read of a container's json-file can resume: a file, known by its device,
// inode and the hash of its first bytes (an inode is reused once a rotated file is deleted),
// the offset of a line's start in it, and how many lines of each stream came at the last time
// stamp before it, so that the lines' ordinals, and with them their IDs, come out as a read
// from the start would make them.
type place struct {
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Head    uint64 `json:"head"`     // FNV-1a of the file's first HeadLen bytes
	HeadLen int    `json:"head_len"` // at most headLen
	// Seq orders the files of a container: each file read after another has the next number.
	Seq    int      `json:"seq"`
	Offset int64    `json:"offset"`
	Out    position `json:"stdout"`
	Err    position `json:"stderr"`
}

// headLen is how many of a file's first bytes tell it from another that got its inode: they
// hold the first line's nanosecond time stamp.
const headLen = 256

// before reports whether p comes before q in the container's log.
func (p place) before(q place) bool {
	return p.Seq < q.Seq || (p.Seq == q.Seq && p.Offset < q.Offset)
}

// sameFile reports whether p is in the file f, whose status is st.
func (p place) sameFile(f *os.File, st os.FileInfo) bool {
	dev, ino := fileKey(st)
	if dev != p.Dev || ino != p.Ino {
		return false
	}
	h, n := hashPrefix(f, p.HeadLen)
	return n == p.HeadLen && h == p.Head
}

func fileKey(st os.FileInfo) (dev, ino uint64) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Dev), s.Ino
	}
	return 0, 0
}

// hashPrefix returns the hash of the file's first n bytes, and how many it has of them.
func hashPrefix(f *os.File, n int) (uint64, int) {
	buf := make([]byte, n)
	m, _ := f.ReadAt(buf, 0)
	h := fnv.New64a()
	h.Write(buf[:m])
	return h.Sum64(), m
}

// heldLines records, for one stream read from its file, where the lines taken into its
// multi-line stream and not emitted yet begin, so that the place a read resumes from after a
// restart is never past one of them. The reader adds (begin, take); the stream's emit, on the
// reader's goroutine or the ticker's, removes (emitted).
type heldLines struct {
	mu      sync.Mutex
	at      func() place // where the reader is: the start of the entry it decodes now
	begun   place        // where the line now being taken began (its first piece)
	pending bool         // a line is begun and not taken
	lines   []heldLine
	head    int
	next    uint64
}

type heldLine struct {
	seq   uint64
	start place
}

// begin marks the start of a line: its first piece comes now.
func (h *heldLines) begin() {
	p := h.at()
	h.mu.Lock()
	h.begun, h.pending = p, true
	h.mu.Unlock()
}

// take records the line begun as taken into the stream, and returns its number.
func (h *heldLines) take() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	if h.head > 0 && h.head*2 >= len(h.lines) {
		h.lines = append(h.lines[:0], h.lines[h.head:]...)
		h.head = 0
	}
	h.lines = append(h.lines, heldLine{seq: h.next, start: h.begun})
	h.pending = false
	return h.next
}

// emitted forgets the lines up to seq: they are emitted.
func (h *heldLines) emitted(seq uint64) {
	h.mu.Lock()
	for h.head < len(h.lines) && h.lines[h.head].seq <= seq {
		h.head++
	}
	h.mu.Unlock()
}

// dropPending forgets a line begun and not taken: a skipped line.
func (h *heldLines) dropPending() {
	h.mu.Lock()
	h.pending = false
	h.mu.Unlock()
}

// first returns where the earliest line begun and not emitted begins.
func (h *heldLines) first() (place, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.head < len(h.lines) {
		return h.lines[h.head].start, true
	}
	return h.begun, h.pending
}

// mark is the state of a stream's ordinals: the time of its last line and how many lines
// came at that time.
func (w *lineWriter) mark() position {
	if w.last.IsZero() {
		return position{}
	}
	return position{Time: w.last, Count: w.ord + 1}
}

// setMark restores a stream's ordinals from a mark.
func (w *lineWriter) setMark(p position) {
	w.last, w.ord = p.Time, max(p.Count-1, 0)
}
