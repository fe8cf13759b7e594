package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/internal/dockertest/lines"
	"github.com/qnib/qwatch/message"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// daemonBinary builds qwatchd once per test binary.
func daemonBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "qwatchd-test")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "qwatchd")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// proc is a running qwatchd.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *bytes.Buffer
	mu     sync.Mutex
	stderr []string
	udp    string
	tcp    string
	http   string
	done   chan struct{}
	code   int
}

var (
	gelfLine = regexp.MustCompile(`^gelf: listening on udp (\S+), tcp (\S+)$`)
	httpLine = regexp.MustCompile(`^http: serving /metrics and /healthz on (\S+)$`)
)

// startDaemon runs qwatchd with args and waits until it says where it listens.
func startDaemon(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, stdout: new(bytes.Buffer), done: make(chan struct{})}
	if !slices.Contains(args, "-state-dir") {
		args = append(args, "-state-dir", t.TempDir())
	}
	// Tests check what their own containers send; other tests' containers on the same engine
	// would show up through the logs source unless a test asks for it.
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-docker-logs") }) {
		args = append(args, "-docker-logs=false")
	}
	p.cmd = exec.Command(daemonBinary(t), args...)
	p.cmd.Stdout = &lockedWriter{mu: &p.mu, w: p.stdout}
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(errPipe)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr = append(p.stderr, line)
			if m := gelfLine.FindStringSubmatch(line); m != nil {
				p.udp, p.tcp = m[1], m[2]
			}
			if m := httpLine.FindStringSubmatch(line); m != nil {
				p.http = m[1]
				if !signalled {
					close(ready)
					signalled = true
				}
			}
			p.mu.Unlock()
		}
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		if !signalled {
			close(ready)
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("qwatchd did not start: %v", p.stderrLines())
	}
	if p.http == "" {
		t.Fatalf("qwatchd exited early: %v", p.stderrLines())
	}
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *proc) stderrLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stderr...)
}

// stop sends SIGTERM and waits for the exit code.
func (p *proc) stop() int {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.t.Fatal("qwatchd did not exit within 60s of SIGTERM")
	}
	return p.code
}

// metric reads one sample from /metrics.
func (p *proc) metric(name string) float64 {
	p.t.Helper()
	return metrics(p.t, p.http, name)[0]
}

// metrics reads samples from one scrape of the /metrics qwatchd serves on addr, in the order
// named; a sample it does not serve reads -1.
func metrics(t *testing.T, addr string, names ...string) []float64 {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := make([]float64, len(names))
	for i := range out {
		out[i] = -1
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		for i, name := range names {
			if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
				out[i], _ = strconv.ParseFloat(rest, 64)
			}
		}
	}
	return out
}

func (p *proc) waitMetric(name string, atLeast float64, timeout time.Duration) {
	p.t.Helper()
	waitUntil(p.t, timeout, func() error {
		if v := p.metric(name); v < atLeast {
			return fmt.Errorf("%s = %v, want at least %v", name, v, atLeast)
		}
		return nil
	})
}

// waitUntil polls cond until it returns nil; past the timeout the test fails with cond's last
// error.
func waitUntil(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitOutput hands each complete line qwatchd writes to its standard output, from the first
// on, to seen until seen returns true; past the timeout the test fails, saying what it waited
// for.
func (p *proc) waitOutput(timeout time.Duration, what string, seen func(line []byte) bool) {
	p.t.Helper()
	read := 0
	waitUntil(p.t, timeout, func() error {
		p.mu.Lock()
		out := p.stdout.Bytes()[read:]
		out = bytes.Clone(out[:bytes.LastIndexByte(out, '\n')+1])
		p.mu.Unlock()
		read += len(out)
		for line := range bytes.Lines(out) {
			if seen(line) {
				return nil
			}
		}
		return fmt.Errorf("qwatchd's output has not shown %s", what)
	})
}

// messages parses the JSON lines qwatchd wrote.
func (p *proc) messages() []message.Message {
	p.t.Helper()
	p.mu.Lock()
	data := bytes.Clone(p.stdout.Bytes())
	p.mu.Unlock()
	var out []message.Message
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var m message.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			p.t.Fatalf("output line is not a JSON document: %v: %.200s", err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// summary finds the exit summary of a sink.
func (p *proc) summary(sink string) (offered, written, failed, dropped int) {
	p.t.Helper()
	for _, l := range p.stderrLines() {
		if _, err := fmt.Sscanf(l, "qwatchd: sink "+sink+" offered=%d written=%d failed=%d dropped=%d", &offered, &written, &failed, &dropped); err == nil {
			return
		}
	}
	p.t.Fatalf("no summary for sink %s in %v", sink, p.stderrLines())
	return
}

// TestDaemonEndToEnd runs containers whose output Docker's GELF driver sends to qwatchd over
// UDP (gzip, zlib, none) and TCP, 2,000 lines each from 10 bytes to 100 KiB on stdout and
// stderr, and checks qwatchd's JSON output and, when a bulk server is given, what it indexed.
func TestDaemonEndToEnd(t *testing.T) {
	image := dockertest.Image(t)
	const n, minSize, maxSize = 2000, 10, 100 << 10
	args := []string{"-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0", "-stdout", "json", "-http", "127.0.0.1:0"}
	vl := os.Getenv("QWATCH_VICTORIALOGS_URL")
	if vl != "" {
		args = append(args, "-es-url", vl+"/insert/elasticsearch", "-es-header", "VL-Msg-Field: message",
			"-es-header", "VL-Time-Field: @timestamp", "-es-header", "VL-Stream-Fields: container.name")
	} else if dockertest.Required() {
		t.Fatal("QWATCH_E2E=1 but QWATCH_VICTORIALOGS_URL is not set")
	}
	d := startDaemon(t, args...)
	run := fmt.Sprint(time.Now().UnixNano())
	transports := []struct{ name, opt string }{
		{"udp-gzip", "gelf-address=udp://" + d.udp},
		{"udp-zlib", "gelf-address=udp://" + d.udp},
		{"udp-none", "gelf-address=udp://" + d.udp},
		{"tcp", "gelf-address=tcp://" + d.tcp},
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(transports))
	want := map[string]map[string][]string{} // container → stream → texts
	total := 0
	for _, tr := range transports {
		name := "qwatch-e2e-" + tr.name + "-" + run
		want[name] = map[string][]string{}
		for i := range n {
			stream := lines.Stream(i)
			want[name][stream] = append(want[name][stream], lines.Line(name, stream, i, lines.Size(i, minSize, maxSize)))
			total++
		}
		opts := []string{"--log-opt", tr.opt}
		if c, ok := strings.CutPrefix(tr.name, "udp-"); ok {
			opts = append(opts, "--log-opt", "gelf-compression-type="+c)
		}
		wg.Go(func() {
			args := append([]string{"run", "--rm", "--name", name, "--network", "none", "--log-driver", "gelf"}, opts...)
			args = append(args, image, "/logger", "-id", name, "-n", fmt.Sprint(n), "-min", fmt.Sprint(minSize),
				"-max", fmt.Sprint(maxSize), "-stream", "both", "-every", "300us")
			if _, err := dockertest.DockerErr(args...); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Docker splits the lines over 16 KiB; qwatchd joins them again: every line arrives whole.
	// What the GELF source counted is said when they do not, to tell a loss from a merge.
	waitUntil(t, 2*time.Minute, func() error {
		names := []string{`qwatch_source_emitted_total{source="gelf"}`, "qwatch_gelf_kernel_drops_total",
			"qwatch_gelf_join_released_total", "qwatch_gelf_multiline_groups_total", "qwatch_gelf_multiline_joined_lines_total",
			"qwatch_gelf_chunks_expired_total", "qwatch_gelf_chunks_evicted_total"}
		v := metrics(t, d.http, names...)
		if v[0] < float64(total) {
			return fmt.Errorf("%s = %v, want at least %v; %s %v, %s %v, %s %v, %s %v, %s %v, %s %v", names[0], v[0], total,
				names[1], v[1], names[2], v[2], names[3], v[3], names[4], v[4], names[5], v[5], names[6], v[6])
		}
		return nil
	})
	// A container's destroy is the last of its events: once each container's is written, all
	// of their events are.
	destroyed := map[string]bool{}
	d.waitOutput(time.Minute, "a destroy event for each container", func(line []byte) bool {
		if bytes.Contains(line, []byte(`"action":"destroy"`)) {
			for name := range want {
				if bytes.Contains(line, []byte(`"name":"`+name+`"`)) {
					destroyed[name] = true
				}
			}
		}
		return len(destroyed) == len(want)
	})
	if code := d.stop(); code != 0 {
		t.Fatalf("qwatchd exited with %d: %v", code, d.stderrLines())
	}

	msgs := d.messages()
	got := map[string]map[string][]string{}
	events := map[string]map[string]int{}
	for _, m := range msgs {
		name := m.Container.Name
		if want[name] == nil {
			continue
		}
		if m.Kind == message.KindEvent {
			if events[name] == nil {
				events[name] = map[string]int{}
			}
			events[name][m.Event.Action]++
			continue
		}
		if len(m.Container.ID) != 64 || m.Container.ImageName != image || m.Source != "gelf" || m.ID == "" {
			t.Fatalf("log message fields: %+v", m)
		}
		stream := map[message.Level]string{message.LevelInfo: "stdout", message.LevelErr: "stderr"}[m.Level]
		if got[name] == nil {
			got[name] = map[string][]string{}
		}
		got[name][stream] = append(got[name][stream], m.Text)
	}
	for name, streams := range want {
		for stream, texts := range streams {
			g := got[name][stream]
			if len(g) != len(texts) {
				first := 0
				for first < min(len(g), len(texts)) && g[first] == texts[first] {
					first++
				}
				var gl, wl int
				if first < len(g) {
					gl = len(g[first])
				}
				if first < len(texts) {
					wl = len(texts[first])
				}
				t.Errorf("%s %s: %d messages, want %d; the first that differs, #%d, has %d bytes, want %d",
					name, stream, len(g), len(texts), first, gl, wl)
				continue
			}
			for i := range texts {
				if g[i] != texts[i] {
					t.Errorf("%s %s: message %d is %.60q…, want %.60q…", name, stream, i, g[i], texts[i])
					break
				}
			}
		}
		for _, action := range []string{"create", "start", "die", "destroy"} {
			if events[name][action] != 1 {
				t.Errorf("%s: %d %s events, want 1", name, events[name][action], action)
			}
		}
	}
	offered, written, failed, dropped := d.summary("stdout")
	if written != len(msgs) || offered != written || failed != 0 || dropped != 0 {
		t.Errorf("stdout summary offered=%d written=%d failed=%d dropped=%d; %d lines written", offered, written, failed, dropped, len(msgs))
	}
	if vl != "" {
		checkIndexed(t, d, vl, want, msgs)
	}
}

// checkIndexed compares what the bulk sink indexed with what qwatchd wrote to stdout.
func checkIndexed(t *testing.T, d *proc, vl string, want map[string]map[string][]string, msgs []message.Message) {
	offered, written, failed, dropped := d.summary("elasticsearch")
	if offered != written || failed != 0 || dropped != 0 {
		t.Errorf("elasticsearch summary offered=%d written=%d failed=%d dropped=%d", offered, written, failed, dropped)
	}
	for name := range want {
		ids := map[string]bool{}
		for _, m := range msgs {
			if m.Container.Name == name {
				ids[m.ID] = true
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		var stored map[string]bool
		for time.Now().Before(deadline) {
			stored = queryIDs(t, vl, `container.name:"`+name+`"`)
			if len(stored) >= len(ids) {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		missing := 0
		for id := range ids {
			if !stored[id] {
				missing++
			}
		}
		if missing > 0 || len(stored) != len(ids) {
			t.Errorf("%s: bulk server holds %d messages, stdout %d; %d of stdout's missing", name, len(stored), len(ids), missing)
		}
	}
}

func queryIDs(t *testing.T, base, query string) map[string]bool {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.PostForm(base+"/select/logsql/query", url.Values{"query": {query}, "fields": {"qwatch.id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var row map[string]string
		if json.Unmarshal(sc.Bytes(), &row) == nil {
			out[row["qwatch.id"]] = true
		}
	}
	return out
}

// TestDaemonSIGTERMWhileLogging stops qwatchd while a container still logs: everything it
// accepted is written, and its counters agree with its output.
func TestDaemonSIGTERMWhileLogging(t *testing.T) {
	image := dockertest.Image(t)
	d := startDaemon(t, "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0", "-stdout", "json", "-http", "127.0.0.1:0")
	name := fmt.Sprint("qwatch-sigterm-", time.Now().UnixNano())
	dockertest.Docker(t, "run", "-d", "--name", name, "--network", "none", "--log-driver", "gelf",
		"--log-opt", "gelf-address=udp://"+d.udp, image, "/logger", "-id", name, "-n", "1000000", "-min", "10", "-max", "2000", "-every", "200us")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	d.waitMetric("qwatch_gelf_messages_total", 500, time.Minute)
	before := d.metric(`qwatch_sink_written_total{sink="stdout"}`)
	if code := d.stop(); code != 0 {
		t.Fatalf("qwatchd exited with %d after SIGTERM: %v", code, d.stderrLines())
	}
	msgs := d.messages()
	logs := 0
	for i, m := range msgs {
		if m.Kind == message.KindLog {
			if want := lines.Line(name, "stdout", logs, lines.Size(logs, 10, 2000)); m.Text != want {
				t.Fatalf("log line %d (output line %d) is %.60q, want %.60q", logs, i, m.Text, want)
			}
			logs++
		}
	}
	offered, written, failed, dropped := d.summary("stdout")
	if written != len(msgs) || offered != written || failed+dropped != 0 {
		t.Errorf("summary offered=%d written=%d failed=%d dropped=%d; %d lines written", offered, written, failed, dropped, len(msgs))
	}
	if float64(written) < before {
		t.Errorf("written %d at exit, fewer than the %v /metrics reported before", written, before)
	}
	var gelfMessages int
	for _, l := range d.stderrLines() {
		fmt.Sscanf(l, "qwatchd: gelf messages=%d", &gelfMessages)
	}
	if gelfMessages != logs {
		t.Errorf("the GELF source accepted %d messages; %d were written", gelfMessages, logs)
	}
}

// TestDaemonFailsClearly checks the exit codes and messages of a daemon that cannot start.
func TestDaemonFailsClearly(t *testing.T) {
	bin := daemonBinary(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	broken := filepath.Join(t.TempDir(), "broken.yml")
	os.WriteFile(broken, []byte("gelf-udp: [x"), 0o600)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"-config", broken}, 2, "config " + broken},
		{[]string{"-docker-host", "none", "-gelf-udp", "", "-gelf-tcp", busy.Addr().String()}, 1, "address already in use"},
		{[]string{"-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "", "-es-url", "http://127.0.0.1:1"}, 1, "start with -es-wait"},
		{[]string{"-gelf-udp", ":0"}, 2, "say -listen-all"},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != tt.code || !strings.Contains(string(out), tt.want) {
			t.Errorf("qwatchd %q: exit %d, output %q; want exit %d and %q", tt.args, code, out, tt.code, tt.want)
		}
	}
}

// TestDaemonSecondSignalExitsAtOnce: while a sink cannot flush (its server accepts and never
// answers), a second SIGTERM ends qwatchd at once rather than after the shutdown timeout.
func TestDaemonSecondSignalExitsAtOnce(t *testing.T) {
	bulk := muteServer(t)
	d := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "none", "-http", "127.0.0.1:0", "-shutdown-timeout", "60s",
		"-es-url", bulk.url, "-es-wait")
	conn, err := net.Dial("udp", d.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte(`{"short_message":"stuck on its way"}`))
	select {
	case <-bulk.requested: // the sink's Write now waits for an answer that never comes
	case <-time.After(30 * time.Second):
		t.Fatalf("no bulk request reached the server: %v", d.stderrLines())
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.waitStderr(30*time.Second, "qwatchd: shutting down; flushing sinks")
	// /metrics is served until the Hub has shut down: an answer now shows qwatchd flushing,
	// not gone.
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + d.http + "/metrics")
	if err != nil {
		t.Fatalf("qwatchd stopped on the first signal though its sink could not flush: %v", err)
	}
	resp.Body.Close()
	start := time.Now()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Fatal("qwatchd did not exit at once on the second signal")
	}
	if d.code != 1 || time.Since(start) > 5*time.Second {
		t.Errorf("exit code %d after %v, want 1 at once", d.code, time.Since(start))
	}
	if !strings.Contains(strings.Join(d.stderrLines(), "\n"), "second signal; exiting without flushing") {
		t.Errorf("no word of the second signal: %v", d.stderrLines())
	}
}

// mute is an HTTP server that accepts connections, reads requests and never answers.
type mute struct {
	url       string
	requested chan struct{} // closed once a bulk request has come
}

// muteServer starts a mute server; its connections are held open until the test ends.
func muteServer(t *testing.T) *mute {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &mute{url: "http://" + ln.Addr().String(), requested: make(chan struct{})}
	var once sync.Once
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Go(func() {
				sc := bufio.NewScanner(conn)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "POST ") && strings.Contains(sc.Text(), "/_bulk") {
						once.Do(func() { close(m.requested) })
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return m
}

// waitStderr waits until qwatchd has written a line that contains want to its standard error.
func (p *proc) waitStderr(timeout time.Duration, want string) {
	p.t.Helper()
	waitUntil(p.t, timeout, func() error {
		for _, l := range p.stderrLines() {
			if strings.Contains(l, want) {
				return nil
			}
		}
		return fmt.Errorf("no %q on standard error: %v", want, p.stderrLines())
	})
}
