package dockerlogs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

// The tests in this file run the Source on a fake engine: no engine needed, and every time
// stamp, piece and fault chosen by the test.

// startFake starts a Source on the fake engine; SelfID is "none" unless cfg sets it.
func startFake(t *testing.T, f *dockertest.Fake, cfg dockerlogs.Config) *running {
	t.Helper()
	return startFakeGated(t, f, cfg, nil)
}

// readFiles, set while TestFakeFileReader runs the tests again, has the fake write each
// json-file container's log to a file, and the Source read it from there.
var readFiles bool

func startFakeGated(t *testing.T, f *dockertest.Fake, cfg dockerlogs.Config, gate chan struct{}) *running {
	t.Helper()
	if readFiles {
		f.WriteLogFiles(t.TempDir())
		cfg.Reader = dockerlogs.ReaderFile
	}
	cfg.Client = f.Client()
	if cfg.SelfID == "" {
		cfg.SelfID = "none"
	}
	return startGated(t, cfg, gate)
}

// asLines returns what the messages say as the fake's lines, to compare with those fed.
func asLines(msgs []message.Message) []dockertest.Line {
	out := []dockertest.Line{}
	for _, m := range msgs {
		stream, _ := m.Fields["stream"].(string)
		out = append(out, dockertest.Line{Time: m.Time, Stream: stream, Text: m.Text})
	}
	return out
}

// checkLines compares the lines emitted with those wanted, in order in each stream: each
// stream is grouped on its own, so a stream's line may come out before the other stream's
// line before it.
func checkLines(t *testing.T, msgs []message.Message, want []dockertest.Line) {
	t.Helper()
	if diff := cmp.Diff(byStream(want), byStream(asLines(msgs))); diff != "" {
		if len(diff) > 4000 {
			diff = diff[:4000] + "…"
		}
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// byStream returns the lines of each stream, in order.
func byStream(lines []dockertest.Line) map[string][]dockertest.Line {
	out := map[string][]dockertest.Line{}
	for _, l := range lines {
		out[l.Stream] = append(out[l.Stream], l)
	}
	return out
}

// at is the base time of the tests' lines: a minute ago, so that a read until now has them.
func at() time.Time { return time.Now().Add(-time.Minute) }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// A container started while the Source runs is read from its first line: stdout at level
// info, stderr at level err, lines at the same nanosecond each once, a line cut into pieces
// whole, with the container's fields.
func TestFakeEveryLineWithFields(t *testing.T) {
	f := dockertest.NewFake(t)
	r := startFake(t, f, dockerlogs.Config{})
	c := dockertest.Container{Name: "web-1", Image: "nginx:1.27", Labels: map[string]string{"app": "web"},
		Cmd: []string{"/web", "-port", "80"}}
	id := f.Run(c)
	t0 := at()
	fed := []dockertest.Line{
		{Time: t0, Stream: "stdout", Text: "first"},
		{Time: t0.Add(ms(1)), Stream: "stderr", Text: "an error"},
		{Time: t0.Add(ms(1)), Stream: "stdout", Text: "same nanosecond as the error"},
		{Time: t0.Add(ms(2)), Stream: "stdout", Text: "twice at one time"},
		{Time: t0.Add(ms(2)), Stream: "stdout", Text: "twice at one time"},
		{Time: t0.Add(ms(3)), Stream: "stdout", Text: strings.Repeat("x", 40000)},
		{Time: t0.Add(ms(4)), Stream: "stderr", Text: "last"},
	}
	f.Log(id, fed...)
	f.Stop(id)
	got := r.waitDone(t, id, "web-1", len(fed))
	checkLines(t, got, fed)
	ids := map[string]bool{}
	for _, m := range got {
		ids[m.ID] = true
		wantLevel := map[string]message.Level{"stdout": message.LevelInfo, "stderr": message.LevelErr}[m.Fields["stream"].(string)]
		if m.Level != wantLevel || m.Kind != message.KindLog || m.Host != "fakehost" || len(m.ID) != message.IDLen {
			t.Errorf("line %q: level %v, kind %v, host %q, ID %q", m.Text[:min(20, len(m.Text))], m.Level, m.Kind, m.Host, m.ID)
		}
		want := message.Container{ID: id, Name: "web-1", ImageName: "nginx:1.27", ImageID: m.Container.ImageID,
			Command: "/web -port 80", Created: m.Container.Created, Labels: map[string]string{"app": "web"}}
		if diff := cmp.Diff(want, m.Container); diff != "" || !strings.HasPrefix(m.Container.ImageID, "sha256:") || m.Container.Created.IsZero() {
			t.Errorf("container fields (-want +got):\n%s", diff)
		}
	}
	if len(ids) != len(fed) {
		t.Errorf("%d distinct IDs for %d lines", len(ids), len(fed))
	}
	if st := r.src.Stats(); st.Lines != uint64(len(fed)) || st.Joined != 1 || st.Truncated != 0 || st.AttachErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// After a restart of the Source, a running container resumes exactly after the last line
// taken, even when that line shares its nanosecond with lines before and after it.
func TestFakeResumeAtTheExactLine(t *testing.T) {
	f := dockertest.NewFake(t)
	state := t.TempDir()
	r1 := startFake(t, f, dockerlogs.Config{StateDir: state})
	id := f.Run(dockertest.Container{Name: "app"})
	t0 := at()
	before := []dockertest.Line{
		{Time: t0, Stream: "stdout", Text: "1"},
		{Time: t0.Add(ms(1)), Stream: "stdout", Text: "2"},
		{Time: t0.Add(ms(2)), Stream: "stdout", Text: "3 at T"},
		{Time: t0.Add(ms(2)), Stream: "stdout", Text: "4 at T"},
		{Time: t0.Add(ms(2)), Stream: "stderr", Text: "on stderr at T"},
	}
	f.Log(id, before...)
	r1.waitLines(t, "app", len(before))
	r1.stop()
	checkLines(t, r1.c.Messages(), before)
	var ck struct {
		Streams map[string]struct {
			Time  time.Time
			Count int
		}
	}
	data, err := os.ReadFile(filepath.Join(state, id+".json"))
	if err != nil {
		t.Fatalf("no checkpoint after Run returned: %v", err)
	}
	if err := json.Unmarshal(data, &ck); err != nil {
		t.Fatal(err)
	}
	if out := ck.Streams["stdout"]; !out.Time.Equal(t0.Add(ms(2))) || out.Count != 2 {
		t.Errorf("stdout checkpoint %+v, want the time of 3 and 4 and count 2", out)
	}

	after := []dockertest.Line{
		{Time: t0.Add(ms(2)), Stream: "stdout", Text: "5 at T, written while no Source ran"},
		{Time: t0.Add(ms(3)), Stream: "stdout", Text: "6"},
		{Time: t0.Add(ms(3)), Stream: "stderr", Text: "on stderr after T"},
	}
	f.Log(id, after...)
	r2 := startFake(t, f, dockerlogs.Config{StateDir: state})
	r2.waitLines(t, "app", len(after))
	f.Log(id, dockertest.Line{Time: time.Now(), Stream: "stdout", Text: "7, followed"})
	after = append(after, dockertest.Line{Time: time.Now(), Stream: "stdout", Text: "7, followed"})
	f.Stop(id)
	got := r2.waitDone(t, id, "app", len(after))
	after[len(after)-1].Time = got[len(got)-1].Time
	checkLines(t, got, after)
	seen := map[string]bool{}
	for _, m := range append(r1.c.Messages(), got...) {
		if seen[m.ID] {
			t.Errorf("ID %s twice", m.ID)
		}
		seen[m.ID] = true
	}
	// Through the API the read resumes at T and skips what the checkpoint shows taken; from
	// the file it resumes at the exact offset, and nothing is read twice.
	if st := r2.src.Stats(); !readFiles && st.Resumed < 3 {
		t.Errorf("stats %+v: lines 3, 4 and the stderr line at T were not skipped by the checkpoint", st)
	} else if readFiles && (st.Resumed != 0 || st.FileReads != 1) {
		t.Errorf("stats %+v: not resumed at the file's exact place", st)
	}
}

// A checkpoint is written only after Flush says the lines it covers are safe. A line emitted
// after the last checkpoint is emitted again after a restart, with the same ID.
func TestFakeCheckpointOnlyAfterFlush(t *testing.T) {
	f := dockertest.NewFake(t)
	state := t.TempDir()
	var safe atomic.Bool
	var refused atomic.Int64
	flush := func(context.Context) error {
		if safe.Load() {
			return nil
		}
		refused.Add(1)
		return errors.New("not yet")
	}
	r1 := startFake(t, f, dockerlogs.Config{StateDir: state, Flush: flush})
	id := f.Run(dockertest.Container{Name: "flushed"})
	file := filepath.Join(state, id+".json")
	t0 := at()
	fed := []dockertest.Line{{Time: t0, Stream: "stdout", Text: "a"}, {Time: t0.Add(ms(1)), Stream: "stdout", Text: "b"}}
	f.Log(id, fed...)
	r1.waitLines(t, "flushed", 2)
	waitUntil(t, "a refused flush", func() bool { return refused.Load() > 0 })
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("checkpoint written though Flush refused: %v", err)
	}
	safe.Store(true)
	waitUntil(t, "the checkpoint", func() bool { _, err := os.Stat(file); return err == nil })
	saved, _ := os.ReadFile(file)

	more := []dockertest.Line{{Time: t0.Add(ms(2)), Stream: "stdout", Text: "c"}, {Time: t0.Add(ms(3)), Stream: "stdout", Text: "d"}}
	safe.Store(false)
	n := refused.Load()
	f.Log(id, more...)
	r1.waitLines(t, "flushed", 4)
	waitUntil(t, "a refused flush", func() bool { return refused.Load() > n })
	r1.stop() // its last Flush is refused too
	if now, _ := os.ReadFile(file); string(now) != string(saved) {
		t.Errorf("checkpoint %s, want still %s", now, saved)
	}

	r2 := startFake(t, f, dockerlogs.Config{StateDir: state})
	f.Stop(id)
	again := r2.waitDone(t, id, "flushed", 2)
	checkLines(t, again, more)
	first := of(r1.c.Messages(), "flushed")[2:]
	for i := range again {
		if again[i].ID != first[i].ID {
			t.Errorf("line %q emitted again with ID %s, first %s", again[i].Text, again[i].ID, first[i].ID)
		}
	}
}

// When a follow stream ends at the container's stop before its last lines (as the engine's
// sometimes does), the Source reads once more from where it got to, skipping what it took:
// every line comes once, also lines sharing a nanosecond across the seam.
func TestFakeDrainAfterAShortFollow(t *testing.T) {
	f := dockertest.NewFake(t)
	r := startFake(t, f, dockerlogs.Config{})
	id := f.Add(dockertest.Container{Name: "short"})
	f.SetFaults(id, dockertest.Faults{ShortFollow: 2})
	f.Start(id)
	t0 := at()
	fed := []dockertest.Line{
		{Time: t0, Stream: "stdout", Text: "1"},
		{Time: t0.Add(ms(1)), Stream: "stdout", Text: "2 at T"},
		{Time: t0.Add(ms(1)), Stream: "stdout", Text: "3 at T"},
		{Time: t0.Add(ms(1)), Stream: "stdout", Text: "4 at T"},
	}
	f.Log(id, fed...)
	r.waitLines(t, "short", 2)
	f.Stop(id)
	checkLines(t, r.waitDone(t, id, "short", len(fed)), fed)
	reqs := f.LogRequests(id)
	if len(reqs) != 2 || reqs[1].Get("follow") != "" || reqs[1].Get("since") == "" {
		t.Errorf("logs requests %v, want a follow and a read from a position", reqs)
	}
}

// The engine's 16 KiB pieces are put back together, whatever the driver and terminal;
// a line longer than MaxLineBytes is cut there and counted.
func TestFakePieces(t *testing.T) {
	sizes := []int{10, dockertest.PieceSize - 1, dockertest.PieceSize, dockertest.PieceSize + 1, 40000, 30000, 12}
	for _, tt := range []struct {
		name   string
		c      dockertest.Container
		max    int
		joined uint64
		cut    uint64
	}{
		{"json-file", dockertest.Container{Driver: "json-file"}, 0, 4, 0},
		{"local", dockertest.Container{Driver: "local"}, 0, 4, 0},
		// A terminal adds a carriage return: a line one byte short of a piece fills it.
		{"tty", dockertest.Container{TTY: true}, 0, 5, 0},
		{"tty local", dockertest.Container{TTY: true, Driver: "local"}, 0, 5, 0},
		{"cut at MaxLineBytes", dockertest.Container{}, 20000, 4, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := dockertest.NewFake(t)
			r := startFake(t, f, dockerlogs.Config{MaxLineBytes: tt.max})
			tt.c.Name = "pieces"
			id := f.Run(tt.c)
			t0 := at()
			var fed, want []dockertest.Line
			for i, n := range sizes {
				stream := "stdout"
				if i%2 == 1 && !tt.c.TTY {
					stream = "stderr"
				}
				l := dockertest.Line{Time: t0.Add(ms(i)), Stream: stream, Text: strings.Repeat(string(rune('a'+i)), n)}
				fed = append(fed, l)
				if tt.max > 0 && n > tt.max {
					l.Text = l.Text[:tt.max]
				}
				want = append(want, l)
			}
			f.Log(id, fed...)
			f.Stop(id)
			checkLines(t, r.waitDone(t, id, "pieces", len(fed)), want)
			if st := r.src.Stats(); st.Joined != tt.joined || st.Truncated != tt.cut {
				t.Errorf("joined %d, truncated %d; want %d and %d", st.Joined, st.Truncated, tt.joined, tt.cut)
			}
		})
	}
}

// A TTY container's lines lose the terminal's carriage return at their end, and only that.
func TestFakeTTY(t *testing.T) {
	f := dockertest.NewFake(t)
	r := startFake(t, f, dockerlogs.Config{})
	id := f.Run(dockertest.Container{Name: "tty", TTY: true})
	t0 := at()
	fed := []dockertest.Line{
		{Time: t0, Stream: "stdout", Text: "plain"},
		{Time: t0.Add(ms(1)), Stream: "stdout", Text: "50%\r75%\r100%"},
		{Time: t0.Add(ms(2)), Stream: "stdout", Text: ""},
		{Time: t0.Add(ms(3)), Stream: "stdout", Text: "after an empty line"},
	}
	f.Log(id, fed...)
	f.Stop(id)
	checkLines(t, r.waitDone(t, id, "tty", len(fed)), fed)
}

// Containers are skipped by label, name, driver and SelfID, each counted once, when it
// starts or is found running; listing again does not count them again.
func TestFakeSelection(t *testing.T) {
	f := dockertest.NewFake(t)
	long := time.Now().Add(-time.Hour) // running for long: every listing looks at them
	containers := []dockertest.Container{
		{Name: "kept", Started: long},
		{Name: "labelled", Labels: map[string]string{dockerlogs.EnableLabel: "False"}, Started: long},
		{Name: "skip-me", Started: long},
		{Name: "gelf", Driver: "gelf", Started: long},
		{Name: "syslog", Driver: "syslog", Started: long},
		{Name: "self", Started: long},
	}
	for _, c := range containers {
		f.Add(c)
	}
	r := startFake(t, f, dockerlogs.Config{ExcludeNames: []string{"skip-*"}, SelfID: dockertest.ID("self")[:12],
		RelistInterval: 20 * time.Millisecond})
	wantSkipped := map[string]uint64{"label": 1, "name": 1, "gelf_driver": 1, "unreadable_driver": 1, "self": 1}
	waitUntil(t, "a decision on each container", func() bool { return cmp.Equal(r.src.Stats().Skipped, wantSkipped) })
	lists := f.Requests("/containers/json")
	waitUntil(t, "three more listings", func() bool { return f.Requests("/containers/json") >= lists+3 })
	if diff := cmp.Diff(wantSkipped, r.src.Stats().Skipped); diff != "" {
		t.Errorf("skipped after more listings (-want +got):\n%s", diff)
	}

	// Started now: decided from the start event's attributes, or by inspecting.
	for _, c := range []dockertest.Container{
		{Name: "labelled-new", Labels: map[string]string{dockerlogs.EnableLabel: "false"}},
		{Name: "skip-new"},
		{Name: "gelf-new", Driver: "gelf"},
	} {
		f.Run(c)
	}
	id := f.Run(dockertest.Container{Name: "kept-new"})
	f.Log(id, dockertest.Line{Time: time.Now(), Stream: "stdout", Text: "hello"})
	r.waitLines(t, "kept-new", 1)
	waitUntil(t, "a decision on each new container", func() bool {
		st := r.src.Stats().Skipped
		return st["label"] == 2 && st["name"] == 2 && st["gelf_driver"] == 2
	})
	for _, m := range r.c.Messages() {
		if m.Container.Name != "kept-new" {
			t.Errorf("a line of %s", m.Container.Name)
		}
	}
}

// A container whose driver the engine cannot read back is skipped when the engine says so.
func TestFakeUnreadableDriverSaidByTheEngine(t *testing.T) {
	f := dockertest.NewFake(t)
	r := startFake(t, f, dockerlogs.Config{DualLogging: true})
	id := f.Add(dockertest.Container{Name: "syslog", Driver: "syslog"})
	f.SetFaults(id, dockertest.Faults{LogsStatus: 501, Message: "configured logging driver does not support reading"})
	f.Start(id)
	waitUntil(t, "the skip", func() bool { return r.src.Stats().Skipped["unreadable_driver"] == 1 })
	if st := r.src.Stats(); st.AttachErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// At its first listing the Source deletes the checkpoints of containers that no longer
// exist; a container's checkpoint goes when the container is destroyed.
func TestFakeCheckpointsExpire(t *testing.T) {
	f := dockertest.NewFake(t)
	state := t.TempDir()
	kept := f.Add(dockertest.Container{Name: "stopped"})
	gone := dockertest.ID("gone")
	ck := `{"streams":{"stdout":{"time":"2026-11-23T22:00:00Z","count":1}}}`
	for _, name := range []string{kept + ".json", gone + ".json", "notes.json"} {
		if err := os.WriteFile(filepath.Join(state, name), []byte(ck), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startFake(t, f, dockerlogs.Config{StateDir: state})
	var left []string
	entries, _ := os.ReadDir(state)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if diff := cmp.Diff([]string{kept + ".json", "notes.json"}, left); diff != "" {
		t.Errorf("state directory (-want +got):\n%s", diff)
	}
	f.Remove(kept)
	waitUntil(t, "the destroyed container's checkpoint to go", func() bool {
		_, err := os.Stat(filepath.Join(state, kept+".json"))
		return errors.Is(err, os.ErrNotExist)
	})
}

// Failures to inspect a container or read its logs are counted; after a stream broke the
// container is read on from where it got to, and every line comes once.
func TestFakeAttachErrors(t *testing.T) {
	for name, faults := range map[string]dockertest.Faults{
		"inspect": {InspectStatus: 500, Message: "boom"},
		"logs":    {LogsStatus: 500, Message: "boom"},
	} {
		t.Run(name, func(t *testing.T) {
			f := dockertest.NewFake(t)
			id := f.Add(dockertest.Container{Name: "x", Started: time.Now()})
			f.SetFaults(id, faults)
			r := startFake(t, f, dockerlogs.Config{})
			waitUntil(t, "an attach error", func() bool { return r.src.Stats().AttachErrors == 1 })
		})
	}
	t.Run("broken streams", func(t *testing.T) {
		f := dockertest.NewFake(t)
		// Running for long, so that listings follow it again after each break.
		id := f.Add(dockertest.Container{Name: "broken", Started: time.Now().Add(-time.Hour)})
		f.SetFaults(id, dockertest.Faults{BreakAfter: 2})
		r := startFake(t, f, dockerlogs.Config{RelistInterval: 20 * time.Millisecond})
		t0 := time.Now()
		var fed []dockertest.Line
		for i := range 7 {
			fed = append(fed, dockertest.Line{Time: t0.Add(ms(i)), Stream: "stdout", Text: string(rune('a' + i))})
		}
		f.Log(id, fed...)
		r.waitLines(t, "broken", len(fed))
		f.Stop(id)
		checkLines(t, r.waitDone(t, id, "broken", len(fed)), fed)
		if st := r.src.Stats(); st.AttachErrors < 2 {
			t.Errorf("stats %+v: broken streams not counted", st)
		}
	})
}

// A --rm container that prints and is gone before its logs can be read: what the attachment
// made at its creation read is emitted; without it, the container is counted as missed.
func TestFakeQuickRmContainer(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tty    bool
		attach int // the attach endpoint's fault status
	}{{"caught", false, 0}, {"caught tty", true, 0}, {"missed", false, 500}} {
		t.Run(tt.name, func(t *testing.T) {
			f := dockertest.NewFake(t)
			r := startFake(t, f, dockerlogs.Config{})
			c := dockertest.Container{Name: "quick", AutoRemove: true, TTY: tt.tty}
			id := f.Add(c)
			// Gone for the follower: it never finds the container to read its logs.
			f.SetFaults(id, dockertest.Faults{InspectStatus: 404, Message: "No such container", AttachStatus: tt.attach})
			f.Event("create", c)
			if tt.attach == 0 {
				waitUntil(t, "the attachment", func() bool { return f.Attached(id) == 1 })
			}
			fed := []dockertest.Line{{Time: time.Now(), Stream: "stdout", Text: "hello"}, {Time: time.Now(), Stream: "stdout", Text: "bye"}}
			if !tt.tty {
				fed[1].Stream = "stderr"
			}
			f.Log(id, fed...)
			f.Start(id)
			f.Stop(id)
			f.Remove(id)
			if tt.attach != 0 {
				waitUntil(t, "a missed container", func() bool { return r.src.Stats().Missed == 1 })
				return
			}
			got := r.waitLines(t, "quick", 2)
			for i := range fed {
				fed[i].Time = got[i].Time // stamped when read
			}
			checkLines(t, got, fed)
			if st := r.src.Stats(); st.Missed != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// With MaxBackfills 1, containers read what they wrote while no Source ran one at a time,
// and every line comes once.
func TestFakeBackfillsAreLimited(t *testing.T) {
	f := dockertest.NewFake(t)
	state := t.TempDir()
	r1 := startFake(t, f, dockerlogs.Config{StateDir: state})
	names := []string{"b0", "b1", "b2"}
	ids := map[string]string{}
	t0 := at()
	line := func(name string, i int) dockertest.Line {
		return dockertest.Line{Time: t0.Add(ms(i)), Stream: "stdout", Text: name + " " + string(rune('a'+i))}
	}
	for _, name := range names {
		ids[name] = f.Run(dockertest.Container{Name: name})
		f.Log(ids[name], line(name, 0))
		r1.waitLines(t, name, 1)
	}
	r1.stop()
	for _, name := range names {
		for i := 1; i < 4; i++ {
			f.Log(ids[name], line(name, i))
		}
	}
	gate := make(chan struct{})
	r2 := startFakeGated(t, f, dockerlogs.Config{StateDir: state, MaxBackfills: 1}, gate)
	waitUntil(t, "one backfill running and two waiting", func() bool {
		st := r2.src.Stats()
		return st.Backfilling == 1 && st.BackfillsWaiting == 2
	})
	close(gate)
	for _, name := range names {
		f.Stop(ids[name])
		got := r2.waitDone(t, ids[name], name, 3)
		checkLines(t, got, []dockertest.Line{line(name, 1), line(name, 2), line(name, 3)})
	}
	if st := r2.src.Stats(); st.Backfilling != 0 || st.BackfillsWaiting != 0 {
		t.Errorf("stats %+v", st)
	}
}

// While the engine cannot be reached Run keeps trying, and follows once it answers.
func TestFakeRunWaitsForTheEngine(t *testing.T) {
	f := dockertest.NewFake(t)
	f.SetDown(true)
	src, err := dockerlogs.NewSource(dockerlogs.Config{Client: f.Client(), SelfID: "none", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(message.Message) {}) }()
	waitUntil(t, "two attempts", func() bool { return f.Requests("/info") >= 2 })
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while the engine was down", err)
	default:
	}
	f.SetDown(false)
	waitUntil(t, "the connection", func() bool { return src.Stats().Connected })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// The Source keeps the Source contract on the fake engine, found from DOCKER_HOST; each
// check's Source makes and closes its own client.
func TestFakeSourceConformance(t *testing.T) {
	f := dockertest.NewFake(t)
	t.Setenv("DOCKER_HOST", f.Host())
	made := 0
	qwatchtest.TestSource(t, conformanceKit(func(t *testing.T, n int) {
		made++
		id := f.Run(dockertest.Container{Name: fmt.Sprint("conformance-", made)})
		for i := range n {
			f.Log(id, dockertest.Line{Time: time.Now(), Stream: "stdout", Text: fmt.Sprint("line ", i)})
		}
	}))
}

// A checkpoint that cannot be read is counted, and the container followed from then on.
func TestFakeCorruptCheckpoint(t *testing.T) {
	f := dockertest.NewFake(t)
	state := t.TempDir()
	id := f.Add(dockertest.Container{Name: "corrupt", Started: time.Now().Add(-time.Hour)})
	if err := os.WriteFile(filepath.Join(state, id+".json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.Log(id, dockertest.Line{Time: time.Now().Add(-time.Minute), Stream: "stdout", Text: "before"})
	r := startFake(t, f, dockerlogs.Config{StateDir: state})
	waitUntil(t, "a checkpoint error", func() bool { return r.src.Stats().CheckpointErrors == 1 })
	now := dockertest.Line{Time: time.Now(), Stream: "stdout", Text: "after"}
	f.Log(id, now)
	f.Stop(id)
	checkLines(t, r.waitDone(t, id, "corrupt", 1), []dockertest.Line{now})
}

// A container that printed on and stopped while no Source ran is read to its end by the next
// Source, once: the Source after that does not ask for its logs again, unless it ran again.
func TestFakeStoppedWhileNoSourceRan(t *testing.T) {
	f := dockertest.NewFake(t)
	state := t.TempDir()
	r1 := startFake(t, f, dockerlogs.Config{StateDir: state})
	id := f.Run(dockertest.Container{Name: "job"})
	t0 := at()
	line := func(i int) dockertest.Line {
		return dockertest.Line{Time: t0.Add(ms(i)), Stream: "stdout", Text: fmt.Sprint("line ", i)}
	}
	f.Log(id, line(0), line(1))
	r1.waitLines(t, "job", 2)
	r1.stop()
	f.Log(id, line(2), line(3))
	f.Stop(id)

	r2 := startFake(t, f, dockerlogs.Config{StateDir: state})
	checkLines(t, r2.waitDone(t, id, "job", 2), []dockertest.Line{line(2), line(3)})
	r2.stop()

	requests := len(f.LogRequests(id))
	r3 := startFake(t, f, dockerlogs.Config{StateDir: state})
	r3.stop() // its followers have ended
	if n := len(f.LogRequests(id)); n != requests {
		t.Errorf("%d more logs requests for a container read to its end", n-requests)
	}

	// It runs again, and stops, while no Source runs: the next one reads that run.
	f.Start(id)
	f.Log(id, line(4))
	f.Stop(id)
	r4 := startFake(t, f, dockerlogs.Config{StateDir: state})
	checkLines(t, r4.waitDone(t, id, "job", 1), []dockertest.Line{line(4)})
}

// RunBatch hands each container's lines over in batches of at most 128, in order, each line
// once, with the IDs derived from (container, stream, time, ordinal); a stream's checkpoint
// does not pass a line whose batch emit has not returned. From the API and from the file.
func TestFakeBatches(t *testing.T) {
	for _, reader := range []string{dockerlogs.ReaderAPI, dockerlogs.ReaderFile} {
		t.Run(reader, func(t *testing.T) { testBatches(t, reader) })
	}
}

func testBatches(t *testing.T, reader string) {
	f := dockertest.NewFake(t)
	if reader == dockerlogs.ReaderFile {
		f.WriteLogFiles(t.TempDir())
	}
	state := t.TempDir()
	src, err := dockerlogs.NewSource(dockerlogs.Config{Client: f.Client(), StateDir: state, SelfID: "none",
		Reader: reader, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gate, blocked := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var batches [][]message.Message
	emit := func(batch []message.Message) {
		if batch[0].Container.Name == "held" {
			select {
			case <-blocked:
			default:
				close(blocked)
			}
			select {
			case <-gate:
			case <-ctx.Done():
			}
		}
		mu.Lock()
		batches = append(batches, slices.Clone(batch))
		mu.Unlock()
	}
	done := make(chan error, 1)
	go func() { done <- src.RunBatch(ctx, emit) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunBatch = %v", err)
		}
	})
	defer stop()
	waitUntil(t, "subscription to the engine's events", func() bool { return src.Stats().Connected })

	held := f.Run(dockertest.Container{Name: "held"})
	flowing := f.Run(dockertest.Container{Name: "flowing"})
	t0 := at()
	var fed []dockertest.Line
	for i := range 1000 {
		// Lines 2i and 2i+1 share a nanosecond when i%5 == 0: ordinals 0 and 1.
		at := t0.Add(time.Duration(i) * time.Microsecond)
		fed = append(fed, dockertest.Line{Time: at, Stream: "stdout", Text: fmt.Sprint("line ", i)})
		if i%5 == 0 {
			fed = append(fed, dockertest.Line{Time: at, Stream: "stdout", Text: fmt.Sprint("line ", i, " again")})
		}
	}
	f.Log(held, fed...)
	<-blocked
	// A checkpoint written after held's first batch was in emit: it must not hold held.
	f.Log(flowing, dockertest.Line{Time: t0, Stream: "stdout", Text: "after held blocked"})
	waitUntil(t, "the checkpoint of flowing", func() bool {
		_, err := os.Stat(filepath.Join(state, flowing+".json"))
		return err == nil
	})
	if _, err := os.Stat(filepath.Join(state, held+".json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("held's checkpoint written while its first batch was in emit: %v", err)
	}
	close(gate)
	waitUntil(t, "every line of held", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, b := range batches {
			if b[0].Container.Name == "held" {
				n += len(b)
			}
		}
		return n >= len(fed)
	})
	stop()

	var got []message.Message
	largest := 0
	for _, b := range batches {
		for _, m := range b {
			if m.Container.Name != b[0].Container.Name {
				t.Fatalf("a batch of %s holds a line of %s", b[0].Container.Name, m.Container.Name)
			}
		}
		if b[0].Container.Name == "held" {
			got = append(got, b...)
			largest = max(largest, len(b))
		}
	}
	checkLines(t, got, fed)
	if largest > 128 || largest < 2 {
		t.Errorf("largest batch %d lines, want 2 to 128", largest)
	}
	ord := 0
	for i, m := range got {
		if i > 0 && m.Time.Equal(got[i-1].Time) {
			ord++
		} else {
			ord = 0
		}
		if want := message.DerivedID(m.Time, fmt.Sprint(held, "/stdout/", ord)); m.ID != want {
			t.Fatalf("line %q: ID %s, want %s", m.Text, m.ID, want)
		}
	}
	var ck struct {
		Streams map[string]struct {
			Time  time.Time
			Count int
		}
	}
	data, err := os.ReadFile(filepath.Join(state, held+".json"))
	if err == nil {
		err = json.Unmarshal(data, &ck)
	}
	if last := fed[len(fed)-1]; err != nil || !ck.Streams["stdout"].Time.Equal(last.Time) || ck.Streams["stdout"].Count != 1 {
		t.Errorf("held's checkpoint %+v (%v), want its last line's time and count 1", ck, err)
	}
}
