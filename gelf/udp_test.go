package gelf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/message"
)

// pipelineSource returns a Source whose UDP pipeline a test drives without a socket.
func pipelineSource(t *testing.T, workers int) *Source {
	t.Helper()
	s, err := Listen(Config{UDPAddr: "127.0.0.1:0", UDPWorkers: workers, MultilineRule: multiline.Off,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitFor waits, polling, until cond holds, and fails the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// Many senders' datagrams, decoded by many workers at once, come out in each sender's order:
// gzip messages of very different sizes take very different times to inflate, so a later
// datagram is often decoded before an earlier one; chunked messages and rejected garbage,
// which produce no message or complete one late, are among them.
func TestUDPOrderKeptPerSender(t *testing.T) {
	const senders, perSender = 20, 150
	s := pipelineSource(t, 8)
	var mu sync.Mutex
	next := map[string]int{} // the sequence number each sender's next message must have
	var errs []string
	emitted := 0
	p := s.startUDP(func(m message.Message) {
		mu.Lock()
		defer mu.Unlock()
		emitted++
		var seq int
		fmt.Sscanf(m.Fields["seq"].(string), "%d", &seq)
		if want := next[m.Host]; seq != want && len(errs) < 10 {
			errs = append(errs, fmt.Sprintf("%s: message %d came when %d was due", m.Host, seq, want))
		}
		next[m.Host] = seq + 1
	})
	rng := rand.New(rand.NewPCG(1, 2))
	type datagram struct {
		from netip.AddrPort
		data []byte
	}
	var all []datagram
	chunkID := uint64(0)
	for i := range perSender {
		for sd := range senders {
			from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + sd%3)}), uint16(40000+sd))
			text := strings.Repeat("x", rng.IntN(4)*rng.IntN(6000)+1)
			payload := Gzipped(fmt.Appendf(nil, `{"host":"sender-%d","short_message":%q,"_seq":"%d"}`, sd, text, i))
			if i%7 == 3 {
				all = append(all, datagram{from, []byte("not gelf")}) // rejected, between messages
			}
			if i%5 == 0 && len(payload) > 8 {
				// Two chunks; the message takes its place at its second.
				chunkID++
				half := len(payload) / 2
				for k, part := range [][]byte{payload[:half], payload[half:]} {
					c := []byte{0x1e, 0x0f}
					c = fmt.Appendf(c, "%08d", chunkID)
					c = append(c, byte(k), 2)
					all = append(all, datagram{from, append(c, part...)})
				}
				continue
			}
			all = append(all, datagram{from, payload})
		}
	}
	// In reads of 1 to udpBatch datagrams, so that a batch holds several senders' datagrams,
	// several of one sender, and parts of several lanes.
	for len(all) > 0 {
		var in []inbound
		for _, d := range all[:min(len(all), 1+rng.IntN(udpBatch))] {
			in = append(in, inbound{d.from, d.data})
		}
		all = all[len(in):]
		p.dispatch(in, time.Now())
	}
	p.stop()
	for _, e := range errs {
		t.Error(e)
	}
	if emitted != senders*perSender {
		t.Errorf("emitted %d messages, want %d", emitted, senders*perSender)
	}
	if st := s.Stats(); st.Rejected[ReasonJSON] == 0 {
		t.Errorf("the garbage between the messages was not rejected: %v", st.Rejected)
	}
	if h := p.held.Load(); h != 0 {
		t.Errorf("%d bytes still held after every message was emitted", h)
	}
}

// While emit is held up, the reader stops after udpWindow datagrams read and not emitted;
// every one comes out once emit goes on.
func TestUDPWindowBounded(t *testing.T) {
	s := pipelineSource(t, 4)
	release := make(chan struct{})
	var dispatched, emitted atomic.Int64
	var over atomic.Int64
	p := s.startUDP(func(message.Message) {
		<-release
		if n := dispatched.Load() - emitted.Load(); n > udpWindow {
			over.Store(n)
		}
		emitted.Add(1)
	})
	const sent = 3 * udpWindow
	done := make(chan struct{})
	go func() {
		defer close(done)
		from := netip.MustParseAddrPort("127.0.0.1:5000")
		for i := range sent {
			p.dispatch([]inbound{{from, fmt.Appendf(nil, `{"short_message":"m %d"}`, i)}}, time.Now())
			dispatched.Add(1)
		}
	}()
	waitFor(t, "the window to fill", func() bool { return len(p.window) == udpWindow })
	if n := dispatched.Load(); n > udpWindow {
		t.Fatalf("%d datagrams dispatched while emit was held; the window is %d", n, udpWindow)
	}
	close(release)
	<-done
	p.stop()
	if n := over.Load(); n != 0 {
		t.Errorf("%d datagrams were between the reader and emit; the window is %d", n, udpWindow)
	}
	if emitted.Load() != sent {
		t.Errorf("emitted %d of %d", emitted.Load(), sent)
	}
}

// While emit is held up, large decoded messages hold at most udpHeldBytes and a message a
// decoder; the decoders leave the rest of the window undecoded, for the lanes to decode in
// turn, and every message comes out, in order, once emit goes on.
func TestUDPHeldBytesBounded(t *testing.T) {
	const workers = 2
	s := pipelineSource(t, workers)
	release := make(chan struct{})
	var emitted atomic.Int64
	var misordered atomic.Int64
	p := s.startUDP(func(m message.Message) {
		<-release
		if m.Host != fmt.Sprint(emitted.Load()) {
			misordered.Add(1)
		}
		emitted.Add(1)
	})
	// The window's worth of these holds four times udpHeldBytes.
	text := strings.Repeat("y", 4*udpHeldBytes/udpWindow)
	const sent = udpWindow + 100
	payloads := make([][]byte, sent)
	for i := range payloads {
		payloads[i] = Gzipped(fmt.Appendf(nil, `{"host":"%d","short_message":%q}`, i, text))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		from := netip.MustParseAddrPort("127.0.0.1:5000")
		for _, pl := range payloads {
			p.dispatch([]inbound{{from, pl}}, time.Now())
		}
	}()
	waitFor(t, "the window to fill", func() bool { return len(p.window) == udpWindow })
	waitFor(t, "the decoders to finish what they have", func() bool { return len(p.jobs) == 0 })
	limit := int64(udpHeldBytes) + workers*int64(DefaultMaxMessageSize)
	if h := p.held.Load(); h > limit || h < udpHeldBytes {
		t.Errorf("held %d bytes; want between %d and %d", h, udpHeldBytes, limit)
	}
	close(release)
	<-done
	p.stop()
	if emitted.Load() != sent || p.held.Load() != 0 || misordered.Load() != 0 {
		t.Errorf("emitted %d of %d (%d out of order), %d bytes still held", emitted.Load(), sent, misordered.Load(), p.held.Load())
	}
}

// chunkStart is the first of two chunks of message id, a chunk whose message never completes.
func chunkStart(id uint64) []byte {
	c := []byte{0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
	binary.BigEndian.PutUint64(c[2:], id)
	return append(c, `{"short_message":"never ends`...)
}

// The reader waits for nothing but the window: a datagram that cannot be GELF and a chunk
// that completes no message take no place in it, and the batches wait for a decoder within
// it, so gzip bombs being inflated, each to the size limit, do not stop the reader. The
// decoders and lanes start only once every batch is dispatched, so that the reader would
// wait on them forever if it waited on them at all.
func TestUDPReaderWaitsOnlyForTheWindow(t *testing.T) {
	s := pipelineSource(t, 2)
	p := s.newUDP()
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	garbage := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64)
	bomb := Gzipped(bytes.Repeat([]byte{'0'}, DefaultMaxMessageSize+1))
	const bombEvery = 4
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A batch a place: one bomb or valid message in each, among datagrams that take none.
		for i := range udpWindow {
			in := []inbound{{from, garbage}, {from, chunkStart(uint64(i))}}
			if i%bombEvery == 0 {
				in = append(in, inbound{from, bomb})
			} else {
				in = append(in, inbound{from, fmt.Appendf(nil, `{"short_message":"m %d"}`, i)})
			}
			p.dispatch(in, time.Now())
		}
	}()
	waitFor(t, "the reader to dispatch every batch", func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
	if len(p.window) != udpWindow || len(p.jobs) != udpWindow {
		t.Errorf("window %d, batches waiting %d; want %d of each", len(p.window), len(p.jobs), udpWindow)
	}
	st := s.Stats()
	if st.Rejected[ReasonJSON] != udpWindow || st.Chunks != udpWindow {
		t.Errorf("rejected as not JSON %d, chunks %d; want %d of each, counted by the reader", st.Rejected[ReasonJSON], st.Chunks, udpWindow)
	}
	var got []string
	p.start(func(m message.Message) { got = append(got, m.Text) })
	p.stop()
	var want []string
	for i := range udpWindow {
		if i%bombEvery != 0 {
			want = append(want, fmt.Sprintf("m %d", i))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("emitted (-want +got):\n%s", diff)
	}
	if n := s.Stats().Rejected[ReasonTooLarge]; n != udpWindow/bombEvery {
		t.Errorf("%d bombs rejected as too large, want %d", n, udpWindow/bombEvery)
	}
}
