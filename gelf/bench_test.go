package gelf

import (
	"bufio"
	"bytes"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/internal/gelfload"
	"github.com/qnib/qwatch/message"
)

// The benchmarks decode a Docker-style message (dockerPayload, 578 bytes) and compare with
// baselines run in the same process: encoding/json into a map, and for gzip a new
// compress/gzip reader per message followed by encoding/json, as go-gelf's reader does.
// Payloads are compressed as Docker's GELF driver compresses them (go-gelf, flate.BestSpeed).

func dockerCompressed(b *testing.B, zlibFormat bool) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	if zlibFormat {
		w, _ = stdzlib.NewWriterLevel(&buf, stdzlib.BestSpeed)
	} else {
		w, _ = stdgzip.NewWriterLevel(&buf, stdgzip.BestSpeed)
	}
	w.Write([]byte(dockerPayload))
	w.Close()
	return buf.Bytes()
}

// benchDecode decodes payload, which holds dockerPayload, over and over with one Decoder.
func benchDecode(b *testing.B, payload []byte) {
	d := testDecoder()
	now := time.Now()
	b.SetBytes(int64(len(dockerPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decode(payload, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePlain(b *testing.B) { benchDecode(b, []byte(dockerPayload)) }

func BenchmarkDecodeGzip(b *testing.B) { benchDecode(b, dockerCompressed(b, false)) }

func BenchmarkDecodeZlib(b *testing.B) { benchDecode(b, dockerCompressed(b, true)) }

func BenchmarkBaselinePlainJSONMap(b *testing.B) {
	payload := []byte(dockerPayload)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBaselineGzipJSONMap(b *testing.B) {
	payload := dockerCompressed(b, false)
	b.SetBytes(int64(len(dockerPayload)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := stdgzip.NewReader(bytes.NewReader(payload))
		if err != nil {
			b.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			b.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// decodeDatagram is all of a datagram's handling on one goroutine, as the UDP path did it
// before it decoded on every core.
func (s *Source) decodeDatagram(dec *decoder, data []byte, now time.Time) (message.Message, bool) {
	payload, _ := s.admit(data, now)
	if payload == nil {
		return message.Message{}, false
	}
	return s.decodePayload(dec, payload, now)
}

// BenchmarkUDPWorker is a UDP decoder's work on plain lines as Docker's driver sends them
// (gelfload's load: 10 containers, gzip, lines of 50 B to 2 KiB, every 20th chunked):
// reassemble, inflate, decode, join the pieces of split lines, group or not, clamp and emit.
// Each op handles one message twice, with the grouping off and on (the default), timed
// apart and in turns, so that both see the same load of a noisy machine: it reports the ns a message of
// each, and on/off, the throughput with the grouping on as a share of that with it off.
func BenchmarkUDPWorker(b *testing.B) {
	// More chunked messages than the assembler remembers as done, so that a message sent
	// again is reassembled again rather than taken for a duplicate.
	msgs, err := gelfload.Make(gelfload.Config{Count: 30000}, true)
	if err != nil {
		b.Fatal(err)
	}
	type path struct {
		s       *Source
		l       *lines
		dec     *decoder
		took    time.Duration
		emitted int
	}
	paths := make([]*path, 2)
	for i, rule := range []multiline.Rule{multiline.Off, multiline.Auto} {
		s, err := Listen(Config{UDPAddr: "127.0.0.1:0", JoinDockerLines: true, MultilineRule: rule,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		p := &path{s: s, dec: s.newDecoder()}
		p.l = s.newLines(s.clamping(func(message.Message) { p.emitted++ }))
		paths[i] = p
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		packets := msgs[n%len(msgs)].Packets
		n++
		// The second to handle a message finds it in the cache: each goes second in turn.
		paths[0], paths[1] = paths[1], paths[0]
		for _, p := range paths {
			start := time.Now()
			for _, pk := range packets {
				if m, ok := p.s.decodeDatagram(p.dec, pk, start); ok {
					p.l.add(m, start)
				}
			}
			p.took += time.Since(start)
		}
	}
	if n%2 == 1 {
		paths[0], paths[1] = paths[1], paths[0]
	}
	for _, p := range paths {
		p.l.finish()
		if p.emitted != n {
			b.Fatalf("%d messages handled, %d emitted", n, p.emitted)
		}
	}
	off, on := paths[0].took, paths[1].took
	b.ReportMetric(float64(off.Nanoseconds())/float64(n), "off-ns/msg")
	b.ReportMetric(float64(on.Nanoseconds())/float64(n), "on-ns/msg")
	b.ReportMetric(float64(off)/float64(on), "on/off")
}

// The inflate benchmarks inflate dockerPayload, gzipped as Docker's driver does, three ways:
// a new compress/gzip reader per message (what go-gelf's reader does: the baseline), one
// compress/gzip reader Reset for each, and the decoder's inflater (klauspost/compress,
// reset, reading straight into a kept buffer).

func BenchmarkInflate(b *testing.B) {
	payload := dockerCompressed(b, false)
	var src bytes.Reader
	std, err := stdgzip.NewReader(bytes.NewReader(payload))
	if err != nil {
		b.Fatal(err)
	}
	out := make([]byte, 0, 4096)
	var inf inflater
	for _, way := range []struct {
		name    string
		inflate func() error
	}{
		{"baseline-std-new", func() error {
			r, err := stdgzip.NewReader(bytes.NewReader(payload))
			if err == nil {
				_, err = io.ReadAll(r)
			}
			return err
		}},
		{"std-reset", func() error {
			src.Reset(payload)
			err := std.Reset(&src)
			if err == nil {
				_, err = bytes.NewBuffer(out[:0]).ReadFrom(std)
			}
			return err
		}},
		{"inflater", func() error {
			_, err := inf.inflate(payload, false, DefaultMaxMessageSize)
			return err
		}},
	} {
		b.Run(way.name, func(b *testing.B) {
			b.SetBytes(int64(len(dockerPayload)))
			b.ReportAllocs()
			for b.Loop() {
				if err := way.inflate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTCP sends gelfload's Docker-style lines (plain JSON, NUL after each, as Docker's
// driver sends over TCP) over 4 loopback connections, to a bare reader that only finds the
// NULs (the baseline) and to a Source joining Docker's split lines, grouping off (the last line of a stream would
// wait for the idle time), whose emit
// only counts. An op is a message received.
func BenchmarkTCP(b *testing.B) {
	msgs, err := gelfload.Make(gelfload.Config{Count: 20000, Compression: "none"}, false)
	if err != nil {
		b.Fatal(err)
	}
	const conns = 4
	send := func(b *testing.B, addr string) {
		load := make([]gelfload.Message, b.N)
		for i := range load {
			load[i] = msgs[i%len(msgs)]
		}
		if _, err := gelfload.Send(context.Background(), "tcp", addr, load, 0, conns); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("baseline-bare-nul-reader", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		var got atomic.Int64
		var wg sync.WaitGroup
		defer wg.Wait()
		defer ln.Close()
		wg.Go(func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				wg.Go(func() {
					defer conn.Close()
					r := bufio.NewReaderSize(conn, 64<<10)
					for {
						_, err := r.ReadSlice(0)
						if err == nil {
							got.Add(1)
						} else if !errors.Is(err, bufio.ErrBufferFull) {
							return
						}
					}
				})
			}
		})
		b.ReportAllocs()
		send(b, ln.Addr().String())
		for got.Load() < int64(b.N) {
			runtime.Gosched()
		}
	})
	b.Run("source", func(b *testing.B) {
		s, err := Listen(Config{TCPAddr: "127.0.0.1:0", JoinDockerLines: true, MultilineRule: multiline.Off,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		var got atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, func(message.Message) { got.Add(1) }) }()
		b.ReportAllocs()
		send(b, s.TCPAddr().String())
		for got.Load() < int64(b.N) {
			runtime.Gosched()
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkUDPOneSender is one sender's gzip datagrams (gelfload's Docker-style lines, every
// 20th chunked) in reads of udpBatch: decoded inline by one goroutine (the baseline: a
// sender pinned to one worker, as before) and through the pipeline that decodes on every
// core and puts the messages back in order. An op is a message emitted; grouping is on.
func BenchmarkUDPOneSender(b *testing.B) {
	msgs, err := gelfload.Make(gelfload.Config{Count: 30000, Containers: 1}, true)
	if err != nil {
		b.Fatal(err)
	}
	benchUDPPaths(b, func(n int) (ds [][]byte, emitted int) {
		for i := range n {
			ds = append(ds, msgs[i%len(msgs)].Packets...)
		}
		return ds, n
	})
}

// BenchmarkUDPFlood is one sender's flood as the fault suite sends it, in its shares: of
// 1,105 datagrams, 100 that cannot be GELF (256 B), a gzip bomb (1 KiB inflating to just
// over the size limit), 4 Docker messages and 1,000 chunks that never complete their
// message. An op is a datagram.
func BenchmarkUDPFlood(b *testing.B) {
	garbage := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64)
	bomb := Gzipped(bytes.Repeat([]byte{'0'}, DefaultMaxMessageSize+1))
	valid := dockerCompressed(b, false)
	benchUDPPaths(b, func(n int) (ds [][]byte, emitted int) {
		for i := range n {
			switch k := i % 1105; {
			case k < 100:
				ds = append(ds, garbage)
			case k == 100:
				ds = append(ds, bomb)
			case k <= 104:
				ds = append(ds, valid)
				emitted++
			default:
				c := []byte{0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
				binary.BigEndian.PutUint64(c[2:], uint64(i))
				ds = append(ds, append(c, `{"short_message":"never ends`...))
			}
		}
		return ds, emitted
	})
}

// benchUDPPaths runs one sender's datagrams, the load of b.N ops and the messages they make,
// in reads of udpBatch: decoded inline by one goroutine (the baseline) and through the
// pipeline. It reports the process's CPU time an op beside the wall time: the pipeline
// spends more of it on hand-offs, which matters where the cores are busy with other work.
func benchUDPPaths(b *testing.B, load func(n int) (ds [][]byte, emitted int)) {
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	// reads returns the datagrams of b.N ops in reads of udpBatch.
	reads := func(b *testing.B) (out [][]inbound, emitted int) {
		ds, emitted := load(b.N)
		var cur []inbound
		for _, d := range ds {
			cur = append(cur, inbound{from, d})
			if len(cur) == udpBatch {
				out, cur = append(out, cur), nil
			}
		}
		return append(out, cur), emitted
	}
	newSource := func(b *testing.B) *Source {
		s, err := Listen(Config{UDPAddr: "127.0.0.1:0", JoinDockerLines: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var cpu0 time.Duration
	check := func(b *testing.B, emitted, want int) {
		b.ReportMetric(float64((cpu()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		if emitted != want {
			b.Fatalf("%d messages sent, %d emitted", want, emitted)
		}
	}
	b.Run("baseline-inline", func(b *testing.B) {
		s := newSource(b)
		emitted := 0
		l := s.newLines(func(message.Message) { emitted++ })
		dec := s.newDecoder()
		in, want := reads(b)
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 = cpu()
		for _, batch := range in {
			now := time.Now()
			for _, d := range batch {
				if m, ok := s.decodeDatagram(dec, d.data, now); ok {
					l.add(m, now)
				}
			}
		}
		l.finish()
		check(b, emitted, want)
	})
	b.Run("pipeline", func(b *testing.B) {
		s := newSource(b)
		emitted := 0
		p := s.startUDP(func(message.Message) { emitted++ })
		in, want := reads(b)
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 = cpu()
		for _, batch := range in {
			p.dispatch(batch, time.Now())
		}
		p.stop()
		check(b, emitted, want)
	})
}
