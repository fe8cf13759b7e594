package dockerlogs_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/message"
)

// engineLines is how many lines of 100 bytes the container of BenchmarkEngineFlatOut prints.
const engineLines = 300_000

// BenchmarkEngineFlatOut runs a container on the real engine that prints engineLines lines of
// 100 bytes as fast as it can (json-file), while nobody reads it, while a bare reader of the
// logs API (ContainerLogs and stdcopy) follows it, and while the Source follows it with each
// reader. It reports the lines/s the reader got (from the container's start to its last line
// read), dockerd's CPU per line (from /proc/PID/stat; the engine is the dockerd whose
// command line names DOCKER_HOST's socket, or the only one), and the reader's: this
// process's CPU per line, which competes with the engine and the container for the cores
// when they print flat out.
func BenchmarkEngineFlatOut(b *testing.B) {
	image := dockertest.Image(b)
	pid := dockerdPID(b)
	for _, tt := range []struct {
		name   string
		follow func(b *testing.B, name string, n *atomic.Int64) (stop func())
	}{
		{"nobody", nil},
		{"bare-api", bareAPI},
		{"source-api", sourceReader(dockerlogs.ReaderAPI)},
		{"source-file", sourceReader(dockerlogs.ReaderFile)},
	} {
		b.Run(tt.name, func(b *testing.B) {
			var cpu, self time.Duration
			var elapsed time.Duration
			for b.Loop() {
				name := fmt.Sprintf("file-bench-%s-%d", tt.name, time.Now().UnixNano()%1e9)
				var n atomic.Int64
				stop := func() {}
				if tt.follow != nil {
					stop = tt.follow(b, name, &n)
				}
				before, selfBefore := cpuOf(b, pid), cpuSelf(b)
				start := time.Now()
				dockertest.Docker(b, "run", "-d", "--name", name, "--network", "none", image,
					"/logger", "-id", "b", "-n", strconv.Itoa(engineLines), "-min", "100", "-max", "100")
				if tt.follow == nil {
					dockertest.Docker(b, "wait", name)
				} else {
					for deadline := time.Now().Add(5 * time.Minute); n.Load() < engineLines; time.Sleep(time.Millisecond) {
						if time.Now().After(deadline) {
							b.Fatalf("%d lines of %d read", n.Load(), engineLines)
						}
					}
				}
				elapsed += time.Since(start)
				cpu += cpuOf(b, pid) - before
				self += cpuSelf(b) - selfBefore
				stop()
				dockertest.DockerErr("rm", "-f", name)
			}
			b.ReportMetric(float64(engineLines)*float64(b.N)/elapsed.Seconds(), "lines/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(engineLines*b.N), "dockerd-µs/line")
			b.ReportMetric(float64(self.Nanoseconds())/1e3/float64(engineLines*b.N), "reader-µs/line")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// bareAPI follows the container named name with the logs API as soon as it is created.
func bareAPI(b *testing.B, name string, n *atomic.Int64) func() {
	c := dockertest.Engine(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			body, err := c.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Timestamps: true})
			if err != nil {
				time.Sleep(time.Millisecond) // not created yet
				continue
			}
			w := lineCounter{n}
			stdcopy.StdCopy(w, w, body)
			body.Close()
			if n.Load() > 0 {
				return
			}
			time.Sleep(time.Millisecond) // created, not started yet: its follow stream ended at once
		}
	}()
	return func() { cancel(); <-done }
}

type lineCounter struct{ n *atomic.Int64 }

func (w lineCounter) Write(p []byte) (int, error) {
	w.n.Add(int64(bytes.Count(p, []byte{'\n'})))
	return len(p), nil
}

// sourceReader follows every container with a Source reading as reader, handing over
// batches as to a Hub; it counts the lines of the container named name.
func sourceReader(reader string) func(b *testing.B, name string, n *atomic.Int64) func() {
	return func(b *testing.B, name string, n *atomic.Int64) func() {
		src, err := dockerlogs.NewSource(dockerlogs.Config{Reader: reader, MultilineRule: multiline.Off, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			src.RunBatch(ctx, func(batch []message.Message) {
				for i := range batch {
					if batch[i].Container.Name == name {
						n.Add(1)
					}
				}
			})
		}()
		for !src.Stats().Connected {
			time.Sleep(time.Millisecond)
		}
		return func() {
			cancel()
			<-done
			if st := src.Stats(); (reader == dockerlogs.ReaderFile) != (st.FileReads > 0) {
				b.Errorf("reader %s: stats %+v", reader, st)
			}
		}
	}
}

// dockerdPID finds the engine's process.
func dockerdPID(b *testing.B) int {
	sock := strings.TrimPrefix(os.Getenv("DOCKER_HOST"), "unix://")
	if sock == "" {
		sock = "/var/run/docker.sock"
	}
	var found []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "dockerd" {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		cmdline, _ := os.ReadFile(d + "/cmdline")
		if bytes.Contains(cmdline, []byte(sock)) {
			return pid
		}
		found = append(found, pid)
	}
	if len(found) != 1 {
		b.Skipf("no single dockerd process to measure (%d found)", len(found))
	}
	return found[0]
}

// cpuSelf returns the user and system CPU time this process has used.
func cpuSelf(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOf returns the user and system CPU time the process has used.
func cpuOf(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name in parentheses: utime and stime are the 14th and 15th
	// of the line, in clock ticks of 1/100 s.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// latencyScript prints 20 lines of about 100 bytes, then sleeps a millisecond: a little
// under 20,000 lines/s (a sleep lasts a little longer than asked).
var latencyScript = strings.Repeat("out {i} GET /api/v1/items status=200 duration=1.2ms user=alice agent=curl/8.5 bytes=5120 cache=miss\n", 20) + "sleep 1ms"

// BenchmarkEngineLatency runs a container on the real engine that prints 100,000 lines of
// about 100 bytes, 20 then a pause of 1 ms (about 18,000 lines/s), and reports how
// old each line is when the Source emits it (now minus the engine's time stamp), at the
// median and the 99th percentile, for each reader, with the default multi-line rule.
func BenchmarkEngineLatency(b *testing.B) {
	image := dockertest.Image(b)
	const n = 100_000
	for _, reader := range []string{dockerlogs.ReaderFile, dockerlogs.ReaderAPI} {
		b.Run(reader, func(b *testing.B) {
			var ages []time.Duration
			var elapsed time.Duration
			for b.Loop() {
				name := fmt.Sprintf("file-latency-%s-%d", reader, time.Now().UnixNano()%1e9)
				var got atomic.Int64
				ch := make(chan time.Duration, n)
				src, err := dockerlogs.NewSource(dockerlogs.Config{Reader: reader, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() {
					defer close(done)
					src.Run(ctx, func(m message.Message) {
						if m.Container.Name == name {
							ch <- time.Since(m.Time)
							got.Add(1)
						}
					})
				}()
				for !src.Stats().Connected {
					time.Sleep(time.Millisecond)
				}
				start := time.Now()
				dockertest.Docker(b, "run", "-d", "--name", name, "--network", "none", image,
					"/logger", "-n", strconv.Itoa(n/20), "-script", latencyScript)
				for deadline := time.Now().Add(5 * time.Minute); got.Load() < n; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						b.Fatalf("%d lines of %d read", got.Load(), n)
					}
				}
				elapsed += time.Since(start)
				cancel()
				<-done
				close(ch)
				for a := range ch {
					ages = append(ages, a)
				}
				dockertest.DockerErr("rm", "-f", name)
			}
			slices.Sort(ages)
			b.ReportMetric(float64(ages[len(ages)/2].Microseconds())/1e3, "p50-ms")
			b.ReportMetric(float64(ages[len(ages)*99/100].Microseconds())/1e3, "p99-ms")
			b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "lines/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
