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
)

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
