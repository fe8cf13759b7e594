//go:build faults

// The fault suite: the qwatchd binary under the faults its users meet, each measured by what
// was lost. It runs with go test -tags faults ./examples/qwatchd (.ci/faults), takes a few
// minutes, and writes a row of RELIABILITY.md for each fault to the file named by
// QWATCH_RELIABILITY_ROWS.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	byteorder "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/internal/dockerclient"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/internal/gelfload"
	"github.com/qnib/qwatch/internal/tmpfs"
	"github.com/qnib/qwatch/message"
)

// row records one fault's outcome for RELIABILITY.md.
func row(t *testing.T, fault, size, outcome string) {
	t.Helper()
	line := fmt.Sprintf("| %s | %s | %s |\n", fault, size, outcome)
	t.Log(strings.TrimSpace(line))
	if path := os.Getenv("QWATCH_RELIABILITY_ROWS"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString(line)
	}
}

// steady is numbered GELF load (gzip, as Docker's driver sends it) at a rate.
type steady struct {
	run        string
	containers int
	msgs       []gelfload.Message
}

func newSteady(t *testing.T, run string, rate int, d time.Duration) *steady {
	t.Helper()
	n := int(float64(rate) * d.Seconds())
	msgs, err := gelfload.Make(gelfload.Config{Run: run, Count: n, MaxLine: 1000}, true)
	if err != nil {
		t.Fatal(err)
	}
	return &steady{run: run, containers: 10, msgs: msgs}
}

// send sends the messages from..to at rate to addr.
func (s *steady) send(t *testing.T, addr string, rate, from, to int) {
	t.Helper()
	if _, err := gelfload.Send(context.Background(), "udp", addr, s.msgs[from:to], rate, 1); err != nil {
		t.Fatal(err)
	}
}

// tally counts what the store holds of the load: each distinct message text, each time it
// was stored under another ID.
func (s *steady) tally(store *bulkStore) gelfload.Report {
	tally := gelfload.NewTally(s.run, s.containers)
	for text, n := range store.messages() {
		for range n {
			tally.Add(text)
		}
	}
	return tally.Report(len(s.msgs))
}

// counts returns how many times the store holds each message of the load, by container and
// number.
func (s *steady) counts(store *bulkStore) map[[2]int]int {
	out := map[[2]int]int{}
	for text, n := range store.messages() {
		var c, seq int
		var run string
		if _, err := fmt.Sscanf(text, "%s c%d %d", &run, &c, &seq); err == nil && run == s.run {
			out[[2]int{c, seq}] += n
		}
	}
	return out
}

// waitStored waits until the store holds every message of the load, or the timeout passes.
func (s *steady) waitStored(store *bulkStore, timeout time.Duration) gelfload.Report {
	deadline := time.Now().Add(timeout)
	r := s.tally(store)
	for r.Unique < r.Sent && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		r = s.tally(store)
	}
	return r
}

// outage runs the load at 5,000 msg/s through qwatchd into a bulk store with the fault on
// for the middle of it, and checks that every message is stored exactly once.
func outage(t *testing.T, fault string, on, off func(*bulkStore), d time.Duration) {
	const rate = 5000
	store, es := newBulkStore(t)
	p := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "none", "-http", "127.0.0.1:0", "-es-url", es.URL, "-es-wait")
	load := newSteady(t, strings.ReplaceAll(fault, " ", "-"), rate, d+5*time.Second)
	n := len(load.msgs)
	first := 2 * rate // two seconds before, three after
	load.send(t, p.udp, rate, 0, first)
	on(store)
	start := time.Now()
	var peak float64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				peak = max(peak, p.metric(`qwatch_sink_spooled{sink="elasticsearch"}`))
			}
		}
	})
	load.send(t, p.udp, rate, first, first+int(d.Seconds())*rate)
	off(store)
	took := time.Since(start)
	load.send(t, p.udp, rate, first+int(d.Seconds())*rate, n)
	r := load.waitStored(store, 2*time.Minute)
	close(stop)
	wg.Wait()
	drops := p.metric(`qwatch_gelf_kernel_drops_total`)
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	row(t, fault, fmt.Sprintf("%v (%v measured) under %d msg/s over UDP, %d messages in all", d, took.Round(time.Second), rate, n),
		fmt.Sprintf("lost %d, duplicated %d, kernel drops %.0f; at most %.0f messages spooled", r.Lost, r.Duplicated, drops, peak))
	if r.Lost != 0 || r.Duplicated != 0 || r.Foreign != 0 || drops != 0 {
		t.Errorf("%+v, kernel drops %v", r, drops)
	}
}

func TestFaultElasticsearchDown(t *testing.T) {
	outage(t, "Elasticsearch down (503)", func(b *bulkStore) { b.down.Store(true) }, func(b *bulkStore) { b.down.Store(false) }, 60*time.Second)
}

func TestFault429Storm(t *testing.T) {
	outage(t, "half the items refused with 429", func(b *bulkStore) { b.refuseHalf.Store(true) }, func(b *bulkStore) { b.refuseHalf.Store(false) }, 30*time.Second)
}

func TestFaultResetAfterIndexing(t *testing.T) {
	outage(t, "every third request indexed, then its connection reset", func(b *bulkStore) { b.resetEvery.Store(3) }, func(b *bulkStore) { b.resetEvery.Store(0) }, 20*time.Second)
}

func TestFaultUnauthorized(t *testing.T) {
	outage(t, "Elasticsearch answers 401 (a rotated key)", func(b *bulkStore) { b.status.Store(401) }, func(b *bulkStore) { b.status.Store(0) }, 20*time.Second)
}

// kill -9 three times under load, the third time with Elasticsearch down. Each kill comes as
// soon as qwatchd has spooled or written as many messages of its round as were sent until
// 300 ms before (half the round at least): those messages are stored exactly once after the
// last restart, as the spool takes what the Hub accepts at once (RELIABILITY.md). What was
// sent in the 300 ms before that check and until the kill may be lost (unread in the socket,
// or not yet in the spool), and what was sent while qwatchd was down was never accepted: both
// are counted, not asserted.
func TestFaultKillNine(t *testing.T) {
	const rate, rounds, slack = 5000, 3, 300 * time.Millisecond
	const written, spooled, recovered = `qwatch_sink_written_total{sink="elasticsearch"}`,
		`qwatch_sink_spooled{sink="elasticsearch"}`, `qwatch_sink_recovered_total{sink="elasticsearch"}`
	store, es := newBulkStore(t)
	args := []string{"-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "none", "-http", "127.0.0.1:0", "-es-url", es.URL, "-es-wait", "-state-dir", t.TempDir()}
	load := newSteady(t, "kill-9", rate, rounds*4*time.Second)
	per := len(load.msgs) / rounds
	var mu sync.Mutex
	sentAt := make([]time.Time, len(load.msgs))
	safe := make([]time.Time, rounds) // as many were spooled or written as had been sent before
	kills := make([]time.Time, rounds)
	for round := range rounds {
		store.down.Store(round == rounds-1)
		p := startDaemon(t, args...)
		from, to := round*per, (round+1)*per
		// The sender goes on through the kill.
		sending := make(chan struct{})
		go func() {
			defer close(sending)
			for i := from; i < to; i += rate / 100 {
				next := min(i+rate/100, to)
				mu.Lock()
				for k := i; k < next; k++ {
					sentAt[k] = time.Now()
				}
				mu.Unlock()
				gelfload.Send(context.Background(), "udp", p.udp, load.msgs[i:next], 0, 1)
				time.Sleep(10 * time.Millisecond)
			}
		}()
		waitUntil(t, time.Minute, func() error {
			before := time.Now().Add(-slack)
			v := metrics(t, p.http, written, spooled, recovered)
			taken := int(v[0] + v[1] - v[2]) // messages of this round on disk or indexed
			due := 0
			mu.Lock()
			for k := from; k < to && !sentAt[k].IsZero() && sentAt[k].Before(before); k++ {
				due++
			}
			mu.Unlock()
			if due < per/2 || taken < due {
				return fmt.Errorf("round %d: %d messages spooled or written, %d sent %v before; the kill waits for %d", round, taken, due, slack, per/2)
			}
			safe[round] = before
			return nil
		})
		kills[round] = time.Now()
		p.cmd.Process.Kill()
		<-p.done
		<-sending
	}
	store.down.Store(false)
	p := startDaemon(t, args...)
	// Once it has written all it recovered, everything the spool kept is in the store.
	waitUntil(t, 2*time.Minute, func() error {
		v := metrics(t, p.http, written, spooled, recovered)
		if v[1] != 0 || v[0] < v[2] {
			return fmt.Errorf("%v of %v recovered messages written, %v spooled", v[0], v[2], v[1])
		}
		return nil
	})
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d; stderr %v", code, p.stderrLines())
	}
	var mustHave, windowLost, downLost, lost, dup int
	stored := load.counts(store)
	for i, m := range load.msgs {
		must, down := sentAt[i].Before(safe[i/per]), sentAt[i].After(kills[i/per])
		switch n := stored[[2]int{m.Container, m.Seq}]; {
		case n > 1:
			dup++
		case n == 1:
		case must:
			lost++
		case down:
			downLost++
		default:
			windowLost++
		}
		if must {
			mustHave++
		}
	}
	row(t, "kill -9, three times, the third with Elasticsearch down", fmt.Sprintf("%d msg/s, %d messages", rate, len(load.msgs)),
		fmt.Sprintf("lost %d of %d sent 300 ms or more before qwatchd had spooled or written as many, duplicated %d; %d sent later, before the kill, lost (in the socket or not yet spooled); %d sent while qwatchd was down never accepted",
			lost, mustHave, dup, windowLost, downLost))
	if lost != 0 || dup != 0 {
		t.Errorf("lost %d, duplicated %d", lost, dup)
	}
}

// SIGTERM under full load: every message the GELF source accepted is accounted for in every
// sink's summary, and after a restart every one of them is stored exactly once.
func TestFaultSIGTERMUnderLoad(t *testing.T) {
	store, es := newBulkStore(t)
	args := []string{"-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "json", "-http", "127.0.0.1:0", "-es-url", es.URL, "-state-dir", t.TempDir()}
	p := startDaemon(t, args...)
	load := newSteady(t, "sigterm", 20000, 5*time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		gelfload.Send(context.Background(), "udp", p.udp, load.msgs, 20000, 1)
	}()
	// The signal comes under load: once a second's worth is accepted, with four more to come.
	p.waitMetric("qwatch_gelf_messages_total", 20000, time.Minute)
	select {
	case <-done:
		t.Fatal("the load was over before qwatchd had accepted 20,000 messages of it")
	default:
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	<-done
	var accepted int
	for _, l := range p.stderrLines() {
		fmt.Sscanf(l, "qwatchd: gelf messages=%d", &accepted)
	}
	var problems []string
	for _, sink := range []string{"stdout", "elasticsearch"} {
		offered, written, failed, dropped := p.summary(sink)
		spooled := 0
		for _, l := range p.stderrLines() {
			if i := strings.Index(l, "qwatchd: sink "+sink+" "); i >= 0 {
				if j := strings.Index(l, " spooled="); j >= 0 {
					fmt.Sscanf(l[j:], " spooled=%d", &spooled)
				}
			}
		}
		if offered != accepted || offered != written+failed+dropped+spooled {
			problems = append(problems, fmt.Sprintf("%s: accepted %d, offered %d, written %d, failed %d, dropped %d, spooled %d",
				sink, accepted, offered, written, failed, dropped, spooled))
		}
	}
	stdout := 0
	for _, m := range p.messages() {
		if strings.HasPrefix(m.Text, "sigterm ") {
			stdout++
		}
	}
	p2 := startDaemon(t, args...)
	defer p2.stop()
	deadline := time.Now().Add(time.Minute)
	counts := load.counts(store)
	for len(counts) < accepted && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		counts = load.counts(store)
	}
	dup := 0
	for _, n := range counts {
		dup += n - 1
	}
	row(t, "SIGTERM under load", fmt.Sprintf("20,000 msg/s; SIGTERM once 20,000 were accepted, %d accepted by the end", accepted),
		fmt.Sprintf("every sink's offered = written + failed + dropped + spooled; stdout wrote %d; after a restart %d stored, duplicated %d", stdout, len(counts), dup))
	if len(problems) > 0 || len(counts) != accepted || dup != 0 || stdout != accepted {
		t.Errorf("%v; stdout %d, stored %d of %d accepted, duplicated %d", problems, stdout, len(counts), accepted, dup)
	}
}

// A full disk under the spool (a 2 MiB tmpfs) while Elasticsearch is down: qwatchd stays up,
// /healthz says why, what cannot be spooled is counted as dropped, and what was spooled is
// delivered once Elasticsearch is back.
func TestFaultFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 2<<20)
	store, es := newBulkStore(t)
	store.down.Store(true)
	p := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "none", "-http", "127.0.0.1:0", "-es-url", es.URL, "-es-wait", "-state-dir", dir)
	load := newSteady(t, "full", 5000, 4*time.Second)
	load.send(t, p.udp, 5000, 0, len(load.msgs))
	p.waitMetric(`qwatch_sink_dropped_total{sink="elasticsearch"}`, 1, 30*time.Second)
	resp, err := http.Get("http://" + p.http + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	store.down.Store(false)
	deadline := time.Now().Add(time.Minute)
	for p.metric(`qwatch_sink_spooled{sink="elasticsearch"}`) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	offered, written, failed, dropped := p.summary("elasticsearch")
	r := load.tally(store)
	row(t, "full disk under the spool (2 MiB tmpfs), Elasticsearch down", fmt.Sprintf("5,000 msg/s, %d messages", len(load.msgs)),
		fmt.Sprintf("stayed up; /healthz %d while full; %d dropped and counted, %d delivered once back, duplicated %d", resp.StatusCode, dropped, written, r.Duplicated))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "spool") {
		t.Errorf("/healthz %d %q while the disk is full", resp.StatusCode, body)
	}
	if offered != written+failed+dropped || dropped == 0 || r.Unique != written || r.Duplicated != 0 {
		t.Errorf("offered %d written %d failed %d dropped %d; stored %+v", offered, written, failed, dropped, r)
	}
}

// The Docker engine restarted twice under the events and logs sources: every line the engine
// holds for a container that kept printing is written exactly once, and each restart is
// reported as a gap in the events with its window.
func TestFaultEngineRestarts(t *testing.T) {
	eng := dockertest.StartPrivateEngine(t)
	c, err := dockerclient.New(eng.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	image := dockertest.ImageOn(t, c)
	p := startDaemon(t, "-docker-host", eng.Host, "-docker-logs", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "json", "-http", "127.0.0.1:0")
	const name = "qwatch-fault-engine"
	eng.Docker("run", "-d", "--restart", "always", "--stop-timeout", "1", "--name", name, "--network", "none",
		image, "/logger", "-id", name, "-n", "1000000", "-every", "10ms")
	lines := func() []string {
		var out []string
		for _, m := range p.messages() {
			if m.Kind == message.KindLog && m.Container.Name == name {
				out = append(out, m.Text)
			}
		}
		return out
	}
	waitMore := func(n int) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for len(lines()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d lines; %v", len(lines()), n, p.stderrLines())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitMore(100)
	for range 2 {
		eng.Stop()
		eng.Start()
		waitMore(len(lines()) + 100) // resumed
	}
	eng.Docker("update", "--restart", "no", name)
	eng.Docker("stop", name)
	// The logs source lets a container go once it has read all the engine holds of it.
	waitUntil(t, time.Minute, func() error {
		if n := p.metric("qwatch_docker_logs_containers"); n != 0 {
			return fmt.Errorf("%v containers followed after the last one stopped", n)
		}
		return nil
	})
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d; stderr %v", code, p.stderrLines())
	}
	record := strings.Split(strings.TrimSpace(eng.Docker("logs", name)), "\n")
	want := map[string]int{}
	for _, l := range record {
		want[l]++
	}
	got := map[string]int{}
	for _, l := range lines() {
		got[l]++
	}
	missing, extra := 0, 0
	for l, n := range want {
		missing += max(n-got[l], 0)
	}
	for l, n := range got {
		extra += max(n-want[l], 0)
	}
	var gaps []string
	for _, m := range p.messages() {
		if m.Event.Type == "qwatch" && m.Event.Action == "gap" {
			gaps = append(gaps, m.Event.Attributes["from"]+" to "+m.Event.Attributes["to"])
		}
	}
	row(t, "Docker engine restarted twice", fmt.Sprintf("a container printing 100 lines/s, restarted with the engine; %d lines in the engine's record", len(record)),
		fmt.Sprintf("missing %d, repeated %d; %d gaps in the events reported with their windows", missing, extra, len(gaps)))
	if missing != 0 || extra != 0 || len(gaps) < 2 {
		t.Errorf("missing %d, repeated %d lines of %d; gaps %v", missing, extra, len(record), gaps)
	}
}

// Floods and bad input, with valid traffic mixed in: 100,000 garbage datagrams, a million
// chunk starts, 1,000 decompression bombs, split lines from 10,000 container IDs, 1,000 idle
// and 1,000 slow TCP connections. Every rejection is counted, memory stays bounded, and every
// valid message (over TCP, and over UDP between the floods' datagrams) arrives once.
func TestFaultFloods(t *testing.T) {
	p := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "json", "-http", "127.0.0.1:0")
	udp, err := net.Dial("udp", p.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	// 1,000 idle and 1,000 slow connections, open through it all.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 2000 {
		c, err := net.Dial("tcp", p.tcp)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i%2 == 1 {
			c.Write([]byte(`{"short_message":"slow`))
		}
	}
	udpValid, _ := gelfload.Make(gelfload.Config{Run: "validudp", Count: 4000, MaxLine: 1000}, true)
	tcpValid, _ := gelfload.Make(gelfload.Config{Run: "validtcp", Count: 4000, MaxLine: 1000}, false)
	bomb := gzipOf(bytes.Repeat([]byte{'0'}, 1<<20+1))
	garbage := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64)
	start := time.Now()
	var sent int
	for i := range 1_100_000 {
		switch {
		case i < 100_000:
			udp.Write(garbage)
		case i < 101_000:
			udp.Write(bomb)
		default:
			chunkStart := make([]byte, 12, 40)
			chunkStart[0], chunkStart[1] = 0x1e, 0x0f
			byteorder.BigEndian.PutUint64(chunkStart[2:], uint64(i))
			chunkStart[10], chunkStart[11] = 0, 2
			udp.Write(append(chunkStart, `{"short_message":"never ends`...))
		}
		if i%275 == 0 && sent < 4000 { // the valid messages, spread among the floods
			for _, pk := range udpValid[sent].Packets {
				udp.Write(pk)
			}
			sent++
		}
		if i%1000 == 999 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * 10 * time.Microsecond))) // 100,000 datagrams/s
		}
	}
	// Split lines from 10,000 containers, over TCP, beside valid messages on a second connection.
	split, err := net.Dial("tcp", p.tcp)
	if err != nil {
		t.Fatal(err)
	}
	piece := strings.Repeat("x", gelf.DockerLineLimit)
	bw := bufio.NewWriter(split)
	for i := range 10_000 {
		fmt.Fprintf(bw, `{"short_message":"%s","_container_id":"%064x","timestamp":1795472805.85}`+"\x00", piece, i)
	}
	bw.Flush()
	split.Close()
	if _, err := gelfload.Send(context.Background(), "tcp", p.tcp, tcpValid, 0, 4); err != nil {
		t.Fatal(err)
	}
	rss := peakRSS(p.cmd.Process.Pid)
	// A marker written out shows that every datagram sent before it has been read: the socket
	// is read in order. It is sent again until one is not among the kernel's drops.
	over := make(chan struct{})
	var marking sync.WaitGroup
	marking.Go(func() {
		for {
			udp.Write([]byte(`{"short_message":"floods over"}`))
			select {
			case <-over:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	p.waitOutput(time.Minute, "the marker sent after the floods", func(line []byte) bool {
		return bytes.Contains(line, []byte(`"message":"floods over"`))
	})
	close(over)
	marking.Wait()
	// Only the valid messages' lines are decoded: the output holds 160 MB of split lines.
	tallies := func() (udp, tcp *gelfload.Tally) {
		udp, tcp = gelfload.NewTally("validudp", 10), gelfload.NewTally("validtcp", 10)
		p.mu.Lock()
		out := bytes.Clone(p.stdout.Bytes())
		p.mu.Unlock()
		for line := range bytes.Lines(out) {
			if !bytes.Contains(line, []byte(`"message":"valid`)) {
				continue
			}
			var m message.Message
			if json.Unmarshal(line, &m) == nil {
				udp.Add(m.Text)
				tcp.Add(m.Text)
			}
		}
		return udp, tcp
	}
	udpTally, tcpTally := tallies()
	for deadline := time.Now().Add(time.Minute); tcpTally.Report(4000).Unique < 4000 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		udpTally, tcpTally = tallies()
	}
	rejected := p.metric(`qwatch_gelf_rejected_total{reason="json"}`) + p.metric(`qwatch_gelf_rejected_total{reason="too_large"}`) +
		p.metric(`qwatch_gelf_rejected_total{reason="decompress"}`)
	evicted, released := p.metric("qwatch_gelf_chunks_evicted_total"), p.metric("qwatch_gelf_join_released_total")
	kernel := p.metric("qwatch_gelf_kernel_drops_total")
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	// The UDP messages share the socket with the floods: what the kernel dropped is counted,
	// and only that may be missing. Over TCP every message must arrive.
	ur, tr := udpTally.Report(4000), tcpTally.Report(4000)
	row(t, "floods: 100,000 garbage datagrams, 1,000,000 chunk starts, 1,000 gzip bombs (1 KiB to 1 MiB), split lines of 10,000 containers, 1,000 idle and 1,000 slow TCP connections",
		"100,000 datagrams/s for 11 s, with 4,000 valid messages over UDP and 4,000 over TCP",
		fmt.Sprintf("peak RSS %d MiB; rejected %.0f, chunked messages evicted %.0f, split lines let go %.0f, kernel drops %.0f, all counted; valid over TCP: %d of 4,000, over UDP: %d of 4,000 (the rest among the kernel drops), none twice",
			rss>>20, rejected, evicted, released, kernel, tr.Unique, ur.Unique))
	// Each garbage datagram and bomb is rejected, or dropped by the kernel before it was read.
	if rss > 320<<20 || rejected+kernel < 101_000 || evicted == 0 || released == 0 {
		t.Errorf("rss %d MiB, rejected %v, evicted %v, released %v", rss>>20, rejected, evicted, released)
	}
	if tr.Unique != 4000 || tr.Duplicated+ur.Duplicated != 0 || float64(ur.Lost) > kernel {
		t.Errorf("valid over TCP %+v, over UDP %+v, kernel drops %v", tr, ur, kernel)
	}
}

func gzipOf(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// peakRSS is a process's resident memory high-water mark, in bytes.
func peakRSS(pid int) int64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}
