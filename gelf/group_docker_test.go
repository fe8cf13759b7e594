package gelf_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/internal/dockertest"
)

// scriptBlock is a block of lines a container prints in one write: a plain line or a trace
// (kind is its multiline kind), on stdout or stderr.
type scriptBlock struct {
	stream, kind string
	text         string // as printed, empty lines and all
}

// traceFile returns a trace a real runtime printed, as it printed it, from the grouping
// package's testdata.
func traceFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../filter/multiline/testdata/traces/" + name + ".txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDockerGELFDriverMultiline runs a container that prints traces real runtimes printed
// (a Java exception with its causes, a Python exception group, a Go panic on stderr, a Node
// error with its cause) between plain lines, each block in one write and 600 ms after the
// one before, through Docker's own GELF driver (gzip, its default) over UDP and over TCP.
// Each trace must arrive as one message whose text is the trace without its empty lines,
// which the driver does not send, and each plain line alone.
func TestDockerGELFDriverMultiline(t *testing.T) {
	runScript(t, []scriptBlock{
		{"stdout", "", "INFO service starting\n"},
		{"stdout", "java", traceFile(t, "java-printstacktrace")},
		{"stdout", "", "INFO request 18 served\n"},
		{"stdout", "python", traceFile(t, "python-group")},
		{"stderr", "", "WARN retrying\n"},
		{"stderr", "go", traceFile(t, "go-panic")},
		{"stdout", "", "INFO restarted\n"},
		{"stdout", "node", traceFile(t, "node-console-cause")},
		{"stdout", "", "INFO done\n"},
	})
}

// TestDockerGELFDriverMultilineBlankLines: traces whose runtime prints blank lines inside
// them (a Python chained traceback, a Node uncaught error's preamble) arrive without those
// lines over GELF, and must still be one message each.
func TestDockerGELFDriverMultilineBlankLines(t *testing.T) {
	runScript(t, []scriptBlock{
		{"stdout", "", "INFO service starting\n"},
		{"stdout", "python", traceFile(t, "python-logged-cause")},
		{"stdout", "", "INFO restarted\n"},
		{"stdout", "node", traceFile(t, "node-uncaught")},
		{"stdout", "", "INFO done\n"},
	})
}

// runScript has a container print script's blocks through Docker's GELF driver, over UDP
// and over TCP, and checks that each block arrives as one message, in order per stream.
func runScript(t *testing.T, script []scriptBlock) {
	image := dockertest.Image(t)
	var stdin strings.Builder
	want := map[string][]string{}
	kinds := map[string]string{}
	for _, b := range script {
		fmt.Fprintf(&stdin, "\f%s\n%s", b.stream, b.text)
		var lines []string
		for _, l := range strings.Split(strings.TrimSuffix(b.text, "\n"), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
		text := strings.Join(lines, "\n")
		want[b.stream] = append(want[b.stream], text)
		kinds[text] = b.kind
	}
	// The engine stamps each line as its copier reads it, so on a loaded machine the lines of
	// one write can be stamped tens of milliseconds apart, past the default Intro of 20 ms
	// (seen on the logs path: a Java trace's introducing line split off). The windows are
	// widened, the blocks kept apart by more than Intro and less than Gap: the rules under test
	// are the same.
	cfg := gelf.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0",
		Multiline: multiline.Config{Intro: 400 * time.Millisecond, Gap: 1500 * time.Millisecond, Idle: 4 * time.Second}}
	src, c, _ := start(t, cfg, nil)
	seen := 0
	for _, addr := range []string{"udp://" + src.UDPAddr().String(), "tcp://" + src.TCPAddr().String()} {
		t.Run(addr[:3], func(t *testing.T) {
			name := fmt.Sprintf("qwatch-multiline-%s-%d", addr[:3], time.Now().UnixNano())
			dockertest.DockerInput(t, stdin.String(), "run", "-i", "--rm", "--name", name, "--network", "none",
				"--log-driver", "gelf", "--log-opt", "gelf-address="+addr, image, "/logger", "-blocks", "-every", "600ms")
			all := wait(t, c, seen+len(script))
			got := map[string][]string{}
			for _, m := range all[seen:] {
				stream := map[int]string{6: "stdout", 3: "stderr"}[int(m.Level)]
				got[stream] = append(got[stream], m.Text)
				kind, _ := m.Fields[multiline.FieldKind].(string)
				if m.Container.Name != name || kind != kinds[m.Text] {
					t.Errorf("%s %.40q…: container %s, multiline kind %q; want %s, %q", stream, m.Text, m.Container.Name, kind, name, kinds[m.Text])
				}
			}
			seen = len(all)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("messages by stream (-want +got):\n%s", diff)
			}
		})
	}
}
