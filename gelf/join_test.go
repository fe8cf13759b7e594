package gelf_test

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/internal/dockertest/lines"
	"github.com/qnib/qwatch/message"
)

// piece is a GELF message as Docker's driver sends one piece of a line.
func piece(container string, level int, ts, text string) string {
	return fmt.Sprintf(`{"version":"1.1","host":"h","short_message":%q,"timestamp":%s,"level":%d,"_container_id":%q}`, text, ts, level, container)
}

func TestJoinDockerLines(t *testing.T) {
	src, c, _ := start(t, gelf.Config{UDPAddr: "127.0.0.1:0", JoinDockerLines: true, JoinWait: 500 * time.Millisecond}, nil)
	conn, err := net.Dial("udp", src.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	full := strings.Repeat("a", gelf.DockerLineLimit)
	long := full + strings.Repeat("b", gelf.DockerLineLimit) + "tail"
	send := func(s string) {
		if _, err := conn.Write(gelf.Gzipped([]byte(s))); err != nil {
			t.Fatal(err)
		}
	}
	send(piece("c1", 6, "1.000001", long[:gelf.DockerLineLimit]))
	send(piece("c2", 6, "1.000001", "other container, in between"))
	send(piece("c1", 3, "1.000001", "stderr of c1, in between"))
	send(piece("c1", 6, "1.000001", long[gelf.DockerLineLimit:2*gelf.DockerLineLimit]))
	send(piece("c1", 6, "1.000001", long[2*gelf.DockerLineLimit:]))
	// A line of exactly 16 KiB, then a line with another timestamp: two lines.
	send(piece("c1", 6, "2.5", full))
	send(piece("c1", 6, "2.6", "next"))
	// A piece whose rest never comes goes out alone once the socket has been idle a while.
	send(piece("c3", 6, "3", full))
	got := wait(t, c, 6)
	// The lengths of the lines of each stream, in order: streams keep their order, not
	// their order among each other (each is grouped on its own).
	lengths := map[string][]int{}
	for _, m := range got {
		stream := fmt.Sprintf("%s/%d", m.Container.ID, m.Level)
		lengths[stream] = append(lengths[stream], len(m.Text))
		if len(m.Text) == len(long) && m.Text != long {
			t.Error("the joined line differs from the one split")
		}
	}
	want := map[string][]int{"c2/6": {27}, "c1/3": {24}, "c1/6": {len(long), len(full), 4}, "c3/6": {len(full)}}
	if diff := cmp.Diff(want, lengths); diff != "" {
		t.Errorf("line lengths by stream (-want +got):\n%s", diff)
	}
	if st := src.Stats(); st.JoinedPieces != 2 || st.Messages != 8 {
		t.Errorf("stats %+v", st)
	}
}

// TestDockerGELFDriverJoinsLongLines: with JoinDockerLines, lines of up to 100 KiB that Docker
// split arrive whole, over UDP and TCP.
func TestDockerGELFDriverJoinsLongLines(t *testing.T) {
	image := dockertest.Image(t)
	const n, maxSize = 300, 100 << 10
	src, c, _ := start(t, gelf.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", JoinDockerLines: true}, nil)
	seen := 0
	for _, addr := range []string{"udp://" + src.UDPAddr().String(), "tcp://" + src.TCPAddr().String()} {
		name := fmt.Sprintf("qwatch-join-%s-%d", addr[:3], time.Now().UnixNano())
		dockertest.Docker(t, "run", "--rm", "--name", name, "--network", "none", "--log-driver", "gelf",
			"--log-opt", "gelf-address="+addr, image, "/logger", "-id", name, "-n", fmt.Sprint(n),
			"-min", "10", "-max", fmt.Sprint(maxSize), "-stream", "both", "-every", "200us")
		all := wait(t, c, seen+n)
		got := map[string][]string{}
		for _, m := range all[seen:] {
			stream := map[int]string{6: "stdout", 3: "stderr"}[int(m.Level)]
			got[stream] = append(got[stream], m.Text)
		}
		seen = len(all)
		for i := range n {
			stream := lines.Stream(i)
			want := lines.Line(name, stream, i, lines.Size(i, 10, maxSize))
			if len(got[stream]) <= i/2 || got[stream][i/2] != want {
				t.Fatalf("%s: line %d of %s did not arrive whole", addr, i, stream)
			}
		}
	}
	if st := src.Stats(); st.JoinedPieces == 0 {
		t.Errorf("no pieces joined: %+v", st)
	}
}

// TestJoinWaitsOutBackpressure: pieces wait for the rest of their line while the reader is
// held up by a slow emit (full sinks), and go out alone only when the socket is idle.
func TestJoinWaitsOutBackpressure(t *testing.T) {
	const joinWait = time.Second
	var running atomic.Pointer[gelf.Source]
	src, c, _ := start(t, gelf.Config{UDPAddr: "127.0.0.1:0", JoinDockerLines: true, JoinWait: joinWait}, func(m message.Message) {
		if m.Container.ID != "slow" {
			return
		}
		// Held up until the rest of the line has been read, and for longer than the joiner's
		// wait (at most ten seconds: past that the test fails on what it got).
		held := time.Now()
		for time.Since(held) < 10*time.Second && (running.Load().Stats().Datagrams < 3 || time.Since(held) < 2*joinWait) {
			time.Sleep(time.Millisecond)
		}
	})
	running.Store(src)
	conn, err := net.Dial("udp", src.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	long := strings.Repeat("x", gelf.DockerLineLimit) + "rest"
	for _, p := range []string{
		piece("c1", 6, "5.001", long[:gelf.DockerLineLimit]),
		piece("slow", 6, "5.001", "held up"),
		piece("c1", 6, "5.001", long[gelf.DockerLineLimit:]),
	} {
		conn.Write([]byte(p))
	}
	got := wait(t, c, 2)
	if len(got) != 2 || got[1].Text != long {
		t.Errorf("got %d messages; the split line was not joined across the slow emit", len(c.Messages()))
	}
}
