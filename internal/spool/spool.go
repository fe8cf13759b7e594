// Package spool is a crash-safe FIFO of records on disk: append-only segment files, a record
// leaves only when it is acknowledged, and whatever a crash leaves behind is recovered from
// the data itself.
//
// Why not a library: tidwall/wal has no checksums, no torn-tail repair and rewrites a segment
// on every front truncation; nsqio/go-diskqueue and joncrlsn/dque drop an item when it is read,
// with no acknowledgement; Prometheus' tsdb/wlog has no read cursor and brings in Prometheus;
// bbolt works as a FIFO, but its file never shrinks. A segment log with a checksum per record
// and a cursor hint is the simplest thing that is correct here.
//
// # Format
//
// A segment is named by the sequence number of its first record (%020d.seg). A record is a
// 20-byte header, then its payload:
//
//	magic  uint32  0x51575331 ("QWS1")
//	length uint32  of the payload
//	seq    uint64  sequence number, one more than the record before
//	crc    uint32  CRC-32C of magic, length, seq and the payload
//
// The cursor file ("ack") holds the sequence number of the last acknowledged record. It is a
// hint only: at Open, records are found by scanning the data, a cursor beyond the last record
// is ignored (everything on disk is delivered again), and one before the first is taken as
// "nothing of this acknowledged". So delivery is at least once: after a crash, the records
// acknowledged since the cursor was last written come again. Ack writes it at most every
// cursorInterval (100 ms) and whenever it deletes a segment; with SyncInterval the sync loop
// writes one left behind, and Close writes the last, so a crash brings back at most the last 100 ms of
// acknowledgements (the cursor costs four system calls: one a batch was a sixth of the
// spooled path's time).
//
// # Durability
//
// Append writes to the operating system before it returns, so what it accepted survives
// kill -9. Sync says when it reaches the disk: SyncInterval (the default) fsyncs at most
// SyncInterval after the write, SyncAlways before Append returns, SyncNever only at Close.
// Segment creation and deletion fsync the directory.
//
// # Recovery
//
// At Open a torn tail (a partial last record, from a crash during a write) is cut off; a
// corrupt record elsewhere is skipped up to the next valid header and counted in Stats.Lost
// (one per corrupt stretch); an unreadable segment is removed and counted likewise. Nothing
// makes the spool refuse to open but a directory it cannot use.
package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sync is when appended records are fsynced.
type Sync int

const (
	SyncInterval Sync = iota // at most Config.SyncInterval after they are written (the default)
	SyncAlways               // before Append returns
	SyncNever                // only at Close; the OS writes them back when it will
)

// Defaults of Config.
const (
	DefaultMaxBytes     = 1 << 30
	DefaultSegmentBytes = 64 << 20
	DefaultSyncInterval = time.Second
)

// Config sets up a Spool; zero values mean the defaults.
type Config struct {
	Dir          string
	MaxBytes     int64 // whole segment files on disk (DefaultMaxBytes)
	SegmentBytes int64 // a segment is closed once it holds this much (DefaultSegmentBytes)
	Sync         Sync
	SyncInterval time.Duration // DefaultSyncInterval
}

// Record is one record: its sequence number and payload.
type Record struct {
	Seq  uint64
	Data []byte
}

// Stats describes a Spool.
type Stats struct {
	Messages  int64  // records on disk not yet acknowledged
	Bytes     int64  // bytes of the segment files on disk
	MaxBytes  int64  // the bound on Bytes: Config.MaxBytes, or its default
	Segments  int    // segment files on disk
	Lost      uint64 // corrupt stretches and unreadable segments skipped
	Recovered int64  // unacknowledged records found at Open
	Appended  uint64 // records appended since Open
	Acked     uint64 // records acknowledged since Open
}

// ErrFull is returned by Append when the records would take the spool past MaxBytes.
var ErrFull = errors.New("spool: full")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("spool: closed")

const (
	magic     = 0x51575331
	headerLen = 20
	// maxRecord bounds a record's payload; a length beyond it marks a corrupt header.
	maxRecord = 256 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// segment is one segment file.
type segment struct {
	first uint64 // sequence number of its first record
	last  uint64 // of its last record; first-1 when empty
	size  int64
	path  string
}

// Spool is a FIFO of records on disk. One goroutine may append while another reads and
// acknowledges; Stats may be called from any.
type Spool struct {
	cfg Config

	mu      sync.Mutex
	segs    []*segment // oldest first; the last is the one appended to
	w       *os.File   // the last segment, open for appending
	nextSeq uint64
	acked   uint64 // last acknowledged sequence number
	// cursorAt is when the cursor file was last written; cursorStale says it lags acked.
	cursorAt    time.Time
	cursorStale bool
	wbuf        []byte // Append's records, reused
	dirty       bool   // written since the last fsync
	closed      bool
	more        chan struct{} // closed and replaced when records are appended

	// The reader's position: the next record Read returns.
	rseq   uint64
	rfile  *os.File
	rseg   *segment
	roff   int64
	gone   [][2]uint64 // ranges of records DropOldest removed, beyond the acknowledged
	buf    []byte      // the chunk of the reader's segment read last
	arena  []byte      // where payloads are copied out of buf; see carve
	bufOff int64       // where in the segment it starts

	lost, appended, ackedN uint64
	recovered              int64

	stopSync chan struct{}
	syncDone chan struct{}
}

// Open opens or creates the spool in cfg.Dir and recovers what is there.
func Open(cfg Config) (*Spool, error) {
	if cfg.Dir == "" {
		return nil, errors.New("spool: no directory")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = DefaultSegmentBytes
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{cfg: cfg, more: make(chan struct{}), stopSync: make(chan struct{}), syncDone: make(chan struct{})}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	if cfg.Sync == SyncInterval {
		go s.syncLoop()
	} else {
		close(s.syncDone)
	}
	return s, nil
}

// recover scans the segments, repairs them, and places the reader after the acknowledged.
func (s *Spool) recover() error {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var firsts []uint64
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(s.cfg.Dir, name)) // a cursor write that did not finish
			continue
		}
		n, ok := strings.CutSuffix(name, ".seg")
		if !ok {
			continue
		}
		first, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			continue
		}
		firsts = append(firsts, first)
	}
	slices.Sort(firsts)
	for i, first := range firsts {
		seg := &segment{first: first, path: s.segPath(first)}
		last, size, err := scanSegment(seg.path, i == len(firsts)-1)
		if err != nil || (last == 0 && i < len(firsts)-1) {
			// Unreadable, or nothing valid in a segment that is not the last: its records
			// are counted as lost when the reader passes the gap they leave.
			os.Remove(seg.path)
			continue
		}
		if last == 0 {
			last = first - 1
		}
		seg.last, seg.size = last, size
		s.segs = append(s.segs, seg)
	}
	s.nextSeq = 1
	if n := len(s.segs); n > 0 {
		s.nextSeq = s.segs[n-1].last + 1
	}
	s.acked = s.readCursor()
	if len(s.segs) > 0 && (s.acked >= s.nextSeq || s.acked < s.segs[0].first-1) {
		// From the future (the data was lost or replaced) or the past: deliver all on disk.
		s.acked = s.segs[0].first - 1
	}
	if len(s.segs) == 0 {
		s.nextSeq = max(s.nextSeq, s.acked+1)
		if err := s.newSegment(); err != nil {
			return err
		}
	} else {
		last := s.segs[len(s.segs)-1]
		f, err := os.OpenFile(last.path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.w = f
	}
	s.recovered = int64(s.nextSeq - 1 - s.acked)
	s.rseq = s.acked + 1
	return nil
}

// scanSegment reads a segment's records, checking each, and skips corrupt stretches up to the
// next valid record. In the last segment it cuts off a torn or corrupt tail. It returns the
// last valid sequence number (0 if none) and the size the file has then. Records lost in a
// corrupt stretch are counted by the reader, from the gap in sequence numbers.
func scanSegment(path string, isLast bool) (last uint64, size int64, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	validEnd := 0
	for off := 0; off < len(data); {
		seq, n, ok := parseRecord(data[off:])
		if ok && seq > last {
			last, off, validEnd = seq, off+n, off+n
			continue
		}
		off++
	}
	if isLast && validEnd < len(data) {
		if err := os.Truncate(path, int64(validEnd)); err != nil {
			return 0, 0, err
		}
		return last, int64(validEnd), nil
	}
	return last, int64(len(data)), nil
}

// parseRecord checks the record at the start of b and returns its sequence number and length.
func parseRecord(b []byte) (seq uint64, n int, ok bool) {
	if len(b) < headerLen || binary.LittleEndian.Uint32(b) != magic {
		return 0, 0, false
	}
	length := binary.LittleEndian.Uint32(b[4:])
	if length > maxRecord || len(b) < headerLen+int(length) {
		return 0, 0, false
	}
	seq = binary.LittleEndian.Uint64(b[8:])
	crc := crc32.Update(0, crcTable, b[:16])
	crc = crc32.Update(crc, crcTable, b[headerLen:headerLen+int(length)])
	if crc != binary.LittleEndian.Uint32(b[16:]) {
		return 0, 0, false
	}
	return seq, headerLen + int(length), true
}

func appendRecord(b []byte, seq uint64, data []byte) []byte {
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, magic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint64(b, seq)
	crc := crc32.Update(0, crcTable, b[start:start+16])
	crc = crc32.Update(crc, crcTable, data)
	b = binary.LittleEndian.AppendUint32(b, crc)
	return append(b, data...)
}

func (s *Spool) segPath(first uint64) string {
	return filepath.Join(s.cfg.Dir, fmt.Sprintf("%020d.seg", first))
}

// newSegment starts a segment at nextSeq and makes it the one appended to.
func (s *Spool) newSegment() error {
	seg := &segment{first: s.nextSeq, last: s.nextSeq - 1, path: s.segPath(s.nextSeq)}
	f, err := os.OpenFile(seg.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if s.w != nil {
		s.w.Sync()
		s.w.Close()
	}
	s.w = f
	s.segs = append(s.segs, seg)
	return s.syncDir()
}

func (s *Spool) syncDir() error {
	d, err := os.Open(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: syncing the directory: %w", err)
	}
	return nil
}

func (s *Spool) diskBytes() int64 {
	var n int64
	for _, seg := range s.segs {
		n += seg.size
	}
	return n
}

// Append appends records, one per element of data, and writes them to the OS before it
// returns (and to the disk, with SyncAlways). It returns ErrFull, taking none of them, when
// they would take the spool past MaxBytes; on an I/O error (a full disk, say) it takes none
// either and leaves the spool as it was.
func (s *Spool) Append(data ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(data) == 0 {
		return nil
	}
	cur := s.segs[len(s.segs)-1]
	if cur.size >= s.cfg.SegmentBytes {
		if err := s.newSegment(); err != nil {
			return err
		}
		cur = s.segs[len(s.segs)-1]
	}
	size := 0
	for _, d := range data {
		size += headerLen + len(d)
	}
	if s.diskBytes()+int64(size) > s.cfg.MaxBytes {
		return ErrFull
	}
	buf := s.wbuf[:0]
	seq := s.nextSeq
	for _, d := range data {
		buf = appendRecord(buf, seq, d)
		seq++
	}
	if cap(buf) <= keepBuffer {
		s.wbuf = buf // kept for the next Append, unless large records made it large
	}
	if _, err := s.w.Write(buf); err != nil {
		// Leave no partial records behind: cut the file back to where it was, and forget
		// what the reader may have read of them.
		s.w.Truncate(cur.size)
		s.buf = nil
		return fmt.Errorf("spool: appending %d records: %w", len(data), err)
	}
	if s.cfg.Sync == SyncAlways {
		if err := s.w.Sync(); err != nil {
			return fmt.Errorf("spool: syncing: %w", err)
		}
	} else {
		s.dirty = true
	}
	cur.size += int64(size)
	cur.last = seq - 1
	s.nextSeq = seq
	s.appended += uint64(len(data))
	close(s.more)
	s.more = make(chan struct{})
	return nil
}

// NextSeq returns the sequence number the next appended record will have.
func (s *Spool) NextSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextSeq
}

// DropOldest deletes the oldest segment that Read has not begun, to make room, and returns
// how many records it held. Records Read handed out and not yet acknowledged stay, so they
// are never both dropped and delivered; neither is the segment being appended to dropped.
// When there is no such segment, DropOldest returns 0.
func (s *Spool) DropOldest() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	for i, seg := range s.segs[:len(s.segs)-1] {
		if seg.last < seg.first || seg.last <= s.acked || seg.first < s.rseq {
			continue
		}
		if err := os.Remove(seg.path); err != nil {
			return 0, fmt.Errorf("spool: %w", err)
		}
		s.segs = slices.Delete(s.segs, i, i+1)
		s.gone = append(s.gone, [2]uint64{seg.first, seg.last})
		return int(seg.last - seg.first + 1), s.syncDir()
	}
	return 0, nil
}

// goneCount is how many records DropOldest removed that are not acknowledged.
func (s *Spool) goneCount() uint64 {
	var n uint64
	for _, g := range s.gone {
		n += g[1] - g[0] + 1
	}
	return n
}

// Read appends to dst the next records after those Read returned before, at most max of them
// and no more than maxBytes of payload but for the first, and returns the result. It blocks
// until there is at least one, or ctx is done. It reads from disk: the backlog is never loaded
// into memory whole.
//
// have, unless nil, is called under the spool's lock for each record Read returns, in order,
// before it returns; when it reports true the caller has the record's payload from elsewhere
// (a copy in memory of what it appended), and the record comes with Data nil, which saves
// copying it out of the read buffer.
func (s *Spool) Read(ctx context.Context, dst []Record, max int, maxBytes int64, have func(seq uint64) bool) ([]Record, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return dst, ErrClosed
		}
		if s.rseq < s.nextSeq {
			recs, err := s.readLocked(dst, max, maxBytes, have)
			s.mu.Unlock()
			return recs, err
		}
		more := s.more
		s.mu.Unlock()
		select {
		case <-more:
		case <-ctx.Done():
			return dst, ctx.Err()
		}
	}
}

func (s *Spool) readLocked(out []Record, max int, maxBytes int64, have func(seq uint64) bool) ([]Record, error) {
	var total int64
	for start := len(out); len(out)-start < max && s.rseq < s.nextSeq; {
		if err := s.positionReader(); err != nil {
			return out, err
		}
		rec, n, inBuf, err := s.nextRecord()
		if err == nil && rec.Seq < s.rseq {
			err = errors.New("record out of order")
		}
		if err != nil {
			if err := s.resync(); err != nil {
				return out, err
			}
			continue
		}
		if len(out) > start && total+int64(len(rec.Data)) > maxBytes {
			break
		}
		if rec.Seq > s.rseq {
			s.lost += rec.Seq - s.rseq // a corrupt stretch held these
		}
		s.roff += int64(n)
		s.rseq = rec.Seq + 1
		total += int64(len(rec.Data))
		if have != nil && have(rec.Seq) {
			rec.Data = nil
		} else if inBuf {
			rec.Data = s.carve(rec.Data)
		}
		out = append(out, rec)
	}
	return out, nil
}

// readChunk is how much of a segment the reader takes in one read.
const readChunk = 1 << 20

// nextRecord returns the record at the reader's offset, from the chunk it read last when the
// record is there whole, so that reading costs one system call per chunk, not two a record.
// inBuf says the record's Data lies in that chunk, which the next read overwrites: it must be
// copied out (see carve) to be kept.
func (s *Spool) nextRecord() (rec Record, n int, inBuf bool, err error) {
	rel := s.roff - s.bufOff
	if s.buf == nil || rel < 0 || rel+headerLen > int64(len(s.buf)) ||
		rel+headerLen+int64(binary.LittleEndian.Uint32(s.buf[rel+4:])) > int64(len(s.buf)) {
		n := min(readChunk, s.rseg.size-s.roff)
		if n <= 0 {
			return Record{}, 0, false, io.ErrUnexpectedEOF
		}
		if cap(s.buf) < int(n) {
			s.buf = make([]byte, n)
		}
		s.buf = s.buf[:n]
		k, err := s.rfile.ReadAt(s.buf, s.roff)
		s.buf, s.bufOff, rel = s.buf[:k], s.roff, 0
		if k < headerLen {
			s.buf = nil
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return Record{}, 0, false, err
		}
	}
	seq, n, ok := parseRecord(s.buf[rel:])
	if !ok {
		rec, n, err := s.recordAt(s.roff) // larger than a chunk, or corrupt: read it alone
		return rec, n, false, err
	}
	return Record{Seq: seq, Data: s.buf[rel+headerLen : rel+int64(n)]}, n, true, nil
}

// keepBuffer is the largest write buffer Append keeps for the next call.
const keepBuffer = 1 << 20

// arenaBytes is the size of the blocks the reader copies payloads into: one allocation for
// many small records, rather than one each.
const arenaBytes = 64 << 10

// carve returns a copy of data in the reader's arena, a block handed out piece by piece and
// never written again, so records Read returned stay valid after the next read.
func (s *Spool) carve(data []byte) []byte {
	if cap(s.arena)-len(s.arena) < len(data) {
		s.arena = make([]byte, 0, max(arenaBytes, len(data)))
	}
	start := len(s.arena)
	s.arena = append(s.arena, data...)
	return s.arena[start:len(s.arena):len(s.arena)]
}

// recordAt reads and checks the record at off in the reader's segment.
func (s *Spool) recordAt(off int64) (Record, int, error) {
	var hdr [headerLen]byte
	if _, err := s.rfile.ReadAt(hdr[:], off); err != nil {
		return Record{}, 0, err
	}
	length := binary.LittleEndian.Uint32(hdr[4:])
	if binary.LittleEndian.Uint32(hdr[:]) != magic || length > maxRecord {
		return Record{}, 0, errors.New("no record header")
	}
	buf := make([]byte, headerLen+int(length))
	if _, err := s.rfile.ReadAt(buf, off); err != nil {
		return Record{}, 0, err
	}
	seq, n, ok := parseRecord(buf)
	if !ok {
		return Record{}, 0, errors.New("record does not check out")
	}
	return Record{Seq: seq, Data: buf[headerLen:]}, n, nil
}

// droppedRange reports whether DropOldest removed exactly the records from..to.
func (s *Spool) droppedRange(from, to uint64) bool {
	var n uint64
	for _, g := range s.gone {
		if g[0] >= from && g[1] <= to {
			n += g[1] - g[0] + 1
		}
	}
	return n == to-from+1
}

// resync moves the reader past a corrupt stretch of its segment to the next valid record, or
// to the next segment; the records skipped are counted as lost.
func (s *Spool) resync() error {
	data, err := io.ReadAll(io.NewSectionReader(s.rfile, s.roff, s.rseg.size-s.roff))
	if err == nil {
		for off := 1; off < len(data); off++ {
			if seq, _, ok := parseRecord(data[off:]); ok && seq >= s.rseq {
				s.roff += int64(off)
				return nil
			}
		}
	}
	s.lost += s.rseg.last + 1 - s.rseq
	s.rseq = s.rseg.last + 1
	s.rfile.Close()
	s.rfile, s.rseg = nil, nil
	return nil
}

// positionReader opens the segment holding rseq and finds the record in it.
func (s *Spool) positionReader() error {
	if s.rseg != nil && s.rseq >= s.rseg.first && s.rseq <= s.rseg.last {
		return nil
	}
	if s.rfile != nil {
		s.rfile.Close()
		s.rfile, s.rseg = nil, nil
	}
	for _, seg := range s.segs {
		if seg.last < seg.first || s.rseq > seg.last {
			continue
		}
		if s.rseq < seg.first {
			if !s.droppedRange(s.rseq, seg.first-1) {
				s.lost += seg.first - s.rseq // a segment that could not be read was removed
			}
			s.rseq = seg.first
		}
		f, err := os.Open(seg.path)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.rfile, s.rseg, s.roff, s.buf = f, seg, 0, nil
		// After a restart the reader may begin mid-segment: walk the records before rseq.
		for {
			rec, n, err := s.recordAt(s.roff)
			if err != nil {
				if err := s.resync(); err != nil || s.rseg == nil {
					return err
				}
				continue
			}
			if rec.Seq >= s.rseq {
				return nil
			}
			s.roff += int64(n)
		}
	}
	return fmt.Errorf("spool: record %d is not on disk", s.rseq)
}

// Ack acknowledges every record up to seq: they will not be read again, and segments that
// hold only acknowledged records are deleted.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if seq <= s.acked {
		return nil
	}
	seq = min(seq, s.nextSeq-1)
	var gone uint64
	s.gone = slices.DeleteFunc(s.gone, func(g [2]uint64) bool {
		if g[1] <= seq {
			gone += g[1] - g[0] + 1
			return true
		}
		return false
	})
	s.ackedN += seq - s.acked - gone
	s.acked = seq
	removed := false
	for len(s.segs) > 1 && s.segs[0].last <= s.acked {
		seg := s.segs[0]
		if s.rseg == seg {
			s.rfile.Close()
			s.rfile, s.rseg = nil, nil
		}
		if err := os.Remove(seg.path); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.segs = s.segs[1:]
		removed = true
	}
	s.cursorStale = true
	if now := time.Now(); removed || now.Sub(s.cursorAt) >= cursorInterval {
		if err := s.writeCursor(); err != nil {
			return err
		}
		s.cursorAt, s.cursorStale = now, false
	}
	if removed {
		return s.syncDir()
	}
	return nil
}

// cursorInterval is how often at most Ack writes the cursor; see the package documentation.
const cursorInterval = 100 * time.Millisecond

func (s *Spool) cursorPath() string { return filepath.Join(s.cfg.Dir, "ack") }

// writeCursor saves the acknowledged position: written to a temporary file and renamed, so a
// crash leaves the old cursor or the new one. It is a hint; see the package documentation.
func (s *Spool) writeCursor() error {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:], s.acked)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], crcTable))
	tmp := s.cursorPath() + ".tmp"
	if err := os.WriteFile(tmp, b[:], 0o600); err != nil {
		return fmt.Errorf("spool: writing the cursor: %w", err)
	}
	if err := os.Rename(tmp, s.cursorPath()); err != nil {
		return fmt.Errorf("spool: writing the cursor: %w", err)
	}
	return nil
}

func (s *Spool) readCursor() uint64 {
	b, err := os.ReadFile(s.cursorPath())
	if err != nil || len(b) != 12 || crc32.Checksum(b[:8], crcTable) != binary.LittleEndian.Uint32(b[8:]) {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (s *Spool) syncLoop() {
	defer close(s.syncDone)
	t := time.NewTicker(s.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.mu.Lock()
			var w *os.File
			if s.dirty && !s.closed {
				w, s.dirty = s.w, false
			}
			if s.cursorStale && !s.closed && s.writeCursor() == nil {
				s.cursorAt, s.cursorStale = time.Now(), false
			}
			s.mu.Unlock()
			// Outside the lock: an fsync can take as long as the disk likes, and Append, Read
			// and Ack must not wait for it (they did, and the spooled path spent most of its
			// time idle). What is appended meanwhile sets dirty again, for the next tick. If a
			// new segment replaced w meanwhile, newSegment synced w before closing it, and
			// this Sync fails harmlessly on the closed file.
			if w != nil {
				w.Sync()
			}
		case <-s.stopSync:
			return
		}
	}
}

// Stats returns the spool's counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Messages:  int64(s.nextSeq - 1 - s.acked - s.goneCount()),
		Bytes:     s.diskBytes(),
		MaxBytes:  s.cfg.MaxBytes,
		Segments:  len(s.segs),
		Lost:      s.lost,
		Recovered: s.recovered,
		Appended:  s.appended,
		Acked:     s.ackedN,
	}
}

// Close syncs what was appended and closes the files. It is safe to call twice.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.more)
	var err error
	if s.w != nil && s.cfg.Sync != SyncAlways {
		err = s.w.Sync()
	}
	if s.cursorStale {
		err = errors.Join(err, s.writeCursor())
	}
	s.mu.Unlock()
	close(s.stopSync)
	<-s.syncDone
	s.closeFiles()
	if err != nil {
		return fmt.Errorf("spool: closing: %w", err)
	}
	return nil
}

func (s *Spool) closeFiles() {
	if s.w != nil {
		s.w.Close()
	}
	if s.rfile != nil {
		s.rfile.Close()
	}
}
