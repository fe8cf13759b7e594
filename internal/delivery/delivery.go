package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/qnib/qwatch/internal/backoff"
	"github.com/qnib/qwatch/internal/spool"
	"github.com/qnib/qwatch/message"
)

// Overflow says what Append does when the spool holds Config.Spool.MaxBytes.
type Overflow int

const (
	// Block waits for delivery to make room, until Append's ctx is done; then the batch is
	// dropped.
	Block Overflow = iota
	// DropNewest drops the batch that does not fit.
	DropNewest
	// DropOldest deletes the oldest segment delivery has not begun, as often as it takes to
	// make room, and drops the batch only when there is no such segment.
	DropOldest
)

// Config sets up a Spool.
type Config struct {
	Spool      spool.Config
	Overflow   Overflow
	BatchSize  int          // the most messages Deliver hands to one write
	BatchBytes int64        // the most bytes of records in one batch, but for its first
	Log        *slog.Logger // where Deliver reports failures; nil: slog.Default()
}

// The waits between attempts to write a batch again, and between attempts to read the spool
// after an error.
const (
	retryMin    = 100 * time.Millisecond
	retryMax    = 5 * time.Second
	retryJitter = 0.2
)

// Delivery takes the messages of the last appends from memory while it is no more than
// recentBatches batches, and recentBytes of messages, behind; see recent. At 8 batches a
// delivery goroutine that a busy machine held off for a moment fell behind under a flood, and
// then decoded every message, which is slower, so it never caught up: 32 kept the flood's
// messages coming from memory, the bytes still bounded.
const (
	recentBatches = 32
	recentBytes   = 8 << 20
)

// keepBuffer is the largest encoding buffer Append keeps for the next batch.
const keepBuffer = 1 << 20

// roomPoll is how often Append with Block looks for room in a full spool.
const roomPoll = 100 * time.Millisecond

// ErrorHold is how long Stats.SpoolError stays set after Append was refused. A refused append
// leaves its space free, so on a disk that is full but for a little, small appends succeed
// between refused ones: the error must not flap between them.
const ErrorHold = 5 * time.Second

// WriteFunc writes a batch to the sink. It returns nil when all of the batch is written;
// otherwise the error, with the indexes in batch of the messages not written, in order.
type WriteFunc func(ctx context.Context, batch []message.Message) (unwritten []int, err error)

// Spool is a sink's disk spool and its delivery. One goroutine calls Append, another runs
// Deliver; Stats may be called from any.
type Spool struct {
	sp      *spool.Spool
	cfg     Config
	recs    [][]byte          // Append's records, reused
	enc     []byte            // the bytes of recs
	read    []spool.Record    // Deliver's records, reused
	batch   []message.Message // deliver's batch, reused (the sink may not keep it; see qwatch.Sink)
	recent  recent
	ends    []int // where each record ends in enc
	drained context.Context
	drain   context.CancelFunc
	failLog rate.Sometimes
	readLog rate.Sometimes

	// mu guards what Stats reports, and is held across an acknowledgement, so that Stats
	// never sees the spool without the acknowledged records and pendingWritten still
	// counting them.
	mu             sync.Mutex
	written        uint64
	pendingWritten int // of the batch being delivered, the messages written but not acknowledged
	decodeLost     uint64
	retrying       bool
	lastErr        string
	refused        refusal
}

// Open opens the spool in cfg.Spool.Dir, recovering what a run before left there.
func Open(cfg Config) (*Spool, error) {
	sp, err := spool.Open(cfg.Spool)
	if err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Spool{sp: sp, cfg: cfg, recent: recent{max: recentBatches * max(cfg.BatchSize, 1), maxBytes: recentBytes},
		failLog: rate.Sometimes{Interval: time.Second}, readLog: rate.Sometimes{Interval: time.Second}}
	s.drained, s.drain = context.WithCancel(context.Background())
	return s, nil
}

// Append writes batch to the spool, and so to the operating system, before it returns. When
// the spool is full it applies the overflow policy. It returns how many messages were dropped
// (of batch, or, with DropOldest, older ones deleted from the spool to make room) and the disk
// error that made it drop the batch, if any; such an error sets Stats.SpoolError.
func (s *Spool) Append(ctx context.Context, batch []message.Message) (dropped int, err error) {
	// The records are encoded one after another into one buffer, reused from batch to batch,
	// and handed to the spool as slices of it.
	enc, ends := s.enc[:0], s.ends[:0]
	for i := range batch {
		enc = appendMessage(enc, &batch[i])
		ends = append(ends, len(enc))
	}
	recs, start := s.recs[:0], 0
	for _, end := range ends {
		recs = append(recs, enc[start:end])
		start = end
	}
	// The copies are kept before the records are written: delivery, woken by the write, would
	// otherwise read them back before they are kept, and decode them. Until the write, no
	// record with their sequence numbers is on disk for delivery to read; if it fails, they
	// are forgotten before any other record takes those numbers.
	first := s.sp.NextSeq()
	s.recent.add(first, batch)
	dropped, err = s.append(ctx, recs)
	if s.sp.NextSeq()-first != uint64(len(batch)) { // the batch did not go in
		s.recent.forgetFrom(first)
	}
	clear(recs)
	if cap(enc) > keepBuffer {
		enc = nil // a batch of large messages does not hold its memory for good
	}
	s.recs, s.enc, s.ends = recs[:0], enc, ends
	if err != nil {
		s.mu.Lock()
		s.refused = refusal{err: err.Error(), at: time.Now()}
		s.mu.Unlock()
	}
	return dropped, err
}

func (s *Spool) append(ctx context.Context, recs [][]byte) (dropped int, err error) {
	for {
		err := s.sp.Append(recs...)
		switch {
		case err == nil:
			return dropped, nil
		case !errors.Is(err, spool.ErrFull):
			return dropped + len(recs), err
		case s.cfg.Overflow == DropOldest:
			n, err := s.sp.DropOldest()
			if err != nil || n == 0 {
				return dropped + len(recs), err
			}
			dropped += n
		case s.cfg.Overflow == DropNewest:
			return dropped + len(recs), nil
		default: // Block: delivery makes room as the sink takes what is on disk
			if backoff.Sleep(ctx, roomPoll) != nil {
				return dropped + len(recs), nil
			}
		}
	}
}

// Drain says that Append will not be called again: Deliver returns once the spool is empty.
func (s *Spool) Drain() { s.drain() }

// Deliver reads the spool in batches and writes them with write until ctx is done, or Drain
// was called and the spool holds no more. A batch leaves the spool only once write has taken
// all of it: what write did not write is written again, and again, with backoff (100 ms
// doubling to 5 s, ±20%), for as long as ctx lasts. Records that do not decode are counted in
// Stats.Lost and leave with their batch.
func (s *Spool) Deliver(ctx context.Context, write WriteFunc) {
	retry := backoff.New(retryMin, retryMax, retryJitter)
	for ctx.Err() == nil {
		recs, err := s.readBatch(ctx)
		if len(recs) > 0 {
			retry.Reset()
			if !s.deliver(ctx, recs, write, retry) {
				return
			}
			continue
		}
		switch {
		case err == nil: // the reader skipped a corrupt stretch and found nothing after it
			continue
		case s.drained.Err() != nil || ctx.Err() != nil:
			return
		}
		wait := retry.Next()
		s.readLog.Do(func() {
			s.cfg.Log.Error("qwatch: reading the spool (logged at most once a second)", "in", wait, "err", err)
		})
		if backoff.Sleep(ctx, wait) != nil {
			return
		}
	}
}

// readBatch reads the next records from the spool, until ctx is done or, with the spool
// empty, Drain was called. Into s.batch it puts the message of each record that recent still
// holds, at the record's index, and a zero message for the others, whose Data deliver decodes
// (a record recent held comes with Data nil).
func (s *Spool) readBatch(ctx context.Context) ([]spool.Record, error) {
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.drained, cancel)
	defer stop()
	batch := s.batch[:0]
	recs, err := s.sp.Read(readCtx, s.read[:0], s.cfg.BatchSize, s.cfg.BatchBytes, func(seq uint64) bool {
		batch = append(batch, message.Message{})
		return s.recent.take(seq, &batch[len(batch)-1])
	})
	s.batch, s.read = batch, recs
	return recs, err
}

// deliver writes the messages of recs, which readBatch put in s.batch, retrying what is not
// written, and acknowledges them. It returns false if ctx ended first: the rest stays on disk.
func (s *Spool) deliver(ctx context.Context, recs []spool.Record, write WriteFunc, retry *backoff.Backoff) bool {
	batch, kept := s.batch[:len(recs)], 0
	for i, r := range recs {
		if r.Data != nil && decodeMessage(r.Data, &batch[i]) != nil {
			s.mu.Lock()
			s.decodeLost++
			s.mu.Unlock()
			continue
		}
		if kept < i {
			batch[kept] = batch[i]
		}
		kept++
	}
	batch = batch[:kept]
	defer func(all []message.Message) {
		clear(all) // the sink is done with them: let the collector have them
		clear(recs)
		s.batch, s.read = all[:0], recs[:0]
	}(s.batch[:len(recs)])
	for len(batch) > 0 {
		unwritten, err := write(ctx, batch)
		if err == nil {
			unwritten = nil
		}
		s.mu.Lock()
		s.written += uint64(len(batch) - len(unwritten))
		s.pendingWritten += len(batch) - len(unwritten)
		s.retrying = len(unwritten) > 0
		if err != nil {
			s.lastErr = err.Error()
		}
		s.mu.Unlock()
		if len(unwritten) == 0 {
			break
		}
		rest := make([]message.Message, len(unwritten))
		for i, k := range unwritten {
			rest[i] = batch[k]
		}
		wait := retry.Next()
		s.failLog.Do(func() {
			s.cfg.Log.Error("qwatch: sink write failed; retrying from the spool (logged at most once a second)",
				"messages", len(rest), "in", wait, "err", err)
		})
		if backoff.Sleep(ctx, wait) != nil {
			return false
		}
		batch = rest
	}
	s.mu.Lock()
	err := s.sp.Ack(recs[len(recs)-1].Seq)
	s.pendingWritten = 0
	s.mu.Unlock()
	if err != nil {
		s.cfg.Log.Error("qwatch: acknowledging spooled messages", "err", err)
	}
	return true
}

// Stats describes a Spool.
type Stats struct {
	Spooled    uint64 // messages on disk, not yet written
	Bytes      int64  // bytes of the spool's files
	MaxBytes   int64  // the bound on Bytes
	Recovered  uint64 // messages found on disk at Open
	Lost       uint64 // messages in corrupt records: skipped on disk, or did not decode
	Written    uint64 // messages Deliver wrote
	Retrying   bool   // a write failed and is being retried
	LastError  string // why, while Retrying; empty otherwise
	SpoolError string // why Append was last refused, if it was within ErrorHold; empty otherwise
}

// Stats returns what the spool holds and how delivery goes.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	sst := s.sp.Stats()
	st := Stats{
		Spooled:    uint64(sst.Messages) - uint64(s.pendingWritten),
		Bytes:      sst.Bytes,
		MaxBytes:   sst.MaxBytes,
		Recovered:  uint64(sst.Recovered),
		Lost:       sst.Lost + s.decodeLost,
		Written:    s.written,
		Retrying:   s.retrying,
		SpoolError: s.refused.current(time.Now()),
	}
	if st.Retrying {
		st.LastError = s.lastErr
	}
	return st
}

// Close ends delivery (as Drain does), syncs what was appended and closes the spool's files.
// Deliver and Append must have returned.
func (s *Spool) Close() error {
	s.drain()
	return s.sp.Close()
}

// refusal is Append's last disk error and when it came.
type refusal struct {
	err string
	at  time.Time
}

// current returns the error while it is less than ErrorHold old at now, and "" after: the
// condition counts as gone when ErrorHold passed with no new refusal.
func (r refusal) current(now time.Time) string {
	if r.err == "" || now.Sub(r.at) >= ErrorHold {
		return ""
	}
	return r.err
}

// recent holds copies of the messages the last appends wrote, by sequence number, so that
// delivery, while it keeps up, takes a record it reads back from here rather than decoding
// it: decoding (and the strings it allocates) was the largest part of a spooled message's
// cost. What is on disk is unchanged, and a record not found here (after a restart, or when
// delivery lags more than max messages or maxBytes behind) is decoded as before. A message taken from
// here is the message as it was queued, its times in UTC as decoding gives them; a decoded one
// differs only where the binary form keeps less (a field value that is not a string, float64
// or bool comes back as text).
type recent struct {
	mu       sync.Mutex
	max      int               // messages kept at most
	maxBytes int64             // and bytes, as message.Message.Size estimates them
	msgs     []message.Message // msgs[head:] are the messages of first, first+1, ...
	sizes    []int             // sizes[i] is msgs[i].Size()
	bytes    int64             // the sum of sizes[head:]
	head     int
	first    uint64
}

// add keeps copies of batch, appended at sequence numbers from first on, dropping the oldest
// kept beyond max messages or maxBytes. A message larger than maxBytes is not kept; the
// messages after it are kept from it on.
func (r *recent) add(first uint64, batch []message.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first+uint64(len(r.msgs)-r.head) != first {
		r.restart(first) // not contiguous with what is kept
	}
	for i := range batch {
		size := batch[i].Size()
		if int64(size) > r.maxBytes {
			r.restart(first + uint64(i) + 1)
			continue
		}
		for r.head < len(r.msgs) && (len(r.msgs)-r.head >= r.max || r.bytes+int64(size) > r.maxBytes) {
			r.forget(1)
		}
		if r.head > 0 && len(r.msgs) == cap(r.msgs) {
			n := copy(r.msgs, r.msgs[r.head:]) // move down, rather than grow
			copy(r.sizes, r.sizes[r.head:])
			clear(r.msgs[n:])
			r.msgs, r.sizes, r.head = r.msgs[:n], r.sizes[:n], 0
		}
		r.msgs = append(r.msgs, batch[i])
		r.sizes = append(r.sizes, size)
		r.bytes += int64(size)
	}
}

// restart forgets what is kept; the next message kept will be that of first.
func (r *recent) restart(first uint64) {
	clear(r.msgs)
	r.msgs, r.sizes, r.head, r.bytes, r.first = r.msgs[:0], r.sizes[:0], 0, 0, first
}

// forgetFrom forgets the messages kept of seq and after.
func (r *recent) forgetFrom(seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq <= r.first {
		r.restart(seq)
		return
	}
	end := r.head + int(min(seq-r.first, uint64(len(r.msgs)-r.head)))
	for _, size := range r.sizes[end:] {
		r.bytes -= int64(size)
	}
	clear(r.msgs[end:])
	r.msgs, r.sizes = r.msgs[:end], r.sizes[:end]
}

// forget drops the oldest n messages kept.
func (r *recent) forget(n int) {
	clear(r.msgs[r.head : r.head+n])
	for _, size := range r.sizes[r.head : r.head+n] {
		r.bytes -= int64(size)
	}
	r.head += n
	r.first += uint64(n)
}

// take sets *m to the message of seq, and forgets it and every one before it, if it is
// kept; it reports whether it was.
func (r *recent) take(seq uint64, m *message.Message) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq < r.first || seq >= r.first+uint64(len(r.msgs)-r.head) {
		return false
	}
	k := r.head + int(seq-r.first)
	*m = r.msgs[k]
	m.Time, m.Container.Created = asDecoded(m.Time), asDecoded(m.Container.Created)
	r.forget(k + 1 - r.head)
	return true
}

// asDecoded returns t as the binary form gives it back: in UTC, to the nanosecond, without a
// monotonic reading.
func asDecoded(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.Unix(0, t.UnixNano()).UTC()
}
