package dockertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PrivateEngine is a Docker engine of a test's own, for tests that stop and restart an engine.
type PrivateEngine struct {
	t    testing.TB
	dir  string
	cmd  *exec.Cmd
	Host string // unix:// address of its socket
}

// StartPrivateEngine starts a dockerd with its own socket, data and state under a temporary
// folder, and stops it when the test ends. It needs root and dockerd on the PATH; without
// them it skips the test, or fails it when Required.
func StartPrivateEngine(t testing.TB) *PrivateEngine {
	t.Helper()
	if _, err := exec.LookPath("dockerd"); err != nil || os.Geteuid() != 0 {
		if Required() {
			t.Fatalf("QWATCH_E2E=1 but a private engine cannot start (dockerd: %v, uid %d)", err, os.Geteuid())
		}
		t.Skip("a private engine needs root and dockerd")
	}
	// Short paths: the engine's sockets must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "qwd")
	if err != nil {
		t.Fatal(err)
	}
	e := &PrivateEngine{t: t, dir: dir, Host: "unix://" + filepath.Join(dir, "d.sock")}
	t.Cleanup(func() {
		e.Stop()
		exec.Command("umount", "-R", filepath.Join(dir, "exec")).Run()
		os.RemoveAll(dir)
	})
	e.Start()
	return e
}

// Start starts the engine (again) on the same folders and waits until it answers.
func (e *PrivateEngine) Start() {
	e.t.Helper()
	log, err := os.OpenFile(filepath.Join(e.dir, "log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	defer log.Close()
	e.cmd = exec.Command("dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none",
		"--storage-driver=vfs", "--data-root="+filepath.Join(e.dir, "data"),
		"--exec-root="+filepath.Join(e.dir, "exec"), "--pidfile="+filepath.Join(e.dir, "pid"),
		"-H", e.Host)
	e.cmd.Stdout, e.cmd.Stderr = log, log
	if err := e.cmd.Start(); err != nil {
		e.t.Fatalf("starting dockerd: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := exec.Command("docker", "-H", e.Host, "version", "--format", "{{.Server.Version}}").Output()
		if err == nil && strings.TrimSpace(string(out)) != "" {
			return
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(filepath.Join(e.dir, "log"))
			e.t.Fatalf("private dockerd did not answer within 60s; its log:\n%s", data)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop stops the engine with SIGTERM, as an init system would, and waits for it to exit.
func (e *PrivateEngine) Stop() {
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- e.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		e.cmd.Process.Kill()
		<-done
	}
	e.cmd = nil
	// Its containerd may linger a moment after dockerd exits.
	if pid, err := os.ReadFile(filepath.Join(e.dir, "exec", "containerd", "containerd.pid")); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil {
			syscall.Kill(n, syscall.SIGTERM)
		}
	}
}

// Docker runs the docker command line against this engine and fails the test on error.
func (e *PrivateEngine) Docker(args ...string) string {
	e.t.Helper()
	out, err := exec.Command("docker", append([]string{"-H", e.Host}, args...)...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("docker %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (e *PrivateEngine) String() string { return fmt.Sprintf("private engine at %s", e.Host) }
