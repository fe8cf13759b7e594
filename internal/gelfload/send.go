package gelfload

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// Sent says what Send sent.
type Sent struct {
	Messages, Packets int
	Bytes             int64
	Took              time.Duration
}

// Send sends msgs to addr over network ("udp" or "tcp"), flat out when rate is 0, else at
// about rate messages a second. Over UDP each container sends from a socket of its own, as
// Docker's driver does, all from one goroutine. Over TCP the messages go over conns
// connections, each container's on one of them so that its order is kept, a goroutine each.
func Send(ctx context.Context, network, addr string, msgs []Message, rate, conns int) (Sent, error) {
	conns = max(conns, 1)
	lanes := conns
	if network == "udp" {
		lanes = 0
		for _, m := range msgs {
			lanes = max(lanes, m.Container+1)
		}
		conns = 1
	}
	parts := make([][]Message, conns)
	for _, m := range msgs {
		parts[m.Container%conns] = append(parts[m.Container%conns], m)
	}
	if network == "udp" {
		conns = lanes
	}
	start := time.Now()
	var mu sync.Mutex
	var total Sent
	var firstErr error
	var wg sync.WaitGroup
	for _, part := range parts {
		wg.Go(func() {
			s, err := sendOne(ctx, network, addr, part, rate*len(part)/max(len(msgs), 1), conns)
			mu.Lock()
			defer mu.Unlock()
			total.Messages += s.Messages
			total.Packets += s.Packets
			total.Bytes += s.Bytes
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	total.Took = time.Since(start)
	return total, firstErr
}

// sendOne sends msgs from one goroutine: over TCP on one connection, over UDP from a socket
// per container (sockets of them).
func sendOne(ctx context.Context, network, addr string, msgs []Message, rate, sockets int) (Sent, error) {
	var s Sent
	if network == "tcp" {
		sockets = 1
	}
	writes := make([]func([]byte) (int, error), sockets)
	var bw *bufio.Writer
	for i := range writes {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return s, fmt.Errorf("gelfload: dialing %s %s: %w", network, addr, err)
		}
		defer conn.Close()
		writes[i] = conn.Write
		if network == "tcp" {
			bw = bufio.NewWriterSize(conn, 64<<10)
			writes[i] = bw.Write
		}
	}
	// At a rate, the messages go in a burst each millisecond.
	perTick := len(msgs)
	var tick *time.Ticker
	if rate > 0 {
		perTick = max(rate/1000, 1)
		tick = time.NewTicker(time.Millisecond)
		defer tick.Stop()
	}
	for i, m := range msgs {
		if tick != nil && i > 0 && i%perTick == 0 {
			if bw != nil {
				if err := bw.Flush(); err != nil {
					return s, err
				}
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return s, ctx.Err()
			}
		}
		write := writes[m.Container%sockets]
		for _, p := range m.Packets {
			if _, err := write(p); err != nil {
				return s, fmt.Errorf("gelfload: sending: %w", err)
			}
			s.Packets++
			s.Bytes += int64(len(p))
		}
		s.Messages++
	}
	if bw != nil {
		return s, bw.Flush()
	}
	return s, nil
}
