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
//     does nothing else, so the kernel's buffer is emptied as fast as datagrams arrive. It
//     numbers each datagram in its sender's lane;
//   - UDPWorkers decoders, any of them for any datagram, reassemble chunks, inflate and
//     decode: inflating a gzip message (Docker's default) costs several times the read;
//   - UDPWorkers lanes, each for the senders (address and port) that hash to it, put the
//     decoded messages back in their numbered order and hand them, one at a time, to the
//     lane's joiner, grouping and emit. Docker's driver opens a socket per container, so each
//     container's lines keep their order, and the pieces of a split line meet in one joiner.
//
// What is between the reader and emit is bounded twice: udpWindow datagrams at most (read,
// not yet emitted), and udpHeldBytes of decoded messages waiting for an earlier one of their
// lane or for emit, which the reader may overshoot by what the decoders have in hand
// (udpQueuePerWorker+1 messages a decoder, each at most MaxMessageSize). When either is
// full the reader waits, and the datagrams wait in the socket's buffer, where the kernel
// counts what overflows it (Stats.KernelDrops): nothing is dropped unseen in between.

const (
	// udpWindow bounds the datagrams of one socket that were read and not yet emitted.
	udpWindow = 512
	// udpHeldBytes bounds (see above) the decoded messages of one socket waiting to be
	// emitted, by message.Message.Size.
	udpHeldBytes = 16 << 20
	// udpQueuePerWorker is how many datagrams wait for a decoder, per decoder: few, as a
	// decoded message may be large and the reader cannot tell before it is decoded.
	udpQueuePerWorker = 4
	// udpBatch is how many datagrams one read takes at most; each has a buffer of the
	// largest datagram, 64 KiB.
	udpBatch = 32
)

// udpJob is one datagram read, in a buffer of the pool, numbered in its lane.
type udpJob struct {
	buf  *[]byte
	at   time.Time
	seq  uint64
	lane *lane
}

// decoded is what a decoder made of a datagram: a message, or nothing (a chunk that did not
// complete its message, or input rejected and counted).
type decoded struct {
	seq  uint64
	at   time.Time
	m    message.Message
	ok   bool
	size int64 // m.Size(), held against udpHeldBytes until emitted
}

// lane restores the order of the datagrams of the senders that hash to it.
type lane struct {
	in   chan decoded // never full: it has room for the whole window
	next uint64       // the number of the lane's next datagram; the reader's alone
}

var datagramBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// udpPipeline is the decoders and lanes of one socket.
type udpPipeline struct {
	s      *Source
	jobs   chan udpJob
	lanes  []*lane
	window chan struct{} // a token per datagram read and not yet emitted

	held    atomic.Int64 // bytes of decoded messages not yet emitted
	waiting atomic.Bool  // the reader waits for held to fall
	mu      sync.Mutex
	fell    *sync.Cond

	decoders, lanesWG sync.WaitGroup
}

// startUDP starts the decoders and lanes of a socket whose messages go to emit.
func (s *Source) startUDP(emit func(message.Message)) *udpPipeline {
	n := s.cfg.UDPWorkers
	p := &udpPipeline{s: s, jobs: make(chan udpJob, n*udpQueuePerWorker), window: make(chan struct{}, udpWindow)}
	p.fell = sync.NewCond(&p.mu)
	for range n {
		ln := &lane{in: make(chan decoded, udpWindow)}
		p.lanes = append(p.lanes, ln)
		p.lanesWG.Go(func() { p.runLane(ln, emit) })
		p.decoders.Go(p.decode)
	}
	return p
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

// dispatch numbers a datagram from a sender, received at at, in its lane and queues it for
// a decoder; it waits while the window or the bytes held are full. data is copied.
func (p *udpPipeline) dispatch(from netip.AddrPort, data []byte, at time.Time) {
	p.window <- struct{}{}
	if p.held.Load() > udpHeldBytes {
		p.waitHeld()
	}
	buf := datagramBufs.Get().(*[]byte)
	*buf = append((*buf)[:0], data...)
	ln := p.lanes[senderSlot(from, len(p.lanes))]
	p.jobs <- udpJob{buf: buf, at: at, seq: ln.next, lane: ln}
	ln.next++
}

// waitHeld waits until the decoded messages held take at most udpHeldBytes.
func (p *udpPipeline) waitHeld() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waiting.Store(true)
	for p.held.Load() > udpHeldBytes {
		p.fell.Wait()
	}
	p.waiting.Store(false)
}

// release gives back what an emitted (or empty) result held.
func (p *udpPipeline) release(size int64) {
	<-p.window
	if size == 0 {
		return
	}
	// The reader stores waiting before it looks at held, and a lane looks at waiting after
	// it lowered held: one of them sees the other's write, so no wake-up is missed.
	if p.held.Add(-size) <= udpHeldBytes && p.waiting.Load() {
		p.mu.Lock()
		p.fell.Signal()
		p.mu.Unlock()
	}
}

// decode is a decoder: it turns datagrams into messages for their lanes until jobs closes.
func (p *udpPipeline) decode() {
	dec := p.s.newDecoder()
	for j := range p.jobs {
		r := decoded{seq: j.seq, at: j.at}
		r.m, r.ok = p.s.decodeDatagram(dec, *j.buf, j.at)
		if cap(*j.buf) <= 64<<10 {
			datagramBufs.Put(j.buf)
		}
		if r.ok {
			r.size = int64(r.m.Size())
			p.held.Add(r.size)
		}
		j.lane.in <- r
	}
}

// runLane emits a lane's messages in the order their datagrams were read, until its input
// closes. Pieces of a split line wait for the rest only while nothing comes, or JoinWait from
// their arrival, never while emit blocks. While lines are held for grouping, it ticks every
// Config.Multiline.TickEvery, whether datagrams come or not.
func (p *udpPipeline) runLane(ln *lane, emit func(message.Message)) {
	s := p.s
	l := s.newLines(emit)
	defer l.finish() // the socket is closed: nothing more can come
	// The results that came before their turn, by number modulo the window: a lane never
	// has more than the window outstanding, so two never share a place.
	early := make([]decoded, udpWindow)
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
		case r, ok := <-ln.in:
			if !ok {
				return
			}
			i := r.seq % udpWindow
			early[i], have[i] = r, true
			for i = next % udpWindow; have[i]; i = next % udpWindow {
				r := early[i]
				early[i], have[i] = decoded{}, false
				next++
				if r.ok {
					l.add(r.m, r.at)
				}
				p.release(r.size)
			}
		case <-wait:
			l.flushJoined()
		case now := <-ticked:
			ticking = false
			l.tick(now)
		}
	}
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
					s.discardLeft(conn, "udp_unread", func(b []byte) int { return min(len(b), 1) })
					return
				}
				continue
			}
			s.log.Warn("gelf: reading udp", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		at := time.Now()
		for _, m := range batch[:n] {
			s.datagrams.Add(1)
			s.bytes.Add(uint64(m.N))
			p.dispatch(addrPort(m.Addr), m.Buffers[0][:m.N], at)
		}
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

// decodeDatagram reassembles a chunk or decodes a whole datagram, and reports whether a
// message came of it; what it rejects it counts.
func (s *Source) decodeDatagram(dec *decoder, payload []byte, now time.Time) (message.Message, bool) {
	if isChunk(payload) {
		s.chunks.Add(1)
		whole, err := s.asm.add(payload, now)
		if err != nil {
			s.reject(err, "udp")
			return message.Message{}, false
		}
		if whole == nil {
			return message.Message{}, false
		}
		payload = whole
	}
	m, err := s.decodeOne(dec, payload, now, "udp")
	return m, err == nil
}
