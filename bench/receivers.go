package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	gogelf "github.com/Graylog2/go-gelf/gelf"
	"golang.org/x/net/ipv4"
)

// A receiver runs in a process of its own (the bench program started again with -role), so
// that its CPU time and memory are its own. It prints its address, then its count every
// 20 ms.

func runReceiver(role string) error {
	var count atomic.Int64
	var addr string
	switch role {
	case "bare-udp", "bare-udp-batch":
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		conn.SetReadBuffer(8 << 20)
		addr = conn.LocalAddr().String()
		if role == "bare-udp" {
			go func() {
				buf := make([]byte, 65536)
				for {
					if _, _, err := conn.ReadFromUDP(buf); err != nil {
						return
					}
					count.Add(1)
				}
			}()
			break
		}
		// The second ceiling: the same loop reading up to 32 datagrams a system call
		// (recvmmsg), as gelf.Source reads.
		pc := ipv4.NewPacketConn(conn)
		batch := make([]ipv4.Message, 32)
		for i := range batch {
			batch[i].Buffers = [][]byte{make([]byte, 65536)}
		}
		go func() {
			for {
				n, err := pc.ReadBatch(batch, 0)
				if err != nil {
					return
				}
				count.Add(int64(n))
			}
		}()
	case "gogelf-udp":
		r, err := gogelf.NewReader("127.0.0.1:0")
		if err != nil {
			return err
		}
		addr = r.Addr()
		go func() {
			for {
				if _, err := r.ReadMessage(); err == nil {
					count.Add(1)
				}
			}
		}()
	case "bare-tcp":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr = ln.Addr().String()
		go func() {
			var wg sync.WaitGroup
			for {
				conn, err := ln.Accept()
				if err != nil {
					wg.Wait()
					return
				}
				wg.Go(func() {
					br := bufio.NewReaderSize(conn, 64<<10)
					for {
						if _, err := br.ReadSlice(0); err != nil && err != bufio.ErrBufferFull {
							return
						} else if err == nil {
							count.Add(1)
						}
					}
				})
			}
		}()
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	fmt.Printf("addr %s\n", addr)
	for {
		time.Sleep(20 * time.Millisecond)
		if _, err := fmt.Printf("count %d\n", count.Load()); err != nil {
			os.Exit(0)
		}
	}
}
