package gelf_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/internal/dockertest/lines"
	"github.com/qnib/qwatch/message"
)

// TestDockerGELFDriver runs containers whose output Docker's own GELF driver sends to a Source:
// over UDP with each compression and over TCP, lines from 10 bytes to 16 KiB (the largest line
// Docker passes whole), from stdout and stderr. Every line must arrive once, in order per
// stream, with the container's fields and the stream's level.
func TestDockerGELFDriver(t *testing.T) {
	image := dockertest.Image(t)
	const n = 300
	src, c, _ := start(t, gelf.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"}, nil)
	udp, tcp := src.UDPAddr().String(), src.TCPAddr().String()
	runs := []struct {
		name string
		opts []string
	}{
		{"udp-gzip", []string{"gelf-address=udp://" + udp}},
		{"udp-zlib", []string{"gelf-address=udp://" + udp, "gelf-compression-type=zlib"}},
		{"udp-none", []string{"gelf-address=udp://" + udp, "gelf-compression-type=none"}},
		{"tcp", []string{"gelf-address=tcp://" + tcp}},
	}
	seen := 0
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			name := fmt.Sprintf("qwatch-gelf-%s-%d", run.name, time.Now().UnixNano())
			args := []string{"run", "--rm", "--name", name, "--network", "none", "--log-driver", "gelf",
				"--log-opt", "tag=" + run.name, "--label", "app=gelf-test"}
			for _, o := range run.opts {
				args = append(args, "--log-opt", o)
			}
			args = append(args, image, "/logger", "-id", run.name, "-n", fmt.Sprint(n), "-min", "10", "-max", "16384", "-stream", "both")
			dockertest.Docker(t, args...)
			all := wait(t, c, seen+n)
			got := all[seen:]
			seen = len(all)
			perStream := map[string][]string{}
			for _, m := range got {
				if m.Container.Name != name || m.Container.Tag != run.name || m.Container.ImageName != image ||
					len(m.Container.ID) != 64 || !strings.HasPrefix(m.Container.ImageID, "sha256:") ||
					m.Container.Command != fmt.Sprintf("/logger -id %s -n %d -min 10 -max 16384 -stream both", run.name, n) ||
					m.Container.Created.IsZero() || m.Host == "" {
					t.Fatalf("container fields wrong: %+v", m.Container)
				}
				stream := strings.Fields(m.Text)[1]
				want := map[string]message.Level{"stdout": message.LevelInfo, "stderr": message.LevelErr}[stream]
				if m.Level != want {
					t.Errorf("%s line has level %v, want %v", stream, m.Level, want)
				}
				perStream[stream] = append(perStream[stream], m.Text)
			}
			for i := range n {
				stream := lines.Stream(i)
				want := lines.Line(run.name, stream, i, lines.Size(i, 10, 16384))
				if len(perStream[stream]) <= i/2 || perStream[stream][i/2] != want {
					t.Fatalf("line %d of %s is not the one printed (%d lines arrived on it)", i, stream, len(perStream[stream]))
				}
			}
		})
	}
	if st := src.Stats(); st.Incomplete != 0 || st.Expired != 0 || st.Evicted != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Docker's driver, given localhost as most users write it, reaches a Source listening on
// "localhost"; the lines of a TTY container come without the terminal's carriage return.
func TestDockerDriverLocalhostAndTTY(t *testing.T) {
	image := dockertest.Image(t)
	src, c, _ := start(t, gelf.Config{UDPAddr: "localhost:0"}, nil)
	_, port, _ := strings.Cut(src.UDPAddr().String(), "127.0.0.1:")
	name := fmt.Sprintf("qwatch-gelf-tty-%d", time.Now().UnixNano())
	dockertest.Docker(t, "run", "--rm", "-t", "--name", name, "--network", "none", "--log-driver", "gelf",
		"--log-opt", "gelf-address=udp://localhost:"+port, image, "/logger", "-id", "tty", "-n", "3", "-min", "10", "-max", "100")
	got := wait(t, c, 3)
	for i, m := range got {
		if strings.ContainsAny(m.Text, "\r\n") || m.Container.Name != name {
			t.Errorf("line %d: %q from %q, want no carriage return, from %s", i, m.Text, m.Container.Name, name)
		}
	}
}

// TestDockerGELFDriverFlatOut measures what Docker's own GELF driver delivers from a
// container that prints 20,000 lines of 100 bytes flat out (gzip over UDP, the driver's
// defaults), against what the engine keeps of the same container in its json-file, read
// back through the logs API. The driver loses lines inside the engine: it sends more slowly
// than the container prints, and when the container exits the engine gives its logger a
// short while to finish, then closes it with lines still queued ("Logger didn't exit in
// time: logs may be truncated"). The test fails if any of the loss is the Source's: every
// line that reached its socket must be emitted once, in order, and the kernel must have
// dropped none of them; it logs the figures.
func TestDockerGELFDriverFlatOut(t *testing.T) {
	image := dockertest.Image(t)
	const n = 20000
	src, c, stop := start(t, gelf.Config{UDPAddr: "127.0.0.1:0", MultilineRule: multiline.Off}, nil)
	id := fmt.Sprintf("flatout%d", time.Now().UnixNano())
	cmd := []string{image, "/logger", "-id", id, "-n", fmt.Sprint(n), "-min", "100", "-max", "100"}
	name := "gelf-" + id
	begin := time.Now()
	dockertest.Docker(t, append([]string{"run", "--rm", "--name", name, "--network", "none", "--log-driver", "gelf",
		"--log-opt", "gelf-address=udp://" + src.UDPAddr().String()}, cmd...)...)
	took := time.Since(begin)
	stop() // reads what the socket holds, then every count is final
	st := src.Stats()
	next := 0
	for _, m := range c.Messages() {
		if m.Container.Name != name {
			continue
		}
		for next < n && m.Text != lines.Line(id, "stdout", next, 100) {
			next++ // a line the driver lost
		}
		if next == n {
			t.Fatalf("line %q arrived out of order or twice", m.Text)
		}
		next++
	}
	arrived := 0
	for _, m := range c.Messages() {
		if m.Container.Name == name {
			arrived++
		}
	}
	if st.KernelDrops != 0 || len(st.Discarded) != 0 {
		t.Errorf("the Source lost lines itself: kernel drops %d, discarded %v", st.KernelDrops, st.Discarded)
	}

	jsonName := name + "-json"
	dockertest.Docker(t, append([]string{"run", "--name", jsonName, "--network", "none", "--log-driver", "json-file"}, cmd...)...)
	defer dockertest.DockerErr("rm", "-f", jsonName)
	kept := strings.Count(dockertest.Docker(t, "logs", jsonName), "\n")
	if kept != n {
		t.Errorf("json-file kept %d of %d lines", kept, n)
	}
	t.Logf("printed %d lines in %v; GELF driver delivered %d (%.1f%%, %.0f lines/s, lost %d in the engine); "+
		"json-file kept %d, read back through the logs API", n, took.Round(time.Millisecond), arrived,
		100*float64(arrived)/n, float64(arrived)/took.Seconds(), n-arrived, kept)
}
