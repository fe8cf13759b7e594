package gelf

import (
	"encoding/binary"
	"sync"
	"time"
)

// chunkHeaderLen is the size of a chunk's header: magic, message ID, sequence number, count.
const chunkHeaderLen = 12

// isChunk reports whether a datagram is a GELF chunk (it starts with the bytes 0x1e 0x0f).
func isChunk(datagram []byte) bool {
	return len(datagram) >= 2 && datagram[0] == 0x1e && datagram[1] == 0x0f
}

// assembler puts chunked GELF messages back together. Chunks of one message may arrive in any
// order, interleaved with other messages and duplicated; memory stays within the limits of
// its Config (MaxChunks, ChunkTimeout, MaxIncomplete, MaxChunkBytes), the oldest incomplete
// message giving way first. It is safe for concurrent use.
type assembler struct {
	cfg Config

	mu         sync.Mutex
	partials   map[uint64]*partial
	oldest     *partial // a list by arrival of each message's first chunk, oldest first
	newest     *partial
	bytes      int
	done       map[uint64]time.Time // messages completed within the timeout, to spot late duplicates
	doneOrder  []uint64             // the keys of done, oldest first
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

// newAssembler returns an assembler with the limits of cfg, whose defaults are set.
func newAssembler(cfg Config) *assembler {
	return &assembler{cfg: cfg, partials: make(map[uint64]*partial), done: make(map[uint64]time.Time)}
}

// add takes one chunk, received at now. When the chunk completes its message, add returns the
// message's whole payload (a new slice, the caller's to keep); otherwise it returns nil. A chunk
// that makes no sense is rejected with an *inputError of ReasonBadChunk. add also drops the
// messages whose time is up.
func (a *assembler) add(chunk []byte, now time.Time) ([]byte, error) {
	if !isChunk(chunk) {
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
func (a *assembler) markDoneLocked(id uint64, now time.Time) {
	if len(a.doneOrder) >= a.cfg.MaxIncomplete {
		delete(a.done, a.doneOrder[0])
		a.doneOrder = a.doneOrder[1:]
	}
	a.done[id] = now
	a.doneOrder = append(a.doneOrder, id)
}

// expire drops the incomplete messages whose time is up at now and returns how many it
// dropped. add does this too; expire releases their memory when no chunks arrive.
func (a *assembler) expire(now time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.expireLocked(now)
}

func (a *assembler) expireLocked(now time.Time) int {
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

func (a *assembler) pushLocked(p *partial) {
	p.prev = a.newest
	if a.newest != nil {
		a.newest.next = p
	} else {
		a.oldest = p
	}
	a.newest = p
}

func (a *assembler) removeLocked(p *partial) {
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

// stats returns the assembler's counters, in the fields of Stats they fill.
func (a *assembler) stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return Stats{
		Incomplete:      len(a.partials),
		IncompleteBytes: a.bytes,
		Expired:         a.expired,
		Evicted:         a.evicted,
		DuplicateChunks: a.duplicates,
	}
}
