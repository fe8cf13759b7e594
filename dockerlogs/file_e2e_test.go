package dockerlogs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/internal/dockertest/lines"
	"github.com/qnib/qwatch/message"
)

// fileName is a container name of these tests: unique, and telling what made it.
func fileName(kind string) string {
	return fmt.Sprintf("file-%s-%d", kind, time.Now().UnixNano()%1e9)
}

// checkInOrder checks that msgs are the logger's n numbered stdout lines of size lines
// sized from minSize to maxSize, each once and in order.
func checkInOrder(t *testing.T, msgs []message.Message, id string, n, minSize, maxSize int) {
	t.Helper()
	if len(msgs) != n {
		t.Errorf("%d lines, want %d", len(msgs), n)
	}
	for i, m := range msgs[:min(n, len(msgs))] {
		if want := lines.Line(id, "stdout", i, lines.Size(i, minSize, maxSize)); m.Text != want {
			t.Fatalf("line %d = %.40q…, want %.40q…", i, m.Text, want)
		}
	}
}

// A container on the real engine prints fast enough for the engine to rotate its json-file
// about 20 times (max-size 1m, max-file 5): the Source reads it from the file, every line once
// and in order, 16 KiB pieces joined.
func TestFileRotationOnTheEngine(t *testing.T) {
	image := dockertest.Image(t)
	r := start(t, dockerlogs.Config{MultilineRule: multiline.Off})
	name := fileName("rotate")
	// 21 MB of json-file: about 20 rotations, paced to at most 3.5 MB/s, so that on a loaded
	// machine the reader does not fall the ten files (10 MB) behind after which the engine
	// deletes a file before it is read (counted in Stats.FellBehind, checked below).
	const n = 6000
	dockertest.Docker(t, "run", "-d", "--name", name, "--network", "none", "--log-opt", "max-size=1m", "--log-opt", "max-file=10",
		image, "/logger", "-id", "rot", "-n", fmt.Sprint(n), "-min", "50", "-max", "20000", "-every", "1ms")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	got := r.waitDone(t, idOf(t, name), name, n)
	if st := r.src.Stats(); st.FellBehind != 0 {
		t.Logf("the reader fell behind the engine's rotation %d times", st.FellBehind)
	}
	checkInOrder(t, got, "rot", n, 50, 20000)
	if st := r.src.Stats(); st.FileReads == 0 || st.Joined == 0 || st.FileErrors != 0 {
		t.Errorf("stats %+v: not read from the file, or no piece joined", st)
	}
	path := strings.TrimSpace(dockertest.Docker(t, "inspect", "-f", "{{.LogPath}}", name))
	if _, err := os.Stat(path + ".4"); err != nil {
		t.Errorf("the engine did not rotate the file 4 times: %v", err)
	}
}

// The Source is killed (no checkpoint written from some point on, and none at exit) while a
// container prints into a rotating file, and a new Source takes over from the checkpoint's
// file place: stored by ID, every line once.
func TestFileKilledMidStream(t *testing.T) {
	image := dockertest.Image(t)
	state := t.TempDir()
	var frozen atomic.Bool
	flush := func(context.Context) error {
		if frozen.Load() {
			return errors.New("killed")
		}
		return nil
	}
	r1 := start(t, dockerlogs.Config{StateDir: state, Flush: flush, MultilineRule: multiline.Off})
	name := fileName("kill")
	const n = 20000
	dockertest.Docker(t, "run", "-d", "--name", name, "--network", "none", "--log-opt", "max-size=200k", "--log-opt", "max-file=10",
		image, "/logger", "-id", "kill", "-n", fmt.Sprint(n), "-every", "100us")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	id := idOf(t, name)
	r1.waitLines(t, name, 3000)
	waitUntil(t, "a checkpoint", func() bool { return readCheckpoint(t, state, id) != nil })
	frozen.Store(true)
	r1.waitLines(t, name, 6000)
	r1.stop()
	first := of(r1.c.Messages(), name)
	r2 := start(t, dockerlogs.Config{StateDir: state, MultilineRule: multiline.Off})
	second := r2.waitDone(t, id, name, 1)
	docs := stored(t, first, second)
	if len(docs) != n {
		t.Errorf("%d lines stored, want %d", len(docs), n)
	}
	checkNumberedDocs(t, docs, "kill", n)
	// Other packages' tests share the engine, so the counters take in their containers too:
	// the checkpoint says that this container's read resumes at a place in its file.
	r2.stop()
	if p := checkpointFile(t, state, id); p.Ino == 0 || p.Offset == 0 {
		t.Errorf("checkpoint's file place %+v: not read from the file", p)
	}
	t.Logf("first Source %d lines, second %d, %d emitted twice", len(first), len(second), len(first)+len(second)-len(docs))
}

// checkpointFile returns the file place of the container's checkpoint in state.
func checkpointFile(t *testing.T, state, id string) (p struct{ Ino, Offset int64 }) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var ck struct{ File *struct{ Ino, Offset int64 } }
	if err := json.Unmarshal(data, &ck); err != nil {
		t.Fatal(err)
	}
	if ck.File != nil {
		p = *ck.File
	}
	return p
}

// checkNumberedDocs checks that the stored documents are the logger's n numbered lines.
func checkNumberedDocs(t *testing.T, docs map[string]string, id string, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, text := range docs {
		seen[text]++
	}
	for i := range n {
		if want := lines.Line(id, "stdout", i, 10); seen[want] != 1 {
			t.Fatalf("line %d stored %d times", i, seen[want])
		}
	}
}
