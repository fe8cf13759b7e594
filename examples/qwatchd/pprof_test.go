package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Profiling is off unless -pprof names an address: no listener, and nothing of it on -http.
func TestPprofOffByDefault(t *testing.T) {
	d := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "none", "-http", "127.0.0.1:0")
	resp, err := http.Get("http://" + d.http + "/debug/pprof/profile?seconds=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/debug/pprof/profile on -http: %s, want 404", resp.Status)
	}
	if code := d.stop(); code != 0 {
		t.Fatalf("exit code %d: %v", code, d.stderrLines())
	}
	for _, l := range d.stderrLines() {
		if strings.Contains(l, "pprof") {
			t.Errorf("a profiling listener without -pprof: %q", l)
		}
	}
}

// With -pprof, a CPU profile is served on that address, and one a profiler can read.
func TestPprofServesACPUProfile(t *testing.T) {
	d := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "none", "-http", "127.0.0.1:0", "-pprof", "127.0.0.1:0")
	const announce = "pprof: serving /debug/pprof/ on "
	d.waitStderr(30*time.Second, announce)
	var addr string
	for _, l := range d.stderrLines() {
		if a, ok := strings.CutPrefix(l, announce); ok {
			addr = a
		}
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/profile?seconds=1")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/debug/pprof/profile: %s, %v: %.200s", resp.Status, err, body)
	}
	// A profile is a gzipped protocol buffer whose string table names its sample types.
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the profile is not gzipped: %v: %.200q", err, body)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("the profile does not inflate: %v", err)
	}
	for _, want := range []string{"samples", "cpu", "nanoseconds"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("no %q in the profile: not a CPU profile", want)
		}
	}
	if code := d.stop(); code != 0 {
		t.Fatalf("exit code %d: %v", code, d.stderrLines())
	}
}

// The profiling address is loopback only, as every listener is, unless -listen-all.
func TestPprofLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "10.0.0.5:6060"} {
		_, err := loadConfig([]string{"-pprof", addr}, env(nil), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), `-pprof "`+addr+`" is not a loopback address`) {
			t.Errorf("-pprof %s: %v, want refused as not loopback", addr, err)
		}
		if _, err := loadConfig([]string{"-pprof", addr, "-listen-all"}, env(nil), &bytes.Buffer{}); err != nil {
			t.Errorf("-pprof %s -listen-all: %v", addr, err)
		}
	}
	cfg, err := loadConfig(nil, env(map[string]string{"QWATCH_PPROF": "127.0.0.1:6060"}), &bytes.Buffer{})
	if err != nil || cfg.Pprof != "127.0.0.1:6060" {
		t.Errorf("QWATCH_PPROF: %q, %v", cfg.Pprof, err)
	}
}
