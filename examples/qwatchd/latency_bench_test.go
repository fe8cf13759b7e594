package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qnib/qwatch/internal/dockertest"
)

// latencyLines is how many lines BenchmarkDaemonLatency's container prints.
const latencyLines = 100_000

// latencyScript prints 25 lines of about 100 bytes, then pauses 1 ms: about 20,000 lines a
// second on the real engine.
var latencyScript = strings.Repeat("out {i} GET /api/v1/items status=200 duration=1.2ms user=alice agent=curl/8.5 bytes=5120 cache=miss\n", 25) + "sleep 1ms"

// BenchmarkDaemonLatency runs qwatchd on its defaults with -stdout json against the real
// engine, a container printing about 20,000 lines a second beside it, and reports how old
// each of the container's lines is when qwatchd has written it to standard output (now minus
// the engine's time stamp, the document's @timestamp), at the median and the 99th
// percentile, for each way of reading the logs.
//
//	QWATCH_E2E=1 go test -run '^$' -bench DaemonLatency -benchtime 1x -count 3 ./examples/qwatchd
func BenchmarkDaemonLatency(b *testing.B) {
	image := dockertest.Image(b)
	for _, reader := range []string{"file", "api"} {
		b.Run(reader, func(b *testing.B) {
			var ages []time.Duration
			var elapsed time.Duration
			for range b.N {
				a, took := daemonLatency(b, image, reader)
				ages = append(ages, a...)
				elapsed += took
			}
			slices.Sort(ages)
			b.ReportMetric(float64(ages[len(ages)/2].Microseconds())/1e3, "p50-ms")
			b.ReportMetric(float64(ages[len(ages)*99/100].Microseconds())/1e3, "p99-ms")
			b.ReportMetric(float64(len(ages))/elapsed.Seconds(), "lines/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// daemonLatency runs one round: qwatchd, a probe container whose line says qwatchd follows
// the engine, then the load; it returns the ages of the load's lines and how long they took.
func daemonLatency(b *testing.B, image, reader string) ([]time.Duration, time.Duration) {
	b.Helper()
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	probe, load := "lat-probe-"+suffix, "lat-load-"+suffix
	cmd := exec.Command(daemonBinary(b), "-gelf-udp", "", "-gelf-tcp", "", "-stdout", "json",
		"-state-dir", b.TempDir(), "-docker-logs-reader", reader)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var stderr bytes.Buffer
	cmd.Stderr = &lockedWriter{mu: &mu, w: &stderr}
	said := func() string {
		mu.Lock()
		defer mu.Unlock()
		return stderr.String()
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		dockertest.DockerErr("rm", "-f", probe, load)
	}()

	ages := make(chan time.Duration, latencyLines)
	var probed, got atomic.Int64
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			switch {
			case bytes.Contains(line, []byte(load)) && bytes.Contains(line, []byte(`"kind":"log"`)):
				at, err := documentTime(line)
				if err != nil {
					continue
				}
				ages <- time.Since(at)
				got.Add(1)
			case bytes.Contains(line, []byte(probe)):
				probed.Add(1)
			}
		}
	}()

	dockertest.Docker(b, "run", "-d", "--name", probe, "--network", "none", image, "/logger", "-n", "1000000", "-every", "50ms")
	waitFor(b, "qwatchd to show the probe's lines", func() bool { return probed.Load() > 0 }, said)
	dockertest.Docker(b, "rm", "-f", probe)

	start := time.Now()
	dockertest.Docker(b, "run", "-d", "--name", load, "--network", "none", image,
		"/logger", "-n", strconv.Itoa(latencyLines/25), "-script", latencyScript)
	waitFor(b, fmt.Sprintf("all %d lines", latencyLines), func() bool { return got.Load() >= latencyLines }, said)
	took := time.Since(start)
	close(ages)
	var out2 []time.Duration
	for a := range ages {
		out2 = append(out2, a)
	}
	return out2, took
}

// documentTime reads the @timestamp of a JSON document line as qwatchd writes it: first.
func documentTime(line []byte) (time.Time, error) {
	const prefix = `{"@timestamp":"`
	rest, ok := bytes.CutPrefix(line, []byte(prefix))
	if !ok {
		return time.Time{}, fmt.Errorf("no @timestamp first in %.80s", line)
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return time.Time{}, fmt.Errorf("unterminated @timestamp in %.80s", line)
	}
	return time.Parse(time.RFC3339Nano, string(rest[:end]))
}

// waitFor polls cond until it holds, or fails after five minutes with qwatchd's stderr.
func waitFor(b *testing.B, what string, cond func() bool, said func() string) {
	b.Helper()
	for deadline := time.Now().Add(5 * time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("no %s within five minutes; qwatchd said:\n%s", what, said())
		}
	}
}
