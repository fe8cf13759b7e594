package gelf

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/qnib/qwatch/message"
)

// The UDP path: one goroutine reads the socket and does nothing else, so the kernel's buffer
// is emptied as fast as datagrams arrive; UDPWorkers goroutines reassemble chunks, inflate,
// decode, join and emit. Inflating a gzip message (Docker's default) costs several times the
// read, so decoding on one goroutine would leave the socket to overflow.
//
// Each sender (address and port) is always handled by the same worker, so its messages are
// emitted in the order they arrived. Docker's driver opens a socket per container, so each
// container's lines keep their order, and the pieces of a split line meet in one joiner.

// udpQueue is how many datagrams wait for each worker; with datagrams of at most 64 KiB, a
// worker's queue holds at most 16 MiB.
const udpQueue = 256

// datagram is one datagram read, in a buffer of the pool.
type datagram struct {
	buf *[]byte
	at  time.Time
}

var datagramBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func (s *Source) readUDP(conn *net.UDPConn, emit func(message.Message)) {
	workers := make([]chan datagram, s.cfg.UDPWorkers)
	var wg sync.WaitGroup
	for i := range workers {
		in := make(chan datagram, udpQueue)
		workers[i] = in
		wg.Go(func() { s.decodeUDP(in, emit) })
	}
	defer func() {
		// What was read is handed on before the reader returns: nothing accepted is dropped.
		for _, in := range workers {
			close(in)
		}
		wg.Wait()
	}()
	buf := make([]byte, 65536)
	for {
		if err := s.setDeadline(conn, time.Time{}); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Warn("gelf: setting udp read deadline", "err", err)
		}
		n, from, err := conn.ReadFromUDPAddrPort(buf)
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
		s.datagrams.Add(1)
		s.bytes.Add(uint64(n))
		p := datagramBufs.Get().(*[]byte)
		*p = append((*p)[:0], buf[:n]...)
		workers[senderSlot(from, len(workers))] <- datagram{buf: p, at: time.Now()}
	}
}

// senderSlot picks the worker for a sender.
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

// decodeUDP handles the datagrams of its senders in the order they came, until in is closed.
// Pieces of a split line wait for the rest only while no datagram comes, or JoinWait from
// their arrival, never while emit blocks. While lines are held for grouping, it ticks every
// Config.Multiline.TickEvery, whether datagrams come or not.
func (s *Source) decodeUDP(in <-chan datagram, emit func(message.Message)) {
	dec := s.newDecoder()
	l := s.newLines(emit)
	defer l.finish() // the socket is closed: nothing more can come
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
		case d, ok := <-in:
			if !ok {
				return
			}
			s.handleDatagram(dec, l, *d.buf, d.at)
			if cap(*d.buf) <= 64<<10 {
				datagramBufs.Put(d.buf)
			}
		case <-wait:
			l.flushJoined()
		case now := <-ticked:
			ticking = false
			l.tick(now)
		}
	}
}

// handleDatagram reassembles a chunk or decodes a whole datagram.
func (s *Source) handleDatagram(dec *decoder, l *lines, payload []byte, now time.Time) {
	if isChunk(payload) {
		s.chunks.Add(1)
		whole, err := s.asm.add(payload, now)
		if err != nil {
			s.reject(err, "udp")
			return
		}
		if whole == nil {
			return
		}
		payload = whole
	}
	s.handle(dec, l, payload, now, "udp")
}
