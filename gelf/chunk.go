package gelf

import (
	"encoding/binary"
	"sync"
	"time"
)

// chunkHeaderLen is the size of a chunk's header: magic, message ID, sequence number, count.
const chunkHeaderLen = 12

// IsChunk reports whether a datagram is a GELF chunk (it starts with the bytes 0x1e 0x0f).
func IsChunk(datagram []byte) bool {
	return len(datagram) >= 2 && datagram[0] == 0x1e && datagram[1] == 0x0f
}

// AssemblerConfig sets the limits of an Assembler; the zero value means the defaults.
type AssemblerConfig struct {
	MaxChunks     int           // most chunks one message may have (DefaultMaxChunks)
	ChunkTimeout  time.Duration // how long a message's chunks may take to arrive (DefaultChunkTimeout)
	MaxIncomplete int           // most messages held incomplete at once (DefaultMaxIncomplete)
	MaxChunkBytes int           // most bytes of chunks held at once (DefaultMaxChunkBytes)
}

// AssemblerStats counts an Assembler's work.
type AssemblerStats struct {
	Completed  uint64 // messages whose chunks all arrived
	Expired    uint64 // incomplete messages dropped after the timeout
	Evicted    uint64 // incomplete messages dropped, oldest first, to stay within the limits
	Duplicates uint64 // chunks that had arrived before, ignored
	Incomplete int    // messages held now
	Bytes      int    // bytes of chunks held now
}

// Assembler puts chunked GELF messages back together, for programs that read datagrams
// themselves. Chunks of one message may arrive in any order, interleaved with other messages
// and duplicated; memory stays within the configured limits, the oldest incomplete message
// giving way first. It is safe for concurrent use.
type Assembler struct {
	cfg AssemblerConfig

	mu         sync.Mutex
	partials   map[uint64]*partial
	oldest     *partial // a list by arrival of each message's first chunk, oldest first
	newest     *partial
	bytes      int
	done       map[uint64]time.Time // messages completed within the timeout, to spot late duplicates
	doneOrder  []uint64             // the keys of done, oldest first
	completed  uint64
	expired    uint64
	evicted    uint64
	duplicates uint64
}

type partial struct {
	id         uint64
	first      time.Time
	chunks     [][]byte
	got        int
	size       int
	prev, next *partial
}

// NewAssembler returns an Assembler with the given limits.
func NewAssembler(cfg AssemblerConfig) *Assembler {
	if cfg.MaxChunks <= 0 || cfg.MaxChunks > 255 {
		cfg.MaxChunks = DefaultMaxChunks
	}
	if cfg.ChunkTimeout <= 0 {
		cfg.ChunkTimeout = DefaultChunkTimeout
	}
	if cfg.MaxIncomplete <= 0 {
		cfg.MaxIncomplete = DefaultMaxIncomplete
	}
	if cfg.MaxChunkBytes <= 0 {
		cfg.MaxChunkBytes = DefaultMaxChunkBytes
	}
	return &Assembler{cfg: cfg, partials: make(map[uint64]*partial), done: make(map[uint64]time.Time)}
}

// Add takes one chunk, received at now. When the chunk completes its message, Add returns the
// message's whole payload (a new slice, the caller's to keep); otherwise it returns nil. A chunk
// that makes no sense is rejected with an *Error of ReasonBadChunk. Add also drops the messages
// whose time is up.
func (a *Assembler) Add(chunk []byte, now time.Time) ([]byte, error) {
	if !IsChunk(chunk) {
		return nil, errorf(ReasonBadChunk, "not a chunk: no chunk magic bytes")
	}
	if len(chunk) < chunkHeaderLen {
		return nil, errorf(ReasonBadChunk, "chunk of %d bytes is shorter than its %d-byte header", len(chunk), chunkHeaderLen)
	}
	id := binary.BigEndian.Uint64(chunk[2:10])
	seq, total := int(chunk[10]), int(chunk[11])
	data := chunk[chunkHeaderLen:]
	if total == 0 || total > a.cfg.MaxChunks {
		return nil, errorf(ReasonBadChunk, "chunk count %d out of range 1..%d", total, a.cfg.MaxChunks)
	}
	if seq >= total {
		return nil, errorf(ReasonBadChunk, "chunk %d of %d", seq, total)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	a.expireLocked(now)
	if _, ok := a.done[id]; ok {
		a.duplicates++ // a chunk of a message already delivered
		return nil, nil
	}
	p := a.partials[id]
	if p != nil && len(p.chunks) != total {
		a.removeLocked(p)
		return nil, errorf(ReasonBadChunk, "chunk count changed from %d to %d within message %016x; message dropped", len(p.chunks), total, id)
	}
	if total == 1 {
		a.markDoneLocked(id, now)
		return append([]byte(nil), data...), nil
	}
	if p == nil {
		for len(a.partials) >= a.cfg.MaxIncomplete || (a.oldest != nil && a.bytes+len(data) > a.cfg.MaxChunkBytes) {
			a.removeLocked(a.oldest)
			a.evicted++
		}
		p = &partial{id: id, first: now, chunks: make([][]byte, total)}
		a.partials[id] = p
		a.pushLocked(p)
	} else {
		for a.bytes+len(data) > a.cfg.MaxChunkBytes && a.oldest != nil && a.oldest != p {
			a.removeLocked(a.oldest)
			a.evicted++
		}
	}
	if a.bytes+len(data) > a.cfg.MaxChunkBytes {
		// Only this message is left, and it alone would exceed the limit.
		a.removeLocked(p)
		a.evicted++
		return nil, nil
	}
	if p.chunks[seq] != nil {
		a.duplicates++
		return nil, nil
	}
	p.chunks[seq] = append(make([]byte, 0, len(data)+1), data...) // +1: never nil, even when empty
	p.got++
	p.size += len(data)
	a.bytes += len(data)
	if p.got < total {
		return nil, nil
	}
	payload := make([]byte, 0, p.size)
	for _, c := range p.chunks {
		payload = append(payload, c...)
	}
	a.removeLocked(p)
	a.markDoneLocked(id, now)
	return payload, nil
}

// markDoneLocked remembers a completed message for the timeout, so that a duplicate chunk of
// it arriving later is not taken for the start of a new message. It remembers at most
// MaxIncomplete of them.
func (a *Assembler) markDoneLocked(id uint64, now time.Time) {
	a.completed++
	if len(a.doneOrder) >= a.cfg.MaxIncomplete {
		delete(a.done, a.doneOrder[0])
		a.doneOrder = a.doneOrder[1:]
	}
	a.done[id] = now
	a.doneOrder = append(a.doneOrder, id)
}

// Expire drops the incomplete messages whose time is up at now and returns how many it
// dropped. Add does this too; call Expire when no chunks arrive, to release their memory.
func (a *Assembler) Expire(now time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.expireLocked(now)
}

func (a *Assembler) expireLocked(now time.Time) int {
	for len(a.doneOrder) > 0 && now.Sub(a.done[a.doneOrder[0]]) >= a.cfg.ChunkTimeout {
		delete(a.done, a.doneOrder[0])
		a.doneOrder = a.doneOrder[1:]
	}
	if len(a.doneOrder) == 0 && cap(a.doneOrder) > 4*a.cfg.MaxIncomplete {
		a.doneOrder = nil // the slice only moves forward; let it start over
	}
	n := 0
	for a.oldest != nil && now.Sub(a.oldest.first) >= a.cfg.ChunkTimeout {
		a.removeLocked(a.oldest)
		a.expired++
		n++
	}
	return n
}

func (a *Assembler) pushLocked(p *partial) {
	p.prev = a.newest
	if a.newest != nil {
		a.newest.next = p
	} else {
		a.oldest = p
	}
	a.newest = p
}

func (a *Assembler) removeLocked(p *partial) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		a.oldest = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		a.newest = p.prev
	}
	p.prev, p.next = nil, nil
	a.bytes -= p.size
	delete(a.partials, p.id)
}

// Stats returns the Assembler's counters.
func (a *Assembler) Stats() AssemblerStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return AssemblerStats{
		Completed:  a.completed,
		Expired:    a.expired,
		Evicted:    a.evicted,
		Duplicates: a.duplicates,
		Incomplete: len(a.partials),
		Bytes:      a.bytes,
	}
}
