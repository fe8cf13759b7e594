package gelf

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/qnib/qwatch/message"
)

// The UDP path of one socket is three stages, so that one busy sender's gzip datagrams are
// inflated on every core and still come out in the order they came:
//
//   - one reader takes the datagrams from the socket, a batch a system call (recvmmsg), and
//     does little else, so the kernel's buffer is emptied as fast as datagrams arrive: it
//     hands chunks to the assembler and rejects what cannot be GELF by its first bytes
//     (admit), and numbers each batch in every lane it holds datagrams of;
//   - UDPWorkers decoders, any of them for any batch, inflate and decode: inflating a gzip
//     message (Docker's default) costs several times the read;
//   - UDPWorkers lanes, each for the senders (address and port) that hash to it, put the
//     decoded parts of the batches back in their numbered order and hand the messages, one
//     at a time, to the lane's joiner, grouping and emit. Docker's driver opens a socket per
//     container, so each container's lines keep their order, and the pieces of a split line
//     meet in one joiner.
//
// A batch, not a datagram, is what passes between the stages, so that a busy socket costs a
// few goroutine wake-ups per read rather than per datagram.
//
// What is between the reader and emit is bounded twice: udpWindow datagrams at most (read,
// not yet emitted), and the decoded messages waiting for an earlier part of their lane or
// for emit take udpHeldBytes, plus at most a message (MaxMessageSize) a decoder: a decoder
// that finds the bound reached leaves the rest of its batch undecoded, for the lanes to
// decode in turn. When the window is full the reader waits, and the datagrams wait in the
// socket's buffer, where the kernel counts what overflows it (Stats.KernelDrops): nothing is
// dropped unseen in between. The reader waits for nothing else: the batches waiting for a
// decoder are within the window too, so that a run of gzip bombs, each inflated to the size
// limit before it is rejected, keeps the decoders busy but not the reader.

const (
	// udpWindow bounds the datagrams of one socket that were read and not yet emitted.
	udpWindow = 1024
	// udpHeldBytes bounds (see above) the decoded messages of one socket waiting to be
	// emitted, by message.Message.Size.
	udpHeldBytes = 16 << 20
	// udpBatch is how many datagrams one read takes at most; each has a buffer of the
	// largest datagram, 64 KiB.
	udpBatch = 32
)

// inbound is a datagram as read: its sender and its bytes, which dispatch copies.
type inbound struct {
	from netip.AddrPort
	data []byte
}

// datagram is one datagram read, in a buffer of the pool, and its lane.
type datagram struct {
	buf  *[]byte
	lane int
}

// batch is the datagrams one read took, received at at, and the number of the batch's part
// in each lane it has datagrams of.
type batch struct {
	ds   []datagram
	at   time.Time
	seqs []uint64 // by lane
}

// part is what a decoder made of a batch's datagrams of one lane, in their order.
type part struct {
	seq   uint64
	at    time.Time
	items []item
	size  int64 // the decoded messages' Size, held against udpHeldBytes until emitted
}

// item is one datagram of a part: a message, or nothing (a chunk that did not complete its
// message, or input rejected and counted), or, past the byte bound, the datagram undecoded.
type item struct {
	m   message.Message
	ok  bool
	raw *[]byte
}

// lane restores the order of the datagrams of the senders that hash to it.
type lane struct {
	in   chan part // never full: it has room for the whole window
	next uint64    // the number of the lane's next part; the reader's alone
}

var datagramBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// itemLists keeps the items of emitted parts for the decoders to fill again: a part's
// items hold whole messages, too large to allocate a batch at a time.
var itemLists = sync.Pool{New: func() any { return new([]item) }}

// udpPipeline is the decoders and lanes of one socket.
type udpPipeline struct {
	s      *Source
	jobs   chan *batch // never full: it has room for the whole window
	lanes  []*lane
	window chan struct{} // a token per datagram read and not yet emitted
	held   atomic.Int64  // bytes of decoded messages not yet emitted

	batches  sync.Pool // of *batch, which the decoders give back
	numbered []bool    // by lane: whether the batch being dispatched has numbered it; the reader's

	decoders, lanesWG sync.WaitGroup
}

// startUDP starts the decoders and lanes of a socket whose messages go to emit.
func (s *Source) startUDP(emit func(message.Message)) *udpPipeline {
	p := s.newUDP()
	p.start(emit)
	return p
}

// newUDP returns the pipeline of a socket, its decoders and lanes not yet started.
func (s *Source) newUDP() *udpPipeline {
	n := s.cfg.UDPWorkers
	p := &udpPipeline{s: s, jobs: make(chan *batch, udpWindow), window: make(chan struct{}, udpWindow),
		numbered: make([]bool, n)}
	for range n {
		p.lanes = append(p.lanes, &lane{in: make(chan part, udpWindow)})
	}
	p.batches.New = func() any { return &batch{ds: make([]datagram, 0, udpBatch), seqs: make([]uint64, n)} }
	return p
}

// start starts the decoders and lanes, whose messages go to emit.
func (p *udpPipeline) start(emit func(message.Message)) {
	for _, ln := range p.lanes {
		p.lanesWG.Go(func() { p.runLane(ln, emit) })
		p.decoders.Go(p.decode)
	}
}

// stop hands on everything read and waits for it to be emitted: nothing accepted is dropped.
func (p *udpPipeline) stop() {
	close(p.jobs)
	p.decoders.Wait()
	for _, ln := range p.lanes {
		close(ln.in)
	}
	p.lanesWG.Wait()
}

// dispatch queues the datagrams of one read, received at at, for a decoder, numbered in
// their lanes; it waits while the window is full. What needs no order it does first, itself
// (admit), so that a chunk that does not complete its message, or a datagram that cannot be
// GELF, never waits for the window nor takes a place in it. The datagrams' bytes are copied.
func (p *udpPipeline) dispatch(in []inbound, at time.Time) {
	var b *batch
	var from netip.AddrPort
	l := -1 // the lane of from
	for _, d := range in {
		payload, fresh := p.s.admit(d.data, at)
		if payload == nil {
			continue
		}
		if b == nil {
			b = p.batches.Get().(*batch)
			b.at = at
			clear(p.numbered)
		}
		p.window <- struct{}{}
		var buf *[]byte
		if fresh {
			whole := payload // only a reassembled message's slice header goes to the heap
			buf = &whole
		} else {
			buf = datagramBufs.Get().(*[]byte)
			*buf = append((*buf)[:0], payload...)
		}
		if l < 0 || d.from != from { // a read often holds many datagrams of one sender
			from, l = d.from, senderSlot(d.from, len(p.lanes))
		}
		b.ds = append(b.ds, datagram{buf: buf, lane: l})
		if !p.numbered[l] {
			p.numbered[l] = true
			b.seqs[l] = p.lanes[l].next
			p.lanes[l].next++
		}
	}
	if b != nil {
		p.jobs <- b
	}
}

// admit is the part of a datagram's handling that keeps no order, and is cheap: a chunk goes
// to the assembler, which is safe for concurrent use, and a payload whose first bytes tell
// it cannot be GELF (notGELF) is rejected and counted. It returns what is left to decode, in
// the order the datagrams were read: the datagram, or the whole payload its chunk completed
// (fresh: a new slice, the caller's to keep), or nil.
func (s *Source) admit(data []byte, now time.Time) (payload []byte, fresh bool) {
	if isChunk(data) {
		s.chunks.Add(1)
		whole, err := s.asm.add(data, now)
		if err != nil {
			s.reject(err, "udp")
			return nil, false
		}
		if whole == nil {
			return nil, false
		}
		data, fresh = whole, true
	}
	if err := notGELF(data, s.cfg.MaxMessageSize); err != nil {
		s.reject(err, "udp")
		return nil, false
	}
	return data, fresh
}

// decode is a decoder: it decodes batches into parts for their lanes until jobs closes.
func (p *udpPipeline) decode() {
	dec := p.s.newDecoder()
	parts := make([]part, len(p.lanes))
	for b := range p.jobs {
		for _, d := range b.ds {
			pt := &parts[d.lane]
			if pt.items == nil {
				pt.items = (*itemLists.Get().(*[]item))[:0]
			}
			if p.held.Load() > udpHeldBytes {
				pt.items = append(pt.items, item{raw: d.buf})
				continue
			}
			var it item
			it.m, it.ok = p.s.decodePayload(dec, *d.buf, b.at)
			putDatagram(d.buf)
			if it.ok {
				size := int64(it.m.Size())
				pt.size += size
				p.held.Add(size)
			}
			pt.items = append(pt.items, it)
		}
		for l := range parts {
			if pt := parts[l]; pt.items != nil {
				pt.seq, pt.at = b.seqs[l], b.at
				p.lanes[l].in <- pt
				parts[l] = part{}
			}
		}
		clear(b.ds) // the buffers are the parts' now, or the pool's
		b.ds = b.ds[:0]
		p.batches.Put(b)
	}
}

func putDatagram(buf *[]byte) {
	if cap(*buf) <= 64<<10 {
		datagramBufs.Put(buf)
	}
}

// runLane emits a lane's messages in the order their datagrams were read, until its input
// closes. Pieces of a split line wait for the rest only while nothing comes, or JoinWait from
// their arrival, never while emit blocks. While lines are held for grouping, it ticks every
// Config.Multiline.TickEvery, whether datagrams come or not.
func (p *udpPipeline) runLane(ln *lane, emit func(message.Message)) {
	s := p.s
	dec := s.newDecoder() // for the datagrams the decoders left undecoded
	l := s.newLines(emit)
	defer l.finish() // the socket is closed: nothing more can come
	// The parts that came before their turn, by number modulo the window: a lane never has
	// more than the window's datagrams outstanding, so two parts never share a place.
	early := make([]part, udpWindow)
	have := make([]bool, udpWindow)
	var next uint64
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	tick := time.NewTimer(time.Hour)
	defer tick.Stop()
	ticking := false // tick is set for the grouping's next tick
	for {
		var wait, ticked <-chan time.Time
		if l.j.waiting() {
			idle.Reset(s.cfg.JoinWait)
			wait = idle.C
		}
		if due, ok := l.g.wake(); ok {
			if !ticking {
				tick.Reset(time.Until(due))
				ticking = true
			}
			ticked = tick.C
		}
		select {
		case pt, ok := <-ln.in:
			if !ok {
				return
			}
			i := pt.seq % udpWindow
			early[i], have[i] = pt, true
			for i = next % udpWindow; have[i]; i = next % udpWindow {
				pt := early[i]
				early[i], have[i] = part{}, false
				next++
				p.emitPart(dec, l, pt)
			}
		case <-wait:
			l.flushJoined()
		case now := <-ticked:
			ticking = false
			l.tick(now)
		}
	}
}

// emitPart hands a part's messages to the lane's lines, decoding those left undecoded, and
// gives back the window and bytes they held.
func (p *udpPipeline) emitPart(dec *decoder, l *lines, pt part) {
	for _, it := range pt.items {
		if it.raw != nil {
			it.m, it.ok = p.s.decodePayload(dec, *it.raw, pt.at)
			putDatagram(it.raw)
		}
		if it.ok {
			l.add(it.m, pt.at)
		}
		<-p.window
	}
	p.held.Add(-pt.size)
	clear(pt.items) // let the messages go
	items := pt.items[:0]
	itemLists.Put(&items)
}

// udpBatchReader reads many datagrams in one system call: recvmmsg on Linux, one at a time
// elsewhere.
type udpBatchReader interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchReader returns conn's batch reader, by the family of its address.
func batchReader(conn *net.UDPConn) udpBatchReader {
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		return ipv6.NewPacketConn(conn)
	}
	return ipv4.NewPacketConn(conn)
}

func (s *Source) readUDP(conn *net.UDPConn, emit func(message.Message)) {
	p := s.startUDP(emit)
	defer p.stop()
	br := batchReader(conn)
	batch := make([]ipv4.Message, udpBatch)
	in := make([]inbound, 0, udpBatch)
	for i := range batch {
		batch[i].Buffers = [][]byte{make([]byte, 65536)}
	}
	for {
		if err := s.setDeadline(conn, time.Time{}); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Warn("gelf: setting udp read deadline", "err", err)
		}
		n, err := br.ReadBatch(batch, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if s.draining.Load() {
					// Many datagrams a call: a flood fills the buffer with small ones.
					s.discardUntilEmpty(conn, "udp_unread", func() (int, error) { return br.ReadBatch(batch, 0) })
					return
				}
				continue
			}
			s.log.Warn("gelf: reading udp", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		in = in[:0]
		for _, m := range batch[:n] {
			s.datagrams.Add(1)
			s.bytes.Add(uint64(m.N))
			in = append(in, inbound{addrPort(m.Addr), m.Buffers[0][:m.N]})
		}
		p.dispatch(in, time.Now())
	}
}

// addrPort returns a datagram's sender.
func addrPort(a net.Addr) netip.AddrPort {
	if ua, ok := a.(*net.UDPAddr); ok {
		return ua.AddrPort()
	}
	return netip.AddrPort{}
}

// senderSlot picks the lane of a sender.
func senderSlot(from netip.AddrPort, n int) int {
	if n == 1 {
		return 0
	}
	h := uint32(from.Port()) * 2654435761
	for _, b := range from.Addr().As16() {
		h = (h ^ uint32(b)) * 16777619
	}
	return int(h % uint32(n))
}

// decodePayload decodes what admit left of a datagram, and reports whether a message came of
// it; what it rejects it counts.
func (s *Source) decodePayload(dec *decoder, payload []byte, now time.Time) (message.Message, bool) {
	m, err := s.decodeOne(dec, payload, now, "udp")
	return m, err == nil
}
