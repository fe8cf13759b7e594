package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	gogelf "github.com/Graylog2/go-gelf/gelf"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"golang.org/x/net/ipv4"
)

// A receiver runs in a process of its own (the bench program started again with -role), so
// that its CPU time and memory are its own. It prints its address, then its count every
// 20 ms.

func runReceiver(role string) error {
	var count atomic.Int64
	var addr string
	switch role {
	case "bare-udp", "bare-udp-batch", "bare-udp-inflate":
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
		// (recvmmsg), as gelf.Source reads. The third also inflates every whole gzip or zlib
		// datagram with a reset reader (the least any receiver of compressed GELF must do),
		// and counts chunks without reassembling them: what is left for everything else.
		inflate := role == "bare-udp-inflate"
		pc := ipv4.NewPacketConn(conn)
		batch := make([]ipv4.Message, 32)
		for i := range batch {
			batch[i].Buffers = [][]byte{make([]byte, 65536)}
		}
		go func() {
			var inf inflater
			for {
				n, err := pc.ReadBatch(batch, 0)
				if err != nil {
					return
				}
				if inflate {
					for _, m := range batch[:n] {
						inf.inflate(m.Buffers[0][:m.N])
					}
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

// inflater inflates a gzip or zlib datagram into a kept buffer with readers reset for each
// one, as cheaply as the library allows; anything else is left alone.
type inflater struct {
	src bytes.Reader
	gz  *gzip.Reader
	zl  io.ReadCloser
	out bytes.Buffer
}

func (f *inflater) inflate(p []byte) {
	if len(p) < 2 {
		return
	}
	f.src.Reset(p)
	var r io.Reader
	switch {
	case p[0] == 0x1f && p[1] == 0x8b:
		if f.gz == nil {
			gz, err := gzip.NewReader(&f.src)
			if err != nil {
				return
			}
			f.gz = gz
		} else if f.gz.Reset(&f.src) != nil {
			return
		}
		r = f.gz
	case p[0]&0x0f == 8 && (uint16(p[0])<<8|uint16(p[1]))%31 == 0:
		if f.zl == nil {
			zl, err := zlib.NewReader(&f.src)
			if err != nil {
				return
			}
			f.zl = zl
		} else if f.zl.(zlib.Resetter).Reset(&f.src, nil) != nil {
			return
		}
		r = f.zl
	default:
		return
	}
	f.out.Reset()
	f.out.ReadFrom(r)
}
