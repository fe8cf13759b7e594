package dockerlogs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// The tests in this file run the grouping of multi-line events on the fake engine, with
// stack traces the real runtimes printed (package multiline's testdata).

// trace is a stack trace a real runtime printed, and the kind of group it makes.
type trace struct {
	name, kind string
	lines      []string
}

// recordedTraces reads package multiline's recorded traces.
func recordedTraces(t *testing.T) []trace {
	t.Helper()
	files, err := filepath.Glob("../filter/multiline/testdata/traces/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded traces: %v", err)
	}
	var out []trace
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		kind, _, _ := strings.Cut(name, "-")
		out = append(out, trace{name, kind, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")})
	}
	return out
}

// traceNamed returns the recorded trace of that name.
func traceNamed(t *testing.T, name string) trace {
	t.Helper()
	for _, tr := range recordedTraces(t) {
		if tr.name == name {
			return tr
		}
	}
	t.Fatalf("no recorded trace %s", name)
	return trace{}
}

// Lines of a stream are apart (more than multiline.Config.Intro, less than Gap: only the
// rules keep a plain line out of a trace), a trace's lines a burst.
const (
	apart = 30 * time.Millisecond
	burst = 50 * time.Microsecond
)

// script is what a container prints: its lines in time order, and the events each stream's
// lines should become.
type script struct {
	lines []dockertest.Line
	want  map[string][]string // by stream, event texts in order
	next  map[string]time.Time
}

// newScript starts a container's script; its streams' lines begin at t0 and t0 plus a few
// milliseconds, so that the streams interleave.
func newScript(t0 time.Time) *script {
	return &script{want: map[string][]string{},
		next: map[string]time.Time{"stdout": t0, "stderr": t0.Add(7 * time.Millisecond)}}
}

func (s *script) add(stream, text string, step time.Duration) dockertest.Line {
	l := dockertest.Line{Time: s.next[stream], Stream: stream, Text: text}
	s.lines = append(s.lines, l)
	s.next[stream] = l.Time.Add(step)
	return l
}

// plain adds lines that stay events of their own.
func (s *script) plain(stream string, texts ...string) {
	for _, text := range texts {
		s.add(stream, text, apart)
		s.want[stream] = append(s.want[stream], text)
	}
}

// trace adds the lines of a trace, to become one event, and returns them.
func (s *script) trace(stream string, lines []string) []dockertest.Line {
	var out []dockertest.Line
	for i, text := range lines {
		step := burst
		if i == len(lines)-1 {
			step = apart
		}
		out = append(out, s.add(stream, text, step))
	}
	s.want[stream] = append(s.want[stream], strings.Join(lines, "\n"))
	return out
}

// sorted returns the lines in time order, as the engine logs them.
func (s *script) sorted() []dockertest.Line { return byTime(s.lines) }

// take returns the lines added since the last take, in the order added.
func (s *script) take() []dockertest.Line {
	out := s.lines
	s.lines = nil
	return out
}

// byTime returns the lines in time order, as the engine logs them.
func byTime(lines []dockertest.Line) []dockertest.Line {
	out := slices.Clone(lines)
	slices.SortStableFunc(out, func(a, b dockertest.Line) int { return a.Time.Compare(b.Time) })
	return out
}

// events returns the texts of the messages by stream, in order.
func events(msgs []message.Message) map[string][]string {
	out := map[string][]string{}
	for _, m := range msgs {
		stream, _ := m.Fields["stream"].(string)
		out[stream] = append(out[stream], m.Text)
	}
	return out
}

// count returns how many events the texts by stream are.
func count(want map[string][]string) int {
	n := 0
	for _, texts := range want {
		n += len(texts)
	}
	return n
}

// lineKey names a line by its container, stream and time (unique in these tests).
func lineKey(m message.Message) string {
	return fmt.Sprint(m.Container.ID, "/", m.Fields["stream"], "/", m.Time.UnixNano())
}

// Recorded traces of every runtime, on stdout and stderr of two containers, between plain
// lines and interleaved with the other stream's: each trace is one message, whose ID and time
// are its first line's as a Source without grouping gives them, with the rule's kind in its
// fields; every plain line is a message of its own, as it came.
func TestFakeMultilineRecordedTraces(t *testing.T) {
	traces := recordedTraces(t)
	f := dockertest.NewFake(t)
	r := startFake(t, f, dockerlogs.Config{})
	alone := startFake(t, f, dockerlogs.Config{MultilineRule: multiline.Off})
	t0 := at()
	scripts := []*script{newScript(t0), newScript(t0.Add(3 * time.Millisecond))}
	kinds := map[string]string{} // the first line of each trace (container, stream, time) → its kind
	lines := 0
	for i, tr := range traces {
		s := scripts[i%2]
		stream := []string{"stdout", "stderr"}[i/2%2]
		s.plain(stream, fmt.Sprint("INFO before ", tr.name), fmt.Sprint("INFO step ", i))
		first := s.trace(stream, tr.lines)[0]
		kinds[fmt.Sprint("traces-", i%2, "/", stream, "/", first.Time.UnixNano())] = tr.kind
		lines += 2 + len(tr.lines)
	}
	for _, s := range scripts {
		for _, stream := range []string{"stdout", "stderr"} {
			s.plain(stream, "INFO done", `{"level":"info","msg":"bye"}`)
			lines += 2
		}
	}
	var ids []string
	for i, s := range scripts {
		name := fmt.Sprint("traces-", i)
		id := f.Run(dockertest.Container{Name: name})
		ids = append(ids, id)
		f.Log(id, s.sorted()...)
		f.Stop(id)
		got := r.waitDone(t, id, name, count(s.want))
		if diff := cmp.Diff(s.want, events(got)); diff != "" {
			t.Errorf("%s: events (-want +got):\n%s", name, diff)
		}
		alone.waitDone(t, id, name, len(s.lines))
	}
	ofLine := map[string]message.Message{}
	for _, m := range alone.c.Messages() {
		ofLine[lineKey(m)] = m
	}
	groups := 0
	for _, m := range r.c.Messages() {
		first, ok := ofLine[lineKey(m)]
		switch {
		case !ok:
			t.Errorf("message %.40q: no line of its time", m.Text)
			continue
		case m.ID != first.ID || !strings.HasPrefix(m.Text, first.Text) || m.Level != first.Level:
			t.Errorf("message %.40q: ID %s, level %v; want its first line's, %s and %v", m.Text, m.ID, m.Level, first.ID, first.Level)
		}
		stream := m.Fields["stream"].(string)
		kind, isTrace := kinds[fmt.Sprint(m.Container.Name, "/", stream, "/", m.Time.UnixNano())]
		want := map[string]any{"stream": stream}
		if isTrace {
			want[multiline.FieldKind] = kind
			groups++
		}
		if diff := cmp.Diff(want, m.Fields); diff != "" {
			t.Errorf("message %.40q: fields (-want +got):\n%s", m.Text, diff)
		}
	}
	if groups != len(traces) {
		t.Errorf("%d traces grouped, want %d", groups, len(traces))
	}
	st := r.src.Stats()
	joined := lines - (len(r.c.Messages()) - len(traces))
	if st.Lines != uint64(lines) || st.Multiline.Groups != uint64(len(traces)) || st.Multiline.Joined != uint64(joined) ||
		st.Multiline.Continuations != 0 || st.Multiline.Held != 0 || st.MultilineLabelErrors != 0 {
		t.Errorf("stats %+v; want %d lines, %d groups of %d lines, nothing held", st, lines, len(traces), joined)
	}
	if n := alone.src.Stats().Multiline.Groups; n != 0 {
		t.Errorf("%d groups with the rule off", n)
	}
}

// The labels choose a container's rule: off, a rule by name, a start pattern; a container
// without them has Config.MultilineRule, and so has one whose label is invalid, counted once.
func TestFakeMultilineLabels(t *testing.T) {
	java, python := traceNamed(t, "java-printstacktrace"), traceNamed(t, "python-logged-cause")
	custom := []string{"2026-11-29 12:00:00 first", "  continued", "more", "2026-11-29 12:00:01 second"}
	joined := strings.Join(java.lines, "\n")
	for _, tt := range []struct {
		name   string
		labels map[string]string
		lines  []string
		want   []string
	}{
		{"unlabelled", nil, java.lines, java.lines},
		{"empty", map[string]string{"qwatch.multiline": ""}, java.lines, []string{joined}},
		{"auto", map[string]string{"qwatch.multiline": "auto"}, java.lines, []string{joined}},
		{"off", map[string]string{"qwatch.multiline": "OFF"}, java.lines, java.lines},
		{"java only", map[string]string{"qwatch.multiline": "java"}, append(slices.Clone(python.lines), java.lines...),
			append(slices.Clone(python.lines), joined)},
		{"start pattern", map[string]string{"qwatch.multiline.start": `^\d{4}-\d\d-\d\d `, "qwatch.multiline": "off"},
			custom, []string{"2026-11-29 12:00:00 first\n  continued\nmore", "2026-11-29 12:00:01 second"}},
		{"invalid rule", map[string]string{"qwatch.multiline": "cobol"}, java.lines, java.lines},
		{"invalid pattern", map[string]string{"qwatch.multiline.start": "(", "qwatch.multiline": "auto"}, java.lines, java.lines},
		{"invalid empty pattern", map[string]string{"qwatch.multiline.start": ""}, java.lines, java.lines},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := dockertest.NewFake(t)
			r := startFake(t, f, dockerlogs.Config{MultilineRule: multiline.Off})
			name := strings.ReplaceAll(tt.name, " ", "-")
			id := f.Run(dockertest.Container{Name: name, Labels: tt.labels})
			s := newScript(at())
			s.trace("stdout", tt.lines)
			f.Log(id, s.lines...)
			f.Stop(id)
			got := r.waitDone(t, id, name, len(tt.want))
			if diff := cmp.Diff(tt.want, events(got)["stdout"]); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			wantErrors := uint64(0)
			if strings.HasPrefix(tt.name, "invalid") {
				wantErrors = 1
			}
			// A second run: the label is read again, and not counted again.
			reads := func() uint64 { st := r.src.Stats(); return st.APIReads + st.FileReads }
			n := reads()
			f.Start(id)
			f.Stop(id)
			waitUntil(t, "the end of the second follower", func() bool {
				return reads() > n && !dockerlogs.Following(r.src, id)
			})
			if st := r.src.Stats(); st.MultilineLabelErrors != wantErrors {
				t.Errorf("%d label errors, want %d", st.MultilineLabelErrors, wantErrors)
			}
		})
	}
}

// A trace followed by nothing more, from a container that goes on running, comes out on its
// own within about Config.Multiline.Idle.
func TestFakeMultilineIdle(t *testing.T) {
	f := dockertest.NewFake(t)
	r := startFake(t, f, dockerlogs.Config{})
	id := f.Run(dockertest.Container{Name: "quiet"})
	s := newScript(time.Now())
	s.plain("stderr", "INFO starting")
	s.trace("stderr", traceNamed(t, "go-panic").lines)
	f.Log(id, s.lines...)
	got := r.waitLines(t, "quiet", 2)
	if diff := cmp.Diff(s.want["stderr"], events(got)["stderr"]); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if st := r.src.Stats(); st.Multiline.IdleClosed == 0 || !dockerlogs.Following(r.src, id) {
		t.Errorf("stats %+v: the trace did not come out on idle, from a container still running", st)
	}
}

// The output of a quick --rm container, read by the attachment at its creation and stamped
// when read, is grouped too.
func TestFakeMultilineQuickRmContainer(t *testing.T) {
	f := dockertest.NewFake(t)
	r := startFake(t, f, dockerlogs.Config{})
	c := dockertest.Container{Name: "quick-trace", AutoRemove: true}
	id := f.Add(c)
	f.SetFaults(id, dockertest.Faults{InspectStatus: 404, Message: "No such container"})
	f.Event("create", c)
	waitUntil(t, "the attachment", func() bool { return f.Attached(id) == 1 })
	s := newScript(time.Now())
	s.plain("stdout", "hello")
	s.trace("stdout", traceNamed(t, "java-printstacktrace").lines)
	s.plain("stdout", "bye")
	f.Log(id, s.lines...)
	f.Start(id)
	f.Stop(id)
	f.Remove(id)
	got := r.waitLines(t, "quick-trace", 3)
	if diff := cmp.Diff(s.want, events(got)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// readCheckpoint returns the stream positions of a container's checkpoint file, or nil.
func readCheckpoint(t *testing.T, state, id string) map[string]dockertest.Line {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, id+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var ck struct {
		Streams map[string]struct {
			Time  time.Time
			Count int
		}
	}
	if err == nil {
		err = json.Unmarshal(data, &ck)
	}
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	out := map[string]dockertest.Line{}
	for stream, p := range ck.Streams {
		out[stream] = dockertest.Line{Time: p.Time, Stream: stream, Text: fmt.Sprint(p.Count)}
	}
	return out
}

// at1 is the checkpoint position of a line alone at its time: its time, and a count of 1.
func at1(l dockertest.Line) dockertest.Line {
	return dockertest.Line{Time: l.Time, Stream: l.Stream, Text: "1"}
}

// stored keeps messages by ID, as a bulk endpoint that creates documents by ID does: a second
// message with an ID already stored is not stored, and must be the same.
func stored(t *testing.T, runs ...[]message.Message) map[string]string {
	t.Helper()
	docs := map[string]string{}
	for _, msgs := range runs {
		for _, m := range msgs {
			if text, ok := docs[m.ID]; ok && text != m.Text {
				t.Errorf("ID %s came again with another text:\n%s\nfirst:\n%s", m.ID, m.Text, text)
			}
			docs[m.ID] = m.Text
		}
	}
	return docs
}

// checkStored checks that the documents are the events wanted, each once.
func checkStored(t *testing.T, docs map[string]string, want map[string][]string) {
	t.Helper()
	var got, all []string
	for _, text := range docs {
		got = append(got, text)
	}
	for _, texts := range want {
		all = append(all, texts...)
	}
	slices.Sort(got)
	slices.Sort(all)
	if diff := cmp.Diff(all, got); diff != "" {
		t.Errorf("documents (-want +got):\n%s", diff)
	}
}

// The Source stopped while a trace is open, and started again on its state directory: the
// checkpoint stays before the trace's first line, and the next Source stores the trace once
// and whole, with every line around it once.
func TestFakeMultilineStopMidTrace(t *testing.T) {
	f := dockertest.NewFake(t)
	state := t.TempDir()
	// Idle long: the trace stays open however slow the machine.
	r1 := startFake(t, f, dockerlogs.Config{StateDir: state, Multiline: multiline.Config{Idle: time.Minute}})
	id := f.Run(dockertest.Container{Name: "mid"})
	tr := traceNamed(t, "java-printstacktrace").lines
	s := newScript(at())
	s.plain("stdout", "p0", "p1", "p2")
	lines := s.trace("stdout", tr)
	k := len(tr) / 2
	f.Log(id, s.lines[:3+k]...)
	r1.waitLines(t, "mid", 3)
	held := 0
	for _, l := range tr[:k] {
		held += len(l)
	}
	waitUntil(t, "the first half of the trace held", func() bool { return r1.src.Stats().Multiline.Held == int64(held) })
	want := map[string]dockertest.Line{"stdout": at1(s.lines[2])}
	waitUntil(t, "the checkpoint after p2", func() bool { return cmp.Equal(want, readCheckpoint(t, state, id)) })
	r1.stop()
	if diff := cmp.Diff(want, readCheckpoint(t, state, id)); diff != "" {
		t.Fatalf("checkpoint (-at p2, before the trace's first line at %s +got):\n%s", lines[0].Time, diff)
	}
	if st := r1.src.Stats(); st.Multiline.Held != 0 || st.Multiline.Groups != 0 {
		t.Errorf("stats after the stop %+v: the open trace was not dropped", st)
	}

	s.plain("stdout", "p3", "p4")
	f.Log(id, s.lines[3+k:]...)
	r2 := startFake(t, f, dockerlogs.Config{StateDir: state})
	f.Stop(id)
	r2.waitDone(t, id, "mid", 3)
	checkStored(t, stored(t, r1.c.Messages(), r2.c.Messages()), s.want)
	if n := len(r1.c.Messages()) + len(r2.c.Messages()); n != count(s.want) {
		t.Errorf("%d messages, want %d: a clean stop repeats nothing", n, count(s.want))
	}
}

// The Source's state is left as a kill -9 leaves it (the checkpoint last written a while
// before, and none at exit) while one trace is open and others were emitted after that
// checkpoint: the next Source reads again from there, makes the same events with the same
// IDs, and every trace is stored once and whole.
func TestFakeMultilineCrashMidTrace(t *testing.T) {
	f := dockertest.NewFake(t)
	state := t.TempDir()
	var frozen atomic.Bool
	var refused atomic.Int64
	flush := func(context.Context) error {
		if frozen.Load() {
			refused.Add(1)
			return errors.New("killed")
		}
		return nil
	}
	r1 := startFake(t, f, dockerlogs.Config{StateDir: state, Flush: flush, Multiline: multiline.Config{Idle: time.Minute}})
	id := f.Run(dockertest.Container{Name: "crash"})
	java, python, gopanic := traceNamed(t, "java-printstacktrace").lines, traceNamed(t, "python-logged-cause").lines, traceNamed(t, "go-panic").lines
	s := newScript(at())
	s.plain("stdout", "p0")
	s.plain("stderr", "e0")
	t1 := s.trace("stdout", java)
	tgo := s.trace("stderr", gopanic)
	s.plain("stdout", "p1")
	s.plain("stderr", "e1")
	f.Log(id, byTime(s.take())...)
	r1.waitLines(t, "crash", 4) // p0, e0 and the traces; p1 and e1 held
	saved := map[string]dockertest.Line{"stdout": at1(t1[len(t1)-1]), "stderr": at1(tgo[len(tgo)-1])}
	waitUntil(t, "the checkpoint after the traces", func() bool { return cmp.Equal(saved, readCheckpoint(t, state, id)) })

	frozen.Store(true) // from here on, as if killed: no checkpoint is written
	n := refused.Load()
	s.plain("stdout", "p2")
	s.trace("stdout", python)
	s.plain("stdout", "p3")
	s.plain("stderr", "e2")
	s.trace("stdout", java)
	s.plain("stdout", "p4")
	rest := s.take()
	later := rest[len(rest)-len(java)/2-1:] // the Java trace's second half, and p4
	f.Log(id, byTime(rest[:len(rest)-len(later)])...)
	r1.waitLines(t, "crash", 9) // p1, e1, p2, the Python trace, p3; e2 and the Java trace's first half held
	waitUntil(t, "a refused checkpoint", func() bool { return refused.Load() > n })
	r1.stop()
	if diff := cmp.Diff(saved, readCheckpoint(t, state, id)); diff != "" {
		t.Fatalf("checkpoint (-saved before the kill +got):\n%s", diff)
	}

	f.Log(id, later...)
	r2 := startFake(t, f, dockerlogs.Config{StateDir: state})
	f.Stop(id)
	again := r2.waitDone(t, id, "crash", 8) // p1, e1, p2, the Python trace, p3, the Java trace, p4, e2
	docs := stored(t, r1.c.Messages(), again)
	checkStored(t, docs, s.want)
	if n := len(r1.c.Messages()) + len(again) - len(docs); n != 5 {
		t.Errorf("%d messages emitted twice, want 5 (p1, e1, p2, the Python trace and p3, emitted after the last checkpoint)", n)
	}
}

// loggerScript is a script for the logger program (package dockertest's image), and the
// events each stream's lines should become.
type loggerScript struct {
	b    strings.Builder
	want map[string][]string
}

// print adds lines printed in one write, to become one event, and a pause after them.
func (s *loggerScript) print(stream string, lines ...string) {
	op := map[string]string{"stdout": "out", "stderr": "err"}[stream]
	for _, l := range lines {
		fmt.Fprintf(&s.b, "%s %s\n", op, l)
	}
	// Apart by more than realTracesMultiline's Intro, less than its Gap: only the rules keep
	// the events apart.
	s.b.WriteString("sleep 500ms\n")
	if s.want == nil {
		s.want = map[string][]string{}
	}
	s.want[stream] = append(s.want[stream], strings.Join(lines, "\n"))
}

// realTracesMultiline widens the grouping's windows for lines a real engine stamps: the
// engine stamps each line as its copier reads it, so on a loaded machine the lines of one
// write can be stamped tens of milliseconds apart, past the default Intro of 20 ms (seen: a
// Java trace's introducing line split off). The rules under test are the same.
var realTracesMultiline = multiline.Config{Intro: 300 * time.Millisecond, Gap: time.Second, Idle: 3 * time.Second}

// Real traces printed by a container between plain lines, on stdout and stderr, read back
// from the engine's json-file and local drivers: each trace is one message, each plain line
// one of its own.
func TestMultilineRealTraces(t *testing.T) {
	image := dockertest.Image(t)
	r := start(t, dockerlogs.Config{Multiline: realTracesMultiline})
	var s loggerScript
	s.print("stdout", "INFO starting")
	s.print("stdout", traceNamed(t, "java-printstacktrace").lines...) // with Caused by and Suppressed
	s.print("stderr", "WARNING:app:slow start")
	s.print("stderr", traceNamed(t, "python-logged-cause").lines...) // chained, with its blank lines
	s.print("stdout", "INFO between")
	s.print("stderr", traceNamed(t, "go-panic").lines...)
	s.print("stdout", traceNamed(t, "node-console-cause").lines...)
	s.print("stderr", traceNamed(t, "node-uncaught").lines...)
	s.print("stdout", `{"level":"info","msg":"done"}`)
	s.print("stderr", "")
	for _, driver := range []string{"json-file", "local"} {
		t.Run(driver, func(t *testing.T) {
			name := uniqueName("traces-" + driver)
			dockertest.Docker(t, "run", "--name", name, "--network", "none", "--log-driver", driver, image,
				"/logger", "-script", s.b.String(), "-n", "1")
			t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
			got := r.waitDone(t, idOf(t, name), name, count(s.want))
			if diff := cmp.Diff(s.want, events(got)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}
