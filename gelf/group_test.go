package gelf_test

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gogelf "github.com/Graylog2/go-gelf/gelf"
	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/message"
)

// recorded returns the lines of a trace a real runtime printed, from the grouping package's
// testdata, without the empty lines, which Docker's GELF driver does not send.
func recorded(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(traceFile(t, name), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// containerID makes a container ID as Docker's are: 64 hex digits.
func containerID(n int) string { return fmt.Sprintf("%064x", n) }

// stream is a container's stdout (level 6) or stderr (level 3), as Docker's driver sends it.
type stream struct {
	container string
	level     int32
}

func (s stream) String() string {
	return fmt.Sprintf("%s/%s", s.container[60:], map[int32]string{6: "stdout", 3: "stderr"}[s.level])
}

// blocks are what a stream prints: each block a plain line or a trace, each to become one
// event. kinds are the multiline kinds of the traces, "" for a plain line.
type blocks struct {
	s     stream
	lines [][]string
	kinds []string
}

func (b *blocks) plain(l string) *blocks { return b.add("", l) }

func (b *blocks) add(kind string, lines ...string) *blocks {
	b.lines = append(b.lines, lines)
	b.kinds = append(b.kinds, kind)
	return b
}

// sender sends a GELF message the way one transport does.
type sender interface {
	send(t *testing.T, m *gogelf.Message)
	close()
}

type udpSender struct{ w *gogelf.UDPWriter }

func (u udpSender) send(t *testing.T, m *gogelf.Message) {
	if err := u.w.WriteMessage(m); err != nil {
		t.Fatal(err)
	}
}
func (u udpSender) close() { u.w.Close() }

type tcpSender struct{ w *gogelf.TCPWriter }

func (s tcpSender) send(t *testing.T, m *gogelf.Message) {
	if err := s.w.WriteMessage(m); err != nil {
		t.Fatal(err)
	}
}
func (s tcpSender) close() { s.w.Close() }

type httpSender struct{ url string }

func (h httpSender) send(t *testing.T, m *gogelf.Message) {
	var buf bytes.Buffer
	if err := m.MarshalJSONBuf(&buf); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(h.url, "application/json", &buf)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %s", resp.Status)
	}
}
func (h httpSender) close() {}

// transports are the ways to send to a Source, each with the Config that listens for it
// and a sender per container, as Docker's driver opens a socket per container.
var transports = []struct {
	name   string
	cfg    gelf.Config
	sender func(t *testing.T, src *gelf.Source) sender
}{
	{"udp", gelf.Config{UDPAddr: "127.0.0.1:0"}, func(t *testing.T, src *gelf.Source) sender {
		w, err := gogelf.NewUDPWriter(src.UDPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		return udpSender{w}
	}},
	{"tcp", gelf.Config{TCPAddr: "127.0.0.1:0"}, func(t *testing.T, src *gelf.Source) sender {
		w, err := gogelf.NewTCPWriter(src.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		return tcpSender{w}
	}},
	{"http", gelf.Config{HTTPAddr: "127.0.0.1:0"}, func(t *testing.T, src *gelf.Source) sender {
		return httpSender{"http://" + src.HTTPAddr().String() + "/gelf"}
	}},
}

// play sends the streams' lines interleaved, a line of each stream in turn, through a sender
// per container, which stays open until the test ends. Each block is stamped 500 ms after
// the one before it in its stream (more than multiline.DefaultGap), the lines of a trace
// 10 µs apart, as a runtime writes them. It returns the number of lines sent.
func play(t *testing.T, newSender func() sender, streams []*blocks) int {
	t.Helper()
	senders := map[string]sender{}
	for _, b := range streams {
		if senders[b.s.container] == nil {
			s := newSender()
			senders[b.s.container] = s
			t.Cleanup(s.close)
		}
	}
	type line struct {
		text string
		at   float64
	}
	queues := make([][]line, len(streams))
	base := float64(time.Now().Add(-time.Minute).UnixMicro()) / 1e6
	for i, b := range streams {
		for j, block := range b.lines {
			for k, l := range block {
				queues[i] = append(queues[i], line{l, base + float64(j)*0.5 + float64(k)*10e-6})
			}
		}
	}
	sent := 0
	for more := true; more; {
		more = false
		for i, b := range streams {
			if len(queues[i]) == 0 {
				continue
			}
			l := queues[i][0]
			queues[i] = queues[i][1:]
			more = true
			senders[b.s.container].send(t, &gogelf.Message{Version: "1.1", Host: "h", Short: l.text, TimeUnix: l.at,
				Level: b.s.level, Extra: map[string]any{"_container_id": b.s.container}})
			sent++
		}
	}
	return sent
}

// byStream returns the texts of msgs by stream, in order, and checks each event's
// multiline kind against the one its block wants.
func byStream(t *testing.T, msgs []message.Message, streams []*blocks) map[string][]string {
	t.Helper()
	kinds := map[string]string{}
	for _, b := range streams {
		for i, block := range b.lines {
			kinds[strings.Join(block, "\n")] = b.kinds[i]
		}
	}
	got := map[string][]string{}
	for _, m := range msgs {
		s := stream{m.Container.ID, int32(m.Level)}.String()
		got[s] = append(got[s], m.Text)
		kind, _ := m.Fields[multiline.FieldKind].(string)
		if want, ok := kinds[m.Text]; ok && kind != want {
			t.Errorf("%s: event %.40q… has multiline kind %q, want %q", s, m.Text, kind, want)
		}
	}
	return got
}

// want returns the texts of the events the streams' blocks are to become, by stream.
func want(streams []*blocks) map[string][]string {
	out := map[string][]string{}
	for _, b := range streams {
		for _, block := range b.lines {
			out[b.s.String()] = append(out[b.s.String()], strings.Join(block, "\n"))
		}
	}
	return out
}

// scene is two containers printing plain lines and recorded traces on both streams.
func scene(t *testing.T) (streams []*blocks, traces, traceLines int) {
	a, b := containerID(0xa), containerID(0xb)
	streams = []*blocks{
		(&blocks{s: stream{a, 6}}).plain("INFO starting on :8080").
			add("java", recorded(t, "java-printstacktrace")...).
			plain("INFO request 18 served").
			add("node", recorded(t, "node-console-cause")...).
			plain("INFO done"),
		(&blocks{s: stream{a, 3}}).add("go", recorded(t, "go-panic")...),
		(&blocks{s: stream{b, 6}}).plain(`{"level":"info","msg":"listening"}`).
			add("python", recorded(t, "python-group")...).
			plain("level=warn msg=\"disk almost full\""),
		(&blocks{s: stream{b, 3}}).plain("WARN slow start").
			add("go", recorded(t, "go-nil")...).
			plain("WARN restarted"),
	}
	for _, s := range streams {
		for i, k := range s.kinds {
			if k != "" {
				traces++
				traceLines += len(s.lines[i])
			}
		}
	}
	return streams, traces, traceLines
}

// TestMultilineInterleaved: the lines of two containers, on both streams, interleaved line by
// line, as Docker's driver sends them with go-gelf: each trace becomes one event, with its
// kind, and each plain line one of its own, in order per stream, on every transport.
func TestMultilineInterleaved(t *testing.T) {
	streams, traces, traceLines := scene(t)
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			src, c, _ := start(t, tr.cfg, nil)
			play(t, func() sender { return tr.sender(t, src) }, streams)
			wantTexts := want(streams)
			n := 0
			for _, texts := range wantTexts {
				n += len(texts)
			}
			got := byStream(t, wait(t, c, n), streams)
			if diff := cmp.Diff(wantTexts, got); diff != "" {
				t.Fatalf("events by stream (-want +got):\n%s", diff)
			}
			st := src.Stats().Multiline
			if st.Groups != uint64(traces) || st.Joined != uint64(traceLines) || st.Continuations != 0 {
				t.Errorf("multiline stats %+v, want %d groups of %d lines", st, traces, traceLines)
			}
			waitUntil(t, "the held bytes to be given back", func() bool { return src.Stats().Multiline.Held == 0 })
		})
	}
}

// TestMultilineIdle: a trace is emitted whole once its stream is idle, with nothing else
// arriving after it.
func TestMultilineIdle(t *testing.T) {
	trace := recorded(t, "java-uncaught")
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			src, c, _ := start(t, tr.cfg, nil)
			s := &blocks{s: stream{containerID(1), 3}}
			s.add("java", trace...)
			sent := time.Now()
			play(t, func() sender { return tr.sender(t, src) }, []*blocks{s})
			got := wait(t, c, 1)
			t.Logf("emitted %v after the last line was sent", time.Since(sent))
			if diff := cmp.Diff(strings.Join(trace, "\n"), got[0].Text); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
			if st := src.Stats().Multiline; st.IdleClosed != 1 {
				t.Errorf("multiline stats %+v, want one idle close", st)
			}
		})
	}
}

// TestMultilineShutdownFlushes: what the grouping holds when Run is stopped is emitted
// before Run returns, grouped as far as it came.
func TestMultilineShutdownFlushes(t *testing.T) {
	streams, _, _ := scene(t)
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cfg := tr.cfg
			cfg.Multiline.Idle = time.Hour // nothing goes out on idle
			src, c, stop := start(t, cfg, nil)
			sent := play(t, func() sender { return tr.sender(t, src) }, streams)
			waitUntil(t, "every line to be read", func() bool { return src.Stats().Messages == uint64(sent) })
			if src.Stats().Multiline.Held == 0 {
				t.Fatal("the grouping holds nothing before the shutdown: the test cannot tell")
			}
			stop()
			if diff := cmp.Diff(want(streams), byStream(t, c.Messages(), streams)); diff != "" {
				t.Errorf("events by stream after Run returned (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMultilineRuleFor: the rule of each container comes from Config.MultilineRuleFor, and
// from MultilineRule for a container it does not answer for.
func TestMultilineRuleFor(t *testing.T) {
	off, custom, auto := containerID(1), containerID(2), containerID(3)
	first := regexp.MustCompile(`^\[\d+\]`)
	var mu sync.Mutex
	asked := map[string]int{}
	cfg := gelf.Config{UDPAddr: "127.0.0.1:0", MultilineRuleFor: func(id string) (multiline.Rule, bool) {
		mu.Lock()
		asked[id]++
		mu.Unlock()
		switch id {
		case off:
			return multiline.Off, true
		case custom:
			return multiline.Start(first), true
		}
		return multiline.Rule{}, false
	}}
	java := recorded(t, "java-uncaught")
	offLines := &blocks{s: stream{off, 6}}
	for _, l := range java {
		offLines.plain(l)
	}
	streams := []*blocks{
		offLines,
		(&blocks{s: stream{custom, 6}}).add("custom", "[1] begin", "detail a", "detail b").add("custom", "[2] next", "detail c"),
		(&blocks{s: stream{auto, 6}}).add("java", java...),
	}
	// The custom rule's groups are told apart by their start lines alone: stamp them as
	// one burst, so that no gap between blocks does it.
	src, c, _ := start(t, cfg, nil)
	n := playBurst(t, src, streams)
	got := byStream(t, wait(t, c, n), streams)
	if diff := cmp.Diff(want(streams), got); diff != "" {
		t.Fatalf("events by stream (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(map[string]int{off: 1, custom: 1, auto: 1}, asked); diff != "" {
		t.Errorf("containers asked for (-want +got):\n%s", diff)
	}
}

// playBurst sends the streams' lines over UDP, one stream after the other, all stamped 10 µs
// apart, and returns the number of events they are to become.
func playBurst(t *testing.T, src *gelf.Source, streams []*blocks) int {
	t.Helper()
	w, err := gogelf.NewUDPWriter(src.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	at := float64(time.Now().UnixMicro()) / 1e6
	events := 0
	for _, b := range streams {
		for _, block := range b.lines {
			events++
			for _, l := range block {
				at += 10e-6
				if err := w.WriteMessage(&gogelf.Message{Version: "1.1", Host: "h", Short: l, TimeUnix: at, Level: b.s.level,
					Extra: map[string]any{"_container_id": b.s.container}}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return events
}

// TestMultilineOff: with the rule Off and no MultilineRuleFor, and for messages without a
// container ID (not Docker's), every line is emitted as it came, at once.
func TestMultilineOff(t *testing.T) {
	java := recorded(t, "java-uncaught")
	for _, tt := range []struct {
		name      string
		rule      multiline.Rule
		container string
	}{
		{"off", multiline.Off, containerID(1)},
		{"no-container", multiline.Auto, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Held lines would wait for an hour: only lines not held arrive in time.
			src, c, _ := start(t, gelf.Config{UDPAddr: "127.0.0.1:0", MultilineRule: tt.rule,
				Multiline: multiline.Config{Idle: time.Hour}}, nil)
			w, err := gogelf.NewUDPWriter(src.UDPAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			at := float64(time.Now().UnixMicro()) / 1e6
			for i, l := range java {
				m := &gogelf.Message{Version: "1.1", Host: "h", Short: l, TimeUnix: at + float64(i)*10e-6, Level: 6}
				if tt.container != "" {
					m.Extra = map[string]any{"_container_id": tt.container}
				}
				if err := w.WriteMessage(m); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, m := range wait(t, c, len(java)) {
				got = append(got, m.Text)
			}
			if diff := cmp.Diff(java, got); diff != "" {
				t.Errorf("lines (-sent +emitted):\n%s", diff)
			}
			if st := src.Stats().Multiline; st != (multiline.Stats{}) {
				t.Errorf("multiline stats %+v, want none", st)
			}
		})
	}
}
