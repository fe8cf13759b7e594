package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A closed standard output (qwatchd | head -1) fails the stdout sink, not the daemon: it goes
// on, SIGHUP does not kill it either, and SIGTERM still flushes and prints the summary.
func TestClosedStdoutAndSIGHUPDoNotKill(t *testing.T) {
	cmd := exec.Command(daemonBinary(t), "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "",
		"-http", "127.0.0.1:0", "-state-dir", "none")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	var mu sync.Mutex
	var lines []string
	listening := make(chan [2]string, 1) // the GELF UDP and the HTTP addresses
	errDone := make(chan struct{})
	go func() {
		defer close(errDone)
		sc := bufio.NewScanner(stderr)
		var udp string
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if rest, ok := strings.CutPrefix(sc.Text(), "gelf: listening on udp "); ok {
				udp = rest
			}
			if m := httpLine.FindStringSubmatch(sc.Text()); m != nil {
				listening <- [2]string{udp, m[1]}
			}
		}
	}()
	stderrHas := func(want string) error {
		mu.Lock()
		defer mu.Unlock()
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, want) }) {
			return fmt.Errorf("no %q on standard error: %v", want, lines)
		}
		return nil
	}
	var addrs [2]string
	select {
	case addrs = <-listening:
	case <-time.After(30 * time.Second):
		t.Fatal("qwatchd did not say where it listens")
	}
	conn, err := net.Dial("udp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(text string) { fmt.Fprintf(conn, `{"version":"1.1","host":"h","short_message":%q}`, text) }
	send("first")
	first, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(first, "first") {
		t.Fatalf("first line %q, %v", first, err)
	}
	stdout.Close() // as head -1 does
	for i := range 50 {
		send(fmt.Sprint("after the pipe closed ", i))
	}
	// Every message reached the stdout sink, and its writes to the closed pipe failed.
	waitUntil(t, 30*time.Second, func() error {
		v := metrics(t, addrs[1], `qwatch_sink_offered_total{sink="stdout"}`, `qwatch_sink_failed_total{sink="stdout"}`)
		if v[0] < 51 || v[1] < 1 {
			return fmt.Errorf("the stdout sink was offered %v messages and failed %v, want 51 and at least 1", v[0], v[1])
		}
		return nil
	})
	cmd.Process.Signal(syscall.SIGHUP)
	// Killed by SIGHUP, qwatchd would neither say this nor exit with 0 on SIGTERM below.
	waitUntil(t, 30*time.Second, func() error { return stderrHas("SIGHUP ignored") })
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	<-errDone
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d (%v), want 0; stderr:\n%s", code, err, all)
	}
	if !strings.Contains(all, "qwatchd: sink stdout offered=51") || regexp.MustCompile(`sink stdout offered=51 written=\d+ failed=0 `).MatchString(all) {
		t.Errorf("the summary does not show the stdout sink's failures:\n%s", all)
	}
}

// The /metrics server cuts off half-sent headers and still answers meanwhile.
func TestMetricsServerCutsOffSlowClients(t *testing.T) {
	d := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "none", "-http", "127.0.0.1:0")
	var slow []net.Conn
	for range httpMaxConns + 16 {
		c, err := net.Dial("tcp", d.http)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n") // never finished
		slow = append(slow, c)
	}
	// Past the connection cap the rest wait; once the header timeout frees slots, /healthz answers.
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + d.http + "/healthz")
	if err != nil {
		t.Fatalf("/healthz with 300 slow clients: %v", err)
	}
	resp.Body.Close()
	// Each half-sent request is cut off by the server once it has waited out the read-header
	// timeout: those past the connection cap wait their turn first, so theirs comes later.
	deadline := time.Now().Add(time.Minute)
	open := 0
	for _, c := range slow {
		c.SetReadDeadline(deadline)
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				open++
			}
		}
	}
	if open > 0 {
		t.Errorf("%d of %d half-sent requests still open a minute after they were sent", open, len(slow))
	}
	d.stop()
}

// -es-template with -es-wait installs the template once the cluster answers.
func TestTemplateInstalledWithWait(t *testing.T) {
	var mu sync.Mutex
	var templates int
	es := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/_index_template/") {
			mu.Lock()
			templates++
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"version":{"number":"8.15.0"},"acknowledged":true,"errors":false,"items":[]}`)
	}))
	defer es.Close()
	d := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "none", "-http", "127.0.0.1:0", "-es-url", es.URL, "-es-wait", "-es-template")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := templates
		mu.Unlock()
		if n > 0 {
			d.stop()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("no index template was installed; stderr: %v", d.stderrLines())
}

// -healthcheck asks the running daemon: 0 while it is healthy, 1 when nothing answers.
func TestHealthcheckFlag(t *testing.T) {
	d := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0", "-stdout", "none", "-http", "127.0.0.1:0")
	out, err := exec.Command(daemonBinary(t), "-healthcheck", "-http", d.http).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("healthy daemon: %v, %q", err, out)
	}
	d.stop()
	err = exec.Command(daemonBinary(t), "-healthcheck", "-http", d.http).Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("stopped daemon: %v, want exit status 1", err)
	}
}
