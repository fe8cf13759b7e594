package gelf_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	gogelf "github.com/Graylog2/go-gelf/gelf"
	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

var _ qwatch.Source = (*gelf.Source)(nil)

// start listens with cfg (logging nothing unless cfg.Logger is set) and runs the Source, with
// a Collector as emit, until the test ends or stop is called; onEmit, when set, runs first in
// every emit. stop returns once Run has, and fails the test unless Run returned nil.
func start(t *testing.T, cfg gelf.Config, onEmit func(message.Message)) (src *gelf.Source, c *qwatchtest.Collector, stop func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	src, err := gelf.Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c = &qwatchtest.Collector{OnEmit: onEmit}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, c.Emit) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return src, c, stop
}

// wait waits for the Source to have emitted at least n messages and returns them all.
func wait(t *testing.T, c *qwatchtest.Collector, n int) []message.Message {
	t.Helper()
	msgs, err := c.WaitFor(n, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// waitUntil polls cond until it holds, and fails the test if it does not within 10 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// shortFor returns a short_message that makes the go-gelf JSON of m exactly size bytes.
func shortFor(t *testing.T, m gogelf.Message, size int) string {
	t.Helper()
	m.Short = ""
	var buf bytes.Buffer
	if err := m.MarshalJSONBuf(&buf); err != nil {
		t.Fatal(err)
	}
	if size < buf.Len()+1 {
		t.Fatalf("size %d below the envelope of %d bytes", size, buf.Len())
	}
	return strings.Repeat("s", size-buf.Len())
}

func TestGoGelfWriterUDP(t *testing.T) {
	src, c, _ := start(t, gelf.Config{UDPAddr: "127.0.0.1:0"}, nil)
	base := gogelf.Message{Version: "1.1", Host: "h", TimeUnix: 1795472805.123, Level: 3,
		Extra: map[string]any{"_container_name": "web-1", "_n": 7}}
	var want []message.Message
	send := func(w *gogelf.UDPWriter, short string) {
		m := base
		m.Short = short
		if err := w.WriteMessage(&m); err != nil {
			t.Fatal(err)
		}
		want = append(want, message.Message{Time: time.Unix(1795472805, 123_000_000).UTC(), Host: "h",
			Level: message.LevelErr, Text: short, Container: message.Container{Name: "web-1"}, Fields: map[string]any{"n": 7.0}})
	}
	for _, ct := range []gogelf.CompressType{gogelf.CompressGzip, gogelf.CompressZlib, gogelf.CompressNone} {
		w, err := gogelf.NewUDPWriter(src.UDPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		w.CompressionType = ct
		send(w, "x") // 1 byte
		if ct == gogelf.CompressNone {
			// Exact sizes on the wire: one chunk, the edge of chunking, and whole multiples of
			// 1408 bytes, whose last chunk is empty.
			for _, size := range []int{1419, 1420, 1421, 1408 * 2, 1408 * 3, 1408 * 100} {
				send(w, shortFor(t, base, size))
			}
		}
		for _, n := range []int{1419, 1420, 1421, 5000, 100_000} {
			send(w, strings.Repeat("a", n))
		}
		// Random text does not compress: this one takes close to the 128 chunks allowed.
		send(w, randomText(127*1408-400))
		w.Close()
		got := wait(t, c, len(want))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("compression %d: (-sent +received):\n%s", ct, diff)
		}
	}
	if st := src.Stats(); st.Messages != uint64(len(want)) || st.Incomplete != 0 || st.Rejected[gelf.ReasonBadChunk] != 0 {
		t.Errorf("stats %+v", st)
	}
}

func randomText(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = alphabet[x%uint32(len(alphabet))]
	}
	return string(b)
}

func TestGoGelfWriterTCP(t *testing.T) {
	src, c, _ := start(t, gelf.Config{TCPAddr: "127.0.0.1:0"}, nil)
	w, err := gogelf.NewTCPWriter(src.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var want []string
	for i, n := range []int{1, 1419, 1420, 1421, 70_000, 500_000} {
		short := fmt.Sprintf("%d:%s", i, strings.Repeat("t", n))
		if err := w.WriteMessage(&gogelf.Message{Version: "1.1", Host: "h", Short: short, TimeUnix: 1, Level: 6}); err != nil {
			t.Fatal(err)
		}
		want = append(want, short)
	}
	got := wait(t, c, len(want))
	var texts []string
	for _, m := range got {
		texts = append(texts, m.Text)
	}
	if !cmp.Equal(want, texts) {
		t.Errorf("TCP messages differ: got %d, want %d", len(texts), len(want))
	}
}

func TestTCPLimits(t *testing.T) {
	src, c, _ := start(t, gelf.Config{TCPAddr: "127.0.0.1:0", MaxMessageSize: 1000, MaxConnections: 2, IdleTimeout: time.Second}, nil)
	addr := src.TCPAddr().String()
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	a := dial()
	// An oversized frame is skipped up to its NUL; the next message on the connection still counts.
	fmt.Fprintf(a, `{"short_message":"%s"}`+"\x00", strings.Repeat("x", 5000))
	fmt.Fprint(a, `{"short_message":"after the big one"}`+"\x00")
	if got := wait(t, c, 1); got[0].Text != "after the big one" {
		t.Errorf("got %q", got[0].Text)
	}
	b := dial()
	fmt.Fprint(b, `{"short_message":"second connection"}`+"\x00")
	wait(t, c, 2)
	// A third connection is over the limit: closed at once.
	third := dial()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Error("a connection over the limit was kept open")
	}
	// Silent clients are closed after the idle timeout.
	for _, conn := range []net.Conn{a, b} {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
			t.Errorf("idle connection not closed by the server: %v", err)
		}
	}
	st := src.Stats()
	if st.Rejected[gelf.ReasonTooLarge] != 1 || st.Rejected[gelf.ReasonConnLimit] != 1 || st.TCPConnections != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestShutdownClosesConnections(t *testing.T) {
	src, err := gelf.Listen(gelf.Config{TCPAddr: "127.0.0.1:0", UDPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, func(message.Message) {}) }()
	conn, err := net.Dial("tcp", src.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, `{"short_message":"partial`) // a frame that never ends
	waitUntil(t, "the source to take the connection", func() bool { return src.Stats().TCPConnections == 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel with a silent client connected")
	}
	if _, err := net.Dial("tcp", src.TCPAddr().String()); err == nil {
		t.Error("still accepting after shutdown")
	}
}

func TestHTTP(t *testing.T) {
	src, c, _ := start(t, gelf.Config{HTTPAddr: "127.0.0.1:0", MaxMessageSize: 10_000}, nil)
	url := "http://" + src.HTTPAddr().String() + "/gelf"
	post := func(body []byte, encoding string) int {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post([]byte(`{"short_message":"plain over http","host":"h"}`), ""); code != http.StatusAccepted {
		t.Errorf("plain: status %d", code)
	}
	if code := post(gelf.Gzipped([]byte(`{"short_message":"gzip over http"}`)), "gzip"); code != http.StatusAccepted {
		t.Errorf("gzip: status %d", code)
	}
	if code := post([]byte(`{"nope":1}`), ""); code != http.StatusBadRequest {
		t.Errorf("bad message: status %d", code)
	}
	if code := post(bytes.Repeat([]byte("x"), 20_000), ""); code != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: status %d", code)
	}
	got := wait(t, c, 2)
	if got[0].Text != "plain over http" || got[1].Text != "gzip over http" {
		t.Errorf("got %q, %q", got[0].Text, got[1].Text)
	}
	st := src.Stats()
	if st.HTTPRequests != 4 || st.Rejected[gelf.ReasonMissingMessage] != 1 || st.Rejected[gelf.ReasonTooLarge] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestListenErrors(t *testing.T) {
	if _, err := gelf.Listen(gelf.Config{}); err == nil || !strings.Contains(err.Error(), "no address") {
		t.Errorf("Listen with no address = %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = gelf.Listen(gelf.Config{UDPAddr: "127.0.0.1:0", TCPAddr: ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Listen on a used port = %v", err)
	}
}

func TestUDPGarbageCountedNotFatal(t *testing.T) {
	src, c, _ := start(t, gelf.Config{UDPAddr: "127.0.0.1:0"}, nil)
	conn, err := net.Dial("udp", src.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, d := range [][]byte{[]byte("garbage"), {0x1e, 0x0f, 1}, {0x1f, 0x8b, 1, 2}, []byte(`{"short_message":"fine"}`)} {
		conn.Write(d)
	}
	if got := wait(t, c, 1); got[0].Text != "fine" {
		t.Errorf("got %q", got[0].Text)
	}
	st := src.Stats()
	if st.Rejected[gelf.ReasonJSON] != 1 || st.Rejected[gelf.ReasonBadChunk] != 1 || st.Rejected[gelf.ReasonDecompress] != 1 {
		t.Errorf("stats %+v", st.Rejected)
	}
}

// Unfinished TCP frames of all connections share MaxFrameBytes: senders that trickle large
// frames are refused, counted as overload, while a connection with whole frames goes on.
func TestTCPFramesShareABudget(t *testing.T) {
	src, c, _ := start(t, gelf.Config{TCPAddr: "127.0.0.1:0", MaxFrameBytes: 64 << 10}, nil)
	var conns []net.Conn
	for range 4 {
		conn, err := net.Dial("tcp", src.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns = append(conns, conn)
		// 40 KiB of a frame that does not end: two of these fill the budget.
		conn.Write([]byte(`{"short_message":"` + strings.Repeat("x", 40<<10)))
	}
	waitUntil(t, "two overloads from 160 KiB of unfinished frames with a 64 KiB budget", func() bool {
		return src.Stats().Rejected[gelf.ReasonOverload] >= 2
	})
	good, err := net.Dial("tcp", src.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	good.Write([]byte(`{"short_message":"still here"}` + "\x00"))
	wait(t, c, 1)
	// The refused frames are skipped to their end; whole frames after them still work.
	for _, conn := range conns {
		conn.Write([]byte(`"}` + "\x00" + `{"short_message":"after"}` + "\x00"))
	}
	// Each connection's "after" comes behind its large frame: once all four are in, every
	// large frame has been refused or emitted, and no more refusals can come.
	count := func(text string) int {
		n := 0
		for _, m := range c.Messages() {
			if m.Text == text {
				n++
			}
		}
		return n
	}
	waitUntil(t, "a whole frame after each large one", func() bool { return count("after") == 4 })
	refused := int(src.Stats().Rejected[gelf.ReasonOverload])
	if n := c.Len(); refused < 2 || n != 1+4+4-refused {
		t.Errorf("%d messages with %d large frames refused, want 1 + 4 + the %d large frames not refused", n, refused, 4-refused)
	}
}
