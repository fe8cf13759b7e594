package gelf_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

// A healthy idle TCP connection is never closed by default: Docker's driver would lose the
// next line it writes to it. With an idle timeout set, the same wait closes it, which shows
// the test can tell.
func TestIdleTCPConnectionKeptByDefault(t *testing.T) {
	if gelf.DefaultIdleTimeout != 0 {
		t.Fatalf("DefaultIdleTimeout = %v, want 0 (never)", gelf.DefaultIdleTimeout)
	}
	const idle = 300 * time.Millisecond
	for _, tt := range []struct {
		name  string
		idle  time.Duration
		quiet func(t *testing.T, conn net.Conn, c *qwatchtest.Collector)
	}{
		{"default", 0, func(t *testing.T, conn net.Conn, c *qwatchtest.Collector) {
			// Quiet for five times as long as the idle timeout below takes to close one.
			conn.SetReadDeadline(time.Now().Add(5 * idle))
			if _, err := conn.Read(make([]byte, 1)); !isTimeout(err) {
				t.Fatalf("the quiet connection was closed by the server: %v", err)
			}
			fmt.Fprintf(conn, `{"version":"1.1","host":"h","short_message":"after a quiet spell"}`+"\x00")
			if got := wait(t, c, 2); got[1].Text != "after a quiet spell" {
				t.Errorf("got %q after a quiet spell", got[1].Text)
			}
		}},
		{"timeout", idle, func(t *testing.T, conn net.Conn, _ *qwatchtest.Collector) {
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := conn.Read(make([]byte, 1)); err == nil || isTimeout(err) {
				t.Errorf("with an idle timeout of %v the quiet connection stayed open: %v", idle, err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, c, _ := start(t, gelf.Config{TCPAddr: "127.0.0.1:0", IdleTimeout: tt.idle}, nil)
			conn, err := net.Dial("tcp", src.TCPAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, `{"version":"1.1","host":"h","short_message":"first"}`+"\x00")
			wait(t, c, 1)
			tt.quiet(t, conn, c)
		})
	}
}

// Shutdown with a blocked emit: every frame whose write returned OK is either emitted or
// counted as discarded; none vanishes, and none held for grouping (the frames of a container's
// stdout and stderr) either. The sender stops before the shutdown, once the socket buffers
// are full: what a sender writes after the last read of a closing connection is lost with the
// connection, counted by no one.
func TestShutdownAccountsForEveryTCPFrame(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	src, c, stop := start(t, gelf.Config{TCPAddr: "127.0.0.1:0", DrainTimeout: 300 * time.Millisecond}, func(message.Message) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
	})
	conn, err := net.Dial("tcp", src.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = 20000
	frames := streamFrames(strings.Repeat("x", 100))
	// Written until a write waits a while: emit holds the reader, so the buffers fill up.
	written := 0
	for ; written < n; written++ {
		conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := conn.Write([]byte(frames[written%len(frames)] + "\x00")); err != nil {
			break
		}
	}
	<-entered // the source has read a frame and is held in emit
	// Partway through the drain the Hub gives up on its queues and lets emit return; the
	// frames must add up whenever that is.
	time.AfterFunc(200*time.Millisecond, func() { close(release) })
	stop()
	st := src.Stats()
	emitted := c.Len()
	if accounted := emitted + int(st.Discarded["tcp_unread"]); accounted != written {
		t.Errorf("%d frames written, %d emitted + %d discarded = %d", written, emitted, st.Discarded["tcp_unread"], accounted)
	}
	if st.Discarded["tcp_unread"] == 0 {
		t.Logf("all %d frames were read within the drain timeout", written)
	}
}

// Datagrams the kernel dropped because the reader was held up are counted.
func TestKernelDropsAreCounted(t *testing.T) {
	release := make(chan struct{})
	src, c, _ := start(t, gelf.Config{UDPAddr: "127.0.0.1:0", ReadBuffer: 4096}, func(message.Message) { <-release })
	conn, err := net.Dial("udp", src.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const sent = 2000
	for i := range sent {
		fmt.Fprintf(conn, `{"version":"1.1","host":"h","short_message":"datagram %d"}`, i)
	}
	close(release)
	waitUntil(t, "every datagram emitted or dropped by the kernel", func() bool { return int(src.Stats().KernelDrops)+c.Len() == sent })
	if st := src.Stats(); st.KernelDrops == 0 {
		t.Errorf("sent %d into a 4 KiB buffer with emit held: emitted %d, kernel drops %d; want drops counted", sent, c.Len(), st.KernelDrops)
	}
}

// "localhost" listens on both loopback addresses, as Docker's driver may send to either.
func TestLocalhostMeansBothLoopbacks(t *testing.T) {
	src, c, _ := start(t, gelf.Config{UDPAddr: "localhost:0", TCPAddr: "localhost:0"}, nil)
	var six []string
	for _, a := range src.Addrs() {
		if strings.HasPrefix(a.String(), "[::1]") {
			six = append(six, a.Network()+" "+a.String())
		}
	}
	if len(six) != 2 {
		t.Skipf("no IPv6 loopback here (bound %v)", src.Addrs())
	}
	for i, a := range src.Addrs() {
		conn, err := net.Dial(a.Network(), a.String())
		if err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf(`{"version":"1.1","host":"h","short_message":"via %s"}`, a)
		if a.Network() == "tcp" {
			msg += "\x00"
		}
		fmt.Fprint(conn, msg)
		conn.Close()
		wait(t, c, i+1)
	}
}

// Sender-chosen timestamps far from now are replaced, the original kept.
func TestImplausibleTimestampsClamped(t *testing.T) {
	src, c, _ := start(t, gelf.Config{UDPAddr: "127.0.0.1:0"}, nil)
	conn, err := net.Dial("udp", src.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	now := time.Now()
	for _, ts := range []string{"999999999999", "1", fmt.Sprint(now.Unix())} { // the year 33658, 1970, now
		fmt.Fprintf(conn, `{"version":"1.1","host":"h","short_message":"ts %s","timestamp":%s}`, ts, ts)
	}
	got := wait(t, c, 3)
	for _, m := range got[:2] {
		if d := m.Time.Sub(now); d < -time.Minute || d > time.Minute {
			t.Errorf("%q: time %v not clamped to the receive time", m.Text, m.Time)
		}
		if _, ok := m.Fields["original_timestamp"].(string); !ok {
			t.Errorf("%q: original timestamp not kept: %v", m.Text, m.Fields)
		}
	}
	if _, ok := got[2].Fields["original_timestamp"]; ok || got[2].Time.Unix() != now.Unix() {
		t.Errorf("a plausible timestamp was changed: %v %v", got[2].Time, got[2].Fields)
	}
	if st := src.Stats(); st.Clamped != 2 {
		t.Errorf("Clamped = %d, want 2", st.Clamped)
	}
}

// A TTY container's line ends in \r; it is stripped.
func TestCarriageReturnStripped(t *testing.T) {
	src, c, _ := start(t, gelf.Config{UDPAddr: "127.0.0.1:0"}, nil)
	conn, err := net.Dial("udp", src.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, `{"version":"1.1","host":"h","short_message":"Hello World\r"}`)
	if got := wait(t, c, 1); got[0].Text != "Hello World" {
		t.Errorf("Text = %q", got[0].Text)
	}
}

// Half-sent HTTP headers and trickled bodies are cut off after the timeout, while a good
// request still goes through.
func TestHTTPSlowClientsCutOff(t *testing.T) {
	src, c, _ := start(t, gelf.Config{HTTPAddr: "127.0.0.1:0", HTTPTimeout: 500 * time.Millisecond}, nil)
	addr := src.HTTPAddr().String()
	var slow []net.Conn
	for i := range 300 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if i%2 == 0 {
			fmt.Fprint(conn, "POST /gelf HTTP/1.1\r\nHost: x\r\n") // headers never finished
		} else {
			fmt.Fprint(conn, "POST /gelf HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{") // body trickles
		}
		slow = append(slow, conn)
	}
	good, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	body := `{"version":"1.1","host":"h","short_message":"good"}`
	fmt.Fprintf(good, "POST /gelf HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	wait(t, c, 1)
	// Each slow connection must be closed by the server: read until it is, or until a bound
	// far past the timeout.
	deadline := time.Now().Add(10 * time.Second)
	closed := 0
	for _, conn := range slow {
		conn.SetReadDeadline(deadline)
		buf := make([]byte, 512)
		for {
			_, err := conn.Read(buf)
			if err != nil {
				if !isTimeout(err) {
					closed++
				}
				break
			}
		}
	}
	if closed != len(slow) {
		t.Errorf("%d of %d slow connections were closed by the server", closed, len(slow))
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// Split-line pieces of thousands of containers on a socket that never goes idle: the joiner
// holds no more than its budget and lets every piece go, counted, within JoinWait.
func TestJoinerBoundedOnBusySocket(t *testing.T) {
	const budget = 2 << 20
	src, c, _ := start(t, gelf.Config{UDPAddr: "127.0.0.1:0", JoinDockerLines: true, JoinWait: 500 * time.Millisecond,
		JoinBytes: budget}, nil)
	conn, err := net.Dial("udp", src.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const pieces = 2000
	text := strings.Repeat("p", gelf.DockerLineLimit)
	for i := range pieces {
		fmt.Fprint(conn, piece(fmt.Sprintf("c%05d", i), 6, "5.001", text))
		fmt.Fprint(conn, piece("busy", 6, "6.0", "keeps the socket busy"))
		if i%4 == 3 {
			// At most eight datagrams unread, some 130 KiB, so that even a socket buffer the
			// kernel keeps small drops nothing.
			sent := uint64(2 * (i + 1))
			waitUntil(t, "the source to read what was sent", func() bool { return src.Stats().Datagrams+8 >= sent })
		}
	}
	countSplit := func() int {
		n := 0
		for _, m := range c.Messages() {
			if m.Container.ID != "busy" {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && countSplit() < pieces {
		fmt.Fprint(conn, piece("busy", 6, "6.0", "keeps the socket busy"))
		time.Sleep(10 * time.Millisecond)
	}
	split := countSplit()
	st := src.Stats()
	if split != pieces || st.JoinReleased != pieces {
		t.Errorf("%d of %d pieces emitted, %d counted as released; stats %+v", split, pieces, st.JoinReleased, st)
	}
}

// streamFrames returns GELF messages of text: one of no container, and one on each stream of
// a container, whose lines are held for grouping.
func streamFrames(text string) []string {
	return []string{
		fmt.Sprintf(`{"version":"1.1","host":"h","short_message":%q}`, text),
		fmt.Sprintf(`{"version":"1.1","host":"h","short_message":%q,"level":6,"_container_id":"c1"}`, text),
		fmt.Sprintf(`{"version":"1.1","host":"h","short_message":%q,"level":3,"_container_id":"c1"}`, text),
	}
}

// Shutdown reads what the UDP socket holds: every datagram sent is emitted, counted as
// discarded, or counted as dropped by the kernel; the lines held for grouping are emitted.
func TestShutdownAccountsForEveryDatagram(t *testing.T) {
	release := make(chan struct{})
	src, c, stop := start(t, gelf.Config{UDPAddr: "127.0.0.1:0", DrainTimeout: 300 * time.Millisecond}, func(message.Message) { <-release })
	conn, err := net.Dial("udp", src.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const sent = 3000
	for i := range sent {
		fmt.Fprint(conn, streamFrames(fmt.Sprintf("datagram %d", i))[i%3])
	}
	// Partway through the drain emit is let go; the datagrams must add up whenever that is.
	time.AfterFunc(100*time.Millisecond, func() { close(release) })
	stop()
	st := src.Stats()
	if got := c.Len() + int(st.Discarded["udp_unread"]) + int(st.KernelDrops); got != sent {
		t.Errorf("sent %d: emitted %d + discarded %d + kernel drops %d = %d", sent, c.Len(), st.Discarded["udp_unread"], st.KernelDrops, got)
	}
}

// Valid messages among a flood of what cannot be GELF, gzip bombs and chunks that never
// complete their message, through a real socket that is not overrun (the sender waits for
// the reader), all come out, in the order they were sent, and the flood is counted, each
// datagram by its reason.
func TestUDPFloodValidInOrder(t *testing.T) {
	src, c, _ := start(t, gelf.Config{UDPAddr: "127.0.0.1:0"}, nil)
	conn, err := net.Dial("udp", src.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	garbage := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 16)
	bomb := gelf.Gzipped(bytes.Repeat([]byte{'0'}, gelf.DefaultMaxMessageSize+1))
	const valid, bombEvery = 400, 4
	sent := 0
	send := func(b []byte) {
		conn.Write(b)
		sent++
		if sent%16 == 0 { // a few datagrams unread at most: a small receive buffer holds them
			waitUntil(t, "the reader to catch up", func() bool { return sent-int(src.Stats().Datagrams) < 32 })
		}
	}
	for i := range valid {
		send(garbage)
		chunk := []byte{0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2} // the first of two
		binary.BigEndian.PutUint64(chunk[2:], uint64(i))
		send(append(chunk, `{"short_message":"never ends`...))
		if i%bombEvery == 0 {
			send(bomb)
		}
		send(gelf.Gzipped(fmt.Appendf(nil, `{"host":"h","short_message":"valid %d"}`, i)))
	}
	got := wait(t, c, valid)
	for i, m := range got {
		if want := fmt.Sprintf("valid %d", i); m.Text != want {
			t.Fatalf("message %d is %q, want %q", i, m.Text, want)
		}
	}
	st := src.Stats()
	if st.KernelDrops != 0 {
		t.Errorf("the kernel dropped %d datagrams: the sender did not wait for the reader", st.KernelDrops)
	}
	if st.Rejected[gelf.ReasonJSON] != valid || st.Rejected[gelf.ReasonTooLarge] != valid/bombEvery || st.Chunks != valid {
		t.Errorf("rejected %v, chunks %d; want %d as not JSON, %d too large, %d chunks", st.Rejected, st.Chunks, valid, valid/bombEvery, valid)
	}
}
