package dockerlogs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/message"
)

// The tests of the fake engine run again with the containers' logs read from their
// json-files: every guarantee holds on both readers. (Not TestFakeDrainAfterAShortFollow: the
// logs endpoint's fault it is about does not touch a file.)
func TestFakeFileReader(t *testing.T) {
	for _, tt := range []struct {
		name string
		test func(*testing.T)
	}{
		{"EveryLineWithFields", TestFakeEveryLineWithFields},
		{"ResumeAtTheExactLine", TestFakeResumeAtTheExactLine},
		{"CheckpointOnlyAfterFlush", TestFakeCheckpointOnlyAfterFlush},
		{"Pieces", TestFakePieces},
		{"TTY", TestFakeTTY},
		{"Selection", TestFakeSelection},
		{"UnreadableDriverSaidByTheEngine", TestFakeUnreadableDriverSaidByTheEngine},
		{"CheckpointsExpire", TestFakeCheckpointsExpire},
		{"AttachErrors", TestFakeAttachErrors},
		{"QuickRmContainer", TestFakeQuickRmContainer},
		{"BackfillsAreLimited", TestFakeBackfillsAreLimited},
		{"RunWaitsForTheEngine", TestFakeRunWaitsForTheEngine},
		{"SourceConformance", TestFakeSourceConformance},
		{"CorruptCheckpoint", TestFakeCorruptCheckpoint},
		{"StoppedWhileNoSourceRan", TestFakeStoppedWhileNoSourceRan},
		{"MultilineRecordedTraces", TestFakeMultilineRecordedTraces},
		{"MultilineLabels", TestFakeMultilineLabels},
		{"MultilineIdle", TestFakeMultilineIdle},
		{"MultilineQuickRmContainer", TestFakeMultilineQuickRmContainer},
		{"MultilineStopMidTrace", TestFakeMultilineStopMidTrace},
		{"MultilineCrashMidTrace", TestFakeMultilineCrashMidTrace},
	} {
		t.Run(tt.name, func(t *testing.T) {
			readFiles = true
			defer func() { readFiles = false }()
			tt.test(t)
		})
	}
}

// startFile starts a Source that reads the fake's json-files, which it writes under a
// directory of the test's.
func startFile(t *testing.T, f *dockertest.Fake, cfg dockerlogs.Config, gate chan struct{}) *running {
	t.Helper()
	f.WriteLogFiles(t.TempDir())
	cfg.Reader = dockerlogs.ReaderFile
	return startFakeGated(t, f, cfg, gate)
}

// numbered returns n lines from first on, a microsecond apart, on stdout and every third on
// stderr.
func numbered(t0 time.Time, first, n int) []dockertest.Line {
	var out []dockertest.Line
	for i := first; i < first+n; i++ {
		stream := "stdout"
		if i%3 == 0 {
			stream = "stderr"
		}
		out = append(out, dockertest.Line{Time: t0.Add(time.Duration(i) * time.Microsecond), Stream: stream, Text: fmt.Sprint("line ", i)})
	}
	return out
}

// checkOnce checks that the messages are the lines fed, in order in each stream, each once.
func checkOnce(t *testing.T, got []message.Message, want []dockertest.Line) {
	t.Helper()
	checkLines(t, got, want)
	ids := map[string]bool{}
	for _, m := range got {
		if ids[m.ID] {
			t.Errorf("ID %s (%q) twice", m.ID, m.Text)
		}
		ids[m.ID] = true
	}
}

// The file is rotated three times while the reader is held back by emit, and again while it
// follows: the rotated files are read oldest first, each to its end, then the new one; every
// line once, in order.
func TestFakeFileRotation(t *testing.T) {
	f := dockertest.NewFake(t)
	gate := make(chan struct{})
	r := startFile(t, f, dockerlogs.Config{MultilineRule: multiline.Off}, gate)
	id := f.Run(dockertest.Container{Name: "rotating"})
	t0 := at()
	var fed []dockertest.Line
	log := func(n int) {
		lines := numbered(t0, len(fed), n)
		f.Log(id, lines...)
		fed = append(fed, lines...)
	}
	log(100)
	waitUntil(t, "the reader held by emit", func() bool { return r.src.Stats().FileReads == 1 })
	for range 3 {
		f.RotateLog(id, 5)
		log(3000)
	}
	close(gate)
	r.waitLines(t, "rotating", len(fed))
	for range 3 {
		f.RotateLog(id, 5)
		log(10)
		r.waitLines(t, "rotating", len(fed))
	}
	f.Stop(id)
	checkOnce(t, r.waitDone(t, id, "rotating", len(fed)), fed)
	if st := r.src.Stats(); st.FileReads != 1 || st.APIReads != 0 || st.FileErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// appendRaw appends json-file entries, or parts of them, to a file.
func appendRaw(t *testing.T, path string, data string) {
	t.Helper()
	file, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := file.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

// entry is a json-file entry as the engine writes it.
func entry(t *testing.T, stream, text string, at time.Time) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"log": text, "stream": stream, "time": at.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// What the engine is writing when the reader gets there: a last line written in two parts,
// a 16 KiB piece of a line in one file and the rest in the next, a file truncated and written
// again from its start. Each line comes once and whole.
func TestFakeFileEdges(t *testing.T) {
	f := dockertest.NewFake(t)
	r := startFile(t, f, dockerlogs.Config{MultilineRule: multiline.Off}, nil)
	id := f.Run(dockertest.Container{Name: "edges"})
	path := f.LogPath(id)
	t0 := at()
	var want []dockertest.Line
	line := func(text string, i int) string {
		want = append(want, dockertest.Line{Time: t0.Add(ms(i)), Stream: "stdout", Text: text})
		return entry(t, "stdout", text+"\n", t0.Add(ms(i)))
	}

	before := line("before", 0)
	half := line("written in two parts", 1)
	appendRaw(t, path, before+half[:20])
	r.waitLines(t, "edges", 1)
	appendRaw(t, path, half[20:])
	r.waitLines(t, "edges", 2)

	long := strings.Repeat("0123456789abcdef", 1500)
	want = append(want, dockertest.Line{Time: t0.Add(ms(2)), Stream: "stdout", Text: long})
	mid := dockertest.Line{Time: t0.Add(ms(2)), Stream: "stderr", Text: "on stderr while the line is cut"}
	want = append(want, mid)
	// The stderr line is read after the first piece: once it is emitted, the piece is read.
	appendRaw(t, path, entry(t, "stdout", long[:dockertest.PieceSize], t0.Add(ms(2)))+entry(t, "stderr", mid.Text+"\n", mid.Time))
	r.waitLines(t, "edges", 3)
	f.RotateLog(id, 3)
	appendRaw(t, path, entry(t, "stdout", long[dockertest.PieceSize:]+"\n", t0.Add(ms(2)))+line("after the rotation", 3))
	r.waitLines(t, "edges", 5)

	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendRaw(t, path, line("after truncation", 4))
	r.waitLines(t, "edges", 6)
	f.Stop(id)
	checkOnce(t, r.waitDone(t, id, "edges", len(want)), want)
	if st := r.src.Stats(); st.Joined != 1 || st.FileErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// One container's lines are read in turns by the API reader and the file reader, on one
// state directory; two turns end as a kill -9 ends them (lines emitted after the last
// checkpoint), three cleanly, one of them between two lines at one time stamp, and the file is rotated between turns. Stored by ID, the lines
// are those of one uninterrupted read, each once and the same: the readers derive the same
// IDs and take up each other's checkpoints.
func TestFakeFileAPISwitch(t *testing.T) {
	f := dockertest.NewFake(t)
	f.WriteLogFiles(t.TempDir())
	whole := startFake(t, f, dockerlogs.Config{Reader: dockerlogs.ReaderAPI})
	state := t.TempDir()
	var frozen atomic.Bool
	flush := func(context.Context) error {
		if frozen.Load() {
			return errors.New("killed")
		}
		return nil
	}
	turn := func(reader string) *running {
		return startFake(t, f, dockerlogs.Config{StateDir: state, Flush: flush, Reader: reader})
	}
	r := turn(dockerlogs.ReaderAPI)
	id := f.Run(dockertest.Container{Name: "switch"})
	t0 := at()
	var fed []dockertest.Line
	// Lines two at a time stamp, so that their ordinals count.
	log := func(n int) {
		for range n {
			i := len(fed)
			stream := map[bool]string{true: "stderr", false: "stdout"}[i%5 == 0]
			l := dockertest.Line{Time: t0.Add(time.Duration(i/2) * time.Microsecond), Stream: stream, Text: fmt.Sprint("line ", i)}
			f.Log(id, l)
			fed = append(fed, l)
		}
	}
	// covered waits until the checkpoint is at the last line of each stream.
	covered := func() {
		t.Helper()
		want := map[string]dockertest.Line{}
		for _, l := range fed {
			p := want[l.Stream]
			n := 1
			if p.Time.Equal(l.Time) {
				fmt.Sscan(p.Text, &n)
				n++
			}
			want[l.Stream] = dockertest.Line{Time: l.Time, Stream: l.Stream, Text: fmt.Sprint(n)}
		}
		waitUntil(t, "the checkpoint at the last lines", func() bool { return cmp.Equal(want, readCheckpoint(t, state, id)) })
	}
	var runs [][]message.Message
	kill := func(r *running) {
		covered()
		frozen.Store(true)
		log(40)
		last := map[string]string{}
		for _, l := range fed {
			last[l.Stream] = l.Text
		}
		waitUntil(t, "the lines after the checkpoint emitted", func() bool {
			n := 0
			for _, m := range of(r.c.Messages(), "switch") {
				if last[m.Fields["stream"].(string)] == m.Text {
					n++
				}
			}
			return n == len(last)
		})
		r.stop()
		frozen.Store(false)
		runs = append(runs, r.c.Messages())
	}

	log(60)
	r.waitLines(t, "switch", 60)
	kill(r)

	r = turn(dockerlogs.ReaderFile) // from the API's checkpoint, which has no file place
	log(63)                         // the turn ends between two stdout lines at one time stamp
	covered()
	r.stop()
	runs = append(runs, r.c.Messages())

	r = turn(dockerlogs.ReaderFile) // from its own exact place: the next line's ordinal is 1
	log(60)
	covered()
	r.stop()
	runs = append(runs, r.c.Messages())

	r = turn(dockerlogs.ReaderAPI)
	log(60)
	kill(r)

	f.RotateLog(id, 5)
	r = turn(dockerlogs.ReaderFile) // from the file place the first file turn left
	log(60)
	f.Stop(id)
	r.waitDone(t, id, "switch", 1)
	runs = append(runs, r.c.Messages())

	want := whole.waitDone(t, id, "switch", len(fed))
	checkOnce(t, want, fed)
	if diff := cmp.Diff(stored(t, want), stored(t, runs...)); diff != "" {
		t.Errorf("stored by ID (-one uninterrupted read +in turns):\n%s", diff)
	}
	if st := r.src.Stats(); st.FileReads != 1 || st.APIReads != 0 {
		t.Errorf("last turn's stats %+v", st)
	}
}

// A reader held back while the engine rotates its file out of max-file and deletes the files
// after it unread says so: Stats.FellBehind, and it goes on with the files that are left.
func TestFakeFileFellBehind(t *testing.T) {
	f := dockertest.NewFake(t)
	gate := make(chan struct{})
	r := startFile(t, f, dockerlogs.Config{MultilineRule: multiline.Off}, gate)
	id := f.Run(dockertest.Container{Name: "behind"})
	t0 := at()
	var fed []dockertest.Line
	log := func(n int) []dockertest.Line {
		lines := numbered(t0, len(fed), n)
		f.Log(id, lines...)
		fed = append(fed, lines...)
		return lines
	}
	log(100)
	waitUntil(t, "the reader held by emit", func() bool { return r.src.Stats().FileReads == 1 })
	// max-file 2: each rotation deletes the file before it, so the reader's file and the
	// files after it go; only the last rotated file and the new one are left.
	var kept []dockertest.Line
	for i := range 4 {
		f.RotateLog(id, 2)
		lines := log(10)
		if i >= 2 {
			kept = append(kept, lines...)
		}
	}
	close(gate)
	r.waitLines(t, "behind", 100+len(kept))
	if st := r.src.Stats(); st.FellBehind != 1 {
		t.Errorf("FellBehind = %d, want 1 (stats %+v)", st.FellBehind, st)
	}
	got := of(r.c.Messages(), "behind")
	for i, l := range kept {
		if m := got[len(got)-len(kept)+i]; m.Text != l.Text {
			t.Fatalf("line %d after falling behind = %q, want %q", i, m.Text, l.Text)
		}
	}
}
