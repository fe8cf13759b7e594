package dockertest_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/internal/dockertest/lines"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stamp is the engine's time stamp: RFC 3339, nine digits of nanoseconds, UTC.
var stamp = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z `)

// shape reads a logs answer (with time stamps) into its entries per stream ("1" stdout, "2"
// stderr, "raw" for a terminal's stream without frames), each time stamp replaced by T and
// its number among the distinct stamps of the stream, so that answers of two engines compare
// however their clocks differ.
func shape(t *testing.T, body []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	stamps := map[string]map[string]int{}
	norm := func(stream, s string) string {
		if stamps[stream] == nil {
			stamps[stream] = map[string]int{}
		}
		return stamp.ReplaceAllStringFunc(s, func(ts string) string {
			n, ok := stamps[stream][ts]
			if !ok {
				n = len(stamps[stream])
				stamps[stream][ts] = n
			}
			return fmt.Sprintf("T%d ", n)
		})
	}
	if len(body) >= 8 && body[0] <= 2 && bytes.Equal(body[1:4], []byte{0, 0, 0}) {
		for len(body) > 0 {
			if len(body) < 8 {
				t.Fatalf("%d bytes after the last frame", len(body))
			}
			stream, size := fmt.Sprint(body[0]), int(binary.BigEndian.Uint32(body[4:8]))
			if len(body) < 8+size {
				t.Fatalf("a frame of %d bytes with %d left", size, len(body)-8)
			}
			entry := string(body[8 : 8+size])
			if !stamp.MatchString(entry) || stamp.FindStringIndex(entry)[0] != 0 {
				t.Fatalf("entry without a leading time stamp: %.80q", entry)
			}
			out[stream] = append(out[stream], norm(stream, entry))
			body = body[8+size:]
		}
		return out
	}
	out["raw"] = []string{norm("raw", string(body))}
	return out
}

func readLogs(t *testing.T, c *client.Client, id string) []byte {
	t.Helper()
	body, err := c.ContainerLogs(context.Background(), id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The fake sends logs as the real engine does: stdcopy frames, a time stamp per entry, lines
// cut into 16 KiB pieces that share the line's stamp, json-file's newlines and the local
// driver's lack of them, a terminal's carriage returns in a stream without frames.
func TestFakeLikeEngine(t *testing.T) {
	image := dockertest.Image(t)
	engine := dockertest.Engine(t)
	for _, tt := range []struct {
		name, driver     string
		tty              bool
		n, minSize, maxS int
		stream           string
	}{
		{"json-file", "json-file", false, 3, 10, 40000, "both"},
		{"json-file one piece exactly", "json-file", false, 1, dockertest.PieceSize, dockertest.PieceSize, "stdout"},
		{"local", "local", false, 3, 10, 40000, "both"},
		{"local one piece exactly", "local", false, 1, dockertest.PieceSize, dockertest.PieceSize, "stdout"},
		{"tty", "json-file", true, 3, 10, 40000, "stdout"},
		{"tty local", "local", true, 3, 10, 40000, "stdout"},
		// With the terminal's carriage return the line fills a piece exactly.
		{"tty one piece exactly", "json-file", true, 1, dockertest.PieceSize - 1, dockertest.PieceSize - 1, "stdout"},
		{"tty local one piece exactly", "local", true, 1, dockertest.PieceSize - 1, dockertest.PieceSize - 1, "stdout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("qwatch-fake-%d", time.Now().UnixNano())
			args := []string{"run", "--name", name, "--network", "none", "--log-driver", tt.driver}
			if tt.tty {
				args = append(args, "-t")
			}
			args = append(args, image, "/logger", "-id", "f", "-n", fmt.Sprint(tt.n), "-min", fmt.Sprint(tt.minSize),
				"-max", fmt.Sprint(tt.maxS), "-stream", tt.stream)
			dockertest.Docker(t, args...)
			t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
			real := shape(t, readLogs(t, engine, name))

			fake := dockertest.NewFake(t)
			id := fake.Add(dockertest.Container{Name: name, Driver: tt.driver, TTY: tt.tty})
			at := time.Now()
			for i := range tt.n {
				stream := tt.stream
				if stream == "both" {
					stream = lines.Stream(i)
				}
				fake.Log(id, dockertest.Line{Time: at.Add(time.Duration(i) * time.Microsecond), Stream: stream,
					Text: lines.Line("f", stream, i, lines.Size(i, tt.minSize, tt.maxS))})
			}
			if diff := cmp.Diff(real, shape(t, readLogs(t, fake.Client(), id))); diff != "" {
				t.Errorf("the fake's logs differ from the engine's (-engine +fake):\n%s", shorten(diff))
			}
		})
	}
}

// shorten keeps a diff of 16 KiB lines readable.
func shorten(diff string) string {
	var b strings.Builder
	for line := range strings.Lines(diff) {
		if len(line) > 200 {
			line = line[:100] + fmt.Sprintf(" …(%d bytes)… ", len(line)-200) + line[len(line)-100:]
		}
		b.WriteString(line)
	}
	return b.String()
}
