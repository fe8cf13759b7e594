package dockerlogs_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/internal/dockertest/lines"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var _ qwatch.BatchSource = (*dockerlogs.Source)(nil)

// running is a Source running until stopped or the test ends.
type running struct {
	src  *dockerlogs.Source
	c    *qwatchtest.Collector
	stop func()
}

// start starts a Source on cfg.Client, or on the real engine when that is nil, and waits
// until it follows the engine's events.
func start(t *testing.T, cfg dockerlogs.Config) *running {
	t.Helper()
	return startGated(t, cfg, nil)
}

// startGated is start with an emit that waits, while gate is open (not closed), as a Hub's
// does behind a full Block queue.
func startGated(t *testing.T, cfg dockerlogs.Config, gate chan struct{}) *running {
	t.Helper()
	if cfg.Client == nil {
		dockertest.Engine(t) // skips, or fails under QWATCH_E2E=1, without an engine
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if os.Getenv("DLDEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.RelistInterval == 0 {
		cfg.RelistInterval = time.Second
	}
	src, err := dockerlogs.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{src: src, c: &qwatchtest.Collector{}}
	ctx, cancel := context.WithCancel(context.Background())
	if gate != nil {
		// Stopping opens the gate too, so that a test that fails before it opens the gate
		// stops instead of waiting for ever on an emit.
		r.c.OnEmit = func(message.Message) {
			select {
			case <-gate:
			case <-ctx.Done():
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, r.c.Emit) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
		})
	}
	t.Cleanup(r.stop)
	waitUntil(t, "subscription to the engine's events", func() bool { return src.Stats().Connected })
	return r
}

// waitUntil waits until cond holds, for a minute at most.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within a minute", what)
		}
	}
}

// of returns the messages of the container named name.
func of(msgs []message.Message, name string) []message.Message {
	var out []message.Message
	for _, m := range msgs {
		if m.Container.Name == name {
			out = append(out, m)
		}
	}
	return out
}

// waitLines waits until the container's lines number n.
func (r *running) waitLines(t *testing.T, name string, n int) []message.Message {
	t.Helper()
	var got []message.Message
	waitUntil(t, fmt.Sprintf("%d lines of %s", n, name), func() bool {
		got = of(r.c.Messages(), name)
		return len(got) >= n
	})
	return got
}

// waitDone waits until the container (stopped) has n lines and no follower: every line it
// will get has come. It returns them.
func (r *running) waitDone(t *testing.T, id, name string, n int) []message.Message {
	t.Helper()
	r.waitLines(t, name, n)
	waitUntil(t, "the end of the follower of "+name, func() bool { return !dockerlogs.Following(r.src, id) })
	return of(r.c.Messages(), name)
}

// idOf returns the ID of the container named name.
func idOf(t *testing.T, name string) string {
	t.Helper()
	return strings.TrimSpace(dockertest.Docker(t, "inspect", "-f", "{{.Id}}", name))
}

// cidFile is a file for docker run --cidfile, and a function that reads the ID from it.
func cidFile(t *testing.T) (string, func() string) {
	file := filepath.Join(t.TempDir(), "cid")
	return file, func() string {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(data))
	}
}

func uniqueName(kind string) string {
	return fmt.Sprintf("qwatch-logs-%s-%d", kind, time.Now().UnixNano()%1e9)
}

// Every line of json-file and local containers arrives once, whole (10 B to 100 KiB), in order
// per stream, with the container's fields and the stream's level.
func TestEveryLineOnceWithFields(t *testing.T) {
	image := dockertest.Image(t)
	r := start(t, dockerlogs.Config{StateDir: t.TempDir()})
	const n = 200
	for _, driver := range []string{"json-file", "local"} {
		t.Run(driver, func(t *testing.T) {
			name := uniqueName(driver)
			dockertest.Docker(t, "run", "--name", name, "--network", "none", "--log-driver", driver,
				"--label", "app=logs-test", image, "/logger", "-id", driver, "-n", fmt.Sprint(n), "-min", "10", "-max", "102400", "-stream", "both")
			t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
			got := r.waitDone(t, idOf(t, name), name, n)
			if len(got) != n {
				t.Fatalf("%d lines, want %d", len(got), n)
			}
			perStream := map[string][]message.Message{}
			for _, m := range got {
				s, _ := m.Fields["stream"].(string)
				perStream[s] = append(perStream[s], m)
				if m.Container.Labels["app"] != "logs-test" || m.Container.ImageName != image || len(m.Container.ID) != 64 ||
					!strings.HasPrefix(m.Container.ImageID, "sha256:") || !strings.HasPrefix(m.Container.Command, "/logger") ||
					m.Container.Created.IsZero() || m.Host == "" || len(m.ID) != message.IDLen {
					t.Fatalf("fields wrong: %+v", m)
				}
			}
			for i := range n {
				stream := lines.Stream(i)
				want := lines.Line(driver, stream, i, lines.Size(i, 10, 102400))
				ms := perStream[stream]
				if len(ms) <= i/2 || ms[i/2].Text != want {
					t.Fatalf("line %d of %s differs from the one printed", i, stream)
				}
				wantLevel := map[string]message.Level{"stdout": message.LevelInfo, "stderr": message.LevelErr}[stream]
				if ms[i/2].Level != wantLevel {
					t.Errorf("line %d: level %v, want %v", i, ms[i/2].Level, wantLevel)
				}
			}
			if st := r.src.Stats(); st.Joined == 0 {
				t.Errorf("no line was put back together from pieces: %+v", st)
			}
		})
	}
}

// A TTY container's lines come without the terminal's carriage return.
func TestTTYLines(t *testing.T) {
	image := dockertest.Image(t)
	r := start(t, dockerlogs.Config{})
	name := uniqueName("tty")
	dockertest.Docker(t, "run", "--rm", "-t", "--name", name, "--network", "none", image, "/logger", "-id", "tty", "-n", "5", "-min", "10", "-max", "100")
	got := r.waitLines(t, name, 5)
	for i, m := range got {
		if want := lines.Line("tty", "stdout", i, lines.Size(i, 10, 100)); m.Text != want {
			t.Errorf("line %d = %q (time %s, ID %s), want %q", i, m.Text, m.Time.Format(time.RFC3339Nano), m.ID, want)
		}
	}
	if t.Failed() {
		t.Logf("stats %+v", r.src.Stats())
	}
}

// Many containers at once, each printing for a moment: every line of every one arrives.
func TestManyContainersAtOnce(t *testing.T) {
	image := dockertest.Image(t)
	r := start(t, dockerlogs.Config{})
	const containers, n = 30, 20
	names := make([]string, containers)
	var wg sync.WaitGroup
	for i := range names {
		names[i] = uniqueName(fmt.Sprint("many", i))
		wg.Go(func() {
			dockertest.Docker(t, "run", "--name", names[i], "--network", "none", image, "/logger", "-id", "m", "-n", fmt.Sprint(n), "-every", "10ms")
			t.Cleanup(func() { dockertest.DockerErr("rm", "-f", names[i]) })
		})
	}
	wg.Wait()
	for _, name := range names {
		if got := r.waitDone(t, idOf(t, name), name, n); len(got) != n {
			t.Errorf("%s: %d lines", name, len(got))
		}
	}
}

// A container stopped and started again is resumed, not read again.
func TestRestartedContainerResumes(t *testing.T) {
	image := dockertest.Image(t)
	r := start(t, dockerlogs.Config{StateDir: t.TempDir()})
	name := uniqueName("restart")
	dockertest.Docker(t, "run", "--name", name, "--network", "none", image, "/logger", "-id", "r", "-n", "10")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	r.waitLines(t, name, 10)
	dockertest.Docker(t, "start", "-a", name) // prints its 10 lines again, as a new run
	if got := r.waitDone(t, idOf(t, name), name, 20); len(got) != 20 {
		t.Errorf("%d lines after a restart, want 20 (10 a run, none read twice)", len(got))
	}
}

// The Source restarted (a new one on the same state directory) while a container prints a
// numbered line every millisecond: every number is there, and a line emitted twice carries
// the same ID.
func TestSourceRestartLosesNothing(t *testing.T) {
	image := dockertest.Image(t)
	state := t.TempDir()
	r1 := start(t, dockerlogs.Config{StateDir: state})
	name := uniqueName("resume")
	dockertest.Docker(t, "run", "-d", "--name", name, "--network", "none", image, "/logger", "-id", "n", "-n", "3000", "-every", "1ms")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	r1.waitLines(t, name, 300)
	r1.stop()
	first := of(r1.c.Messages(), name)
	r2 := start(t, dockerlogs.Config{StateDir: state})
	dockertest.Docker(t, "wait", name)
	second := r2.waitDone(t, idOf(t, name), name, 3000-len(first))
	ids := map[string]string{}
	seen := map[string]int{}
	for _, m := range append(first, second...) {
		if prev, ok := ids[m.Text]; ok && prev != m.ID {
			t.Fatalf("line %q came twice with different IDs", m.Text)
		}
		ids[m.Text] = m.ID
		seen[m.Text]++
	}
	for i := range 3000 {
		if want := lines.Line("n", "stdout", i, 10); seen[want] == 0 {
			t.Fatalf("line %d is missing (first run %d lines, second %d)", i, len(first), len(second))
		}
	}
	if repeats := len(first) + len(second) - 3000; repeats != 0 {
		t.Errorf("%d lines repeated after a clean restart, want none", repeats)
	}
}

// A container with the GELF driver is left to the GELF source.
func TestGELFDriverContainerSkipped(t *testing.T) {
	image := dockertest.Image(t)
	r := start(t, dockerlogs.Config{})
	name := uniqueName("gelf")
	dockertest.Docker(t, "run", "--name", name, "--network", "none", "--log-driver", "gelf",
		"--log-opt", "gelf-address=udp://127.0.0.1:9", image, "/logger", "-n", "3", "-every", "100ms")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	waitHandled(t, r, image, idOf(t, name))
	if got := of(r.c.Messages(), name); len(got) != 0 {
		t.Errorf("%d lines of a GELF-driver container read", len(got))
	}
	if st := r.src.Stats(); st.Skipped["gelf_driver"] == 0 {
		t.Errorf("stats %+v: the container is not counted as skipped", st)
	}
}

func TestSourceConformance(t *testing.T) {
	image := dockertest.Image(t)
	qwatchtest.TestSource(t, conformanceKit(func(t *testing.T, n int) {
		name := uniqueName("conformance")
		dockertest.Docker(t, "run", "-d", "--name", name, "--network", "none", image, "/logger", "-n", fmt.Sprint(n), "-every", "2ms")
		t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	}))
}

// conformanceKit checks Sources of the engine from the environment; start makes a container
// print n lines, once the Source follows the engine's events.
func conformanceKit(start func(t *testing.T, n int)) qwatchtest.SourceKit {
	var latest *dockerlogs.Source
	return qwatchtest.SourceKit{
		New: func(t *testing.T) qwatch.Source {
			src, err := dockerlogs.NewSource(dockerlogs.Config{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			latest = src
			return src
		},
		Feed: func(t *testing.T, n int) {
			waitUntil(t, "the subscription", func() bool { return latest.Stats().Connected })
			start(t, n)
		},
		NewInvalid: func(t *testing.T) error {
			_, err := dockerlogs.NewSource(dockerlogs.Config{ExcludeNames: []string{"[bad"}})
			return err
		},
		Wait: 30 * time.Second,
	}
}

// The quickstart: --rm containers that print a line and exit at once, on a quiet engine. The
// engine removes such a container's logs as it exits; what the attachment made at its creation
// read is emitted instead. A container the attachment was too late for is counted as missed,
// never lost in silence.
func TestRmContainersCaughtOrCounted(t *testing.T) {
	image := dockertest.Image(t)
	r := start(t, dockerlogs.Config{})
	const runs = 10
	var names, ids []string
	for i := range runs {
		name := uniqueName(fmt.Sprint("single", i))
		cid, id := cidFile(t)
		names = append(names, name)
		dockertest.Docker(t, "run", "--rm", "--cidfile", cid, "--name", name, "--network", "none", image, "/logger", "-id", "hello", "-n", "1")
		ids = append(ids, id())
	}
	waitHandled(t, r, image, ids...)
	caught := 0
	for _, name := range names {
		caught += len(of(r.c.Messages(), name))
	}
	// Missed counts the engine's other --rm containers too (other tests share it).
	missed := int(r.src.Stats().Missed)
	if caught == 0 || caught+missed < runs {
		t.Errorf("%d of %d quick --rm containers caught, %d counted as missed", caught, runs, missed)
	}
	t.Logf("%d of %d quick --rm containers caught, %d counted as missed", caught, runs, missed)
}

// waitHandled waits until the Source is done with the containers of ids, started (and
// exited) before: it runs a container after them, whose start event comes after theirs,
// waits for its line, and then for the followers of ids to end.
func waitHandled(t *testing.T, r *running, image string, ids ...string) {
	t.Helper()
	probe := uniqueName("probe")
	dockertest.Docker(t, "run", "-d", "--name", probe, "--network", "none", image, "/logger", "-n", "1")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", probe) })
	r.waitLines(t, probe, 1)
	for _, id := range ids {
		waitUntil(t, "the end of the follower of "+id[:12], func() bool { return !dockerlogs.Following(r.src, id) })
	}
}

// checkNumbered checks that the container's lines are the n numbered lines of the logger, each
// once.
func checkNumbered(t *testing.T, msgs []message.Message, id string, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.Text]++
	}
	for i := range n {
		if want := lines.Line(id, "stdout", i, 10); seen[want] != 1 {
			t.Errorf("%s: line %d came %d times", id, i, seen[want])
		}
	}
	if len(msgs) != n {
		t.Errorf("%s: %d lines, want %d", id, len(msgs), n)
	}
}

// After a restart of the Source, the containers read what they wrote meanwhile one at a time
// with MaxBackfills 1, and every line still arrives once.
func TestBackfillsAreLimited(t *testing.T) {
	image := dockertest.Image(t)
	state := t.TempDir()
	r1 := start(t, dockerlogs.Config{StateDir: state})
	const n = 2000
	var names []string
	for i := range 3 {
		name := uniqueName(fmt.Sprint("backfill", i))
		names = append(names, name)
		dockertest.Docker(t, "run", "-d", "--name", name, "--network", "none", image, "/logger", "-id", name, "-n", fmt.Sprint(n), "-every", "2ms")
		t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	}
	for _, name := range names {
		r1.waitLines(t, name, 50)
	}
	r1.stop()
	for _, name := range names {
		// Lines written while nothing follows.
		waitUntil(t, "more lines of "+name, func() bool {
			return strings.Count(dockertest.Docker(t, "logs", name), "\n") >= len(of(r1.c.Messages(), name))+50
		})
	}
	gate := make(chan struct{})
	var logged syncBuffer // what the second Source said, shown if the check below fails
	r2 := startGated(t, dockerlogs.Config{StateDir: state, MaxBackfills: 1,
		Logger: slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))}, gate)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		// At least two waiting: another container on the engine that the first Source
		// followed has a checkpoint too, and waits for its backfill like these.
		st := r2.src.Stats()
		if st.Backfilling == 1 && st.BackfillsWaiting >= 2 {
			break
		}
		if time.Now().After(deadline) {
			// What each container was doing, so that a failure says why.
			for _, name := range names {
				t.Logf("%s: %s; the first Source emitted %d lines, the second %d", name,
					strings.TrimSpace(dockertest.Docker(t, "inspect", "-f", "{{.State.Status}} exit {{.State.ExitCode}} started {{.State.StartedAt}} finished {{.State.FinishedAt}}", name)),
					len(of(r1.c.Messages(), name)), len(of(r2.c.Messages(), name)))
			}
			t.Logf("the second Source's log:\n%s", logged.String())
			t.Fatalf("no one backfill running and two or more waiting within a minute: stats %+v", st)
		}
	}
	close(gate)
	for _, name := range names {
		dockertest.Docker(t, "wait", name)
	}
	for _, name := range names {
		r2.waitDone(t, idOf(t, name), name, n-len(of(r1.c.Messages(), name)))
	}
	for _, name := range names {
		checkNumbered(t, append(of(r1.c.Messages(), name), of(r2.c.Messages(), name)...), name, n)
	}
	if st := r2.src.Stats(); st.Backfilling != 0 || st.BackfillsWaiting != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A container labelled qwatch.enable=false, and one whose name matches ExcludeNames, are not
// followed; a container beside them is.
func TestSelectionByLabelAndName(t *testing.T) {
	image := dockertest.Image(t)
	r := start(t, dockerlogs.Config{ExcludeNames: []string{"qwatch-logs-skipme-*"}})
	labelled, named, kept := uniqueName("label"), uniqueName("skipme"), uniqueName("kept")
	labelledCID, labelledID := cidFile(t)
	namedCID, namedID := cidFile(t)
	dockertest.Docker(t, "run", "--rm", "--cidfile", labelledCID, "--name", labelled, "--label", "qwatch.enable=false", "--network", "none", image, "/logger", "-n", "5")
	dockertest.Docker(t, "run", "--rm", "--cidfile", namedCID, "--name", named, "--network", "none", image, "/logger", "-n", "5")
	dockertest.Docker(t, "run", "-d", "--name", kept, "--network", "none", image, "/logger", "-id", kept, "-n", "5")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", kept) })
	dockertest.Docker(t, "wait", kept)
	checkNumbered(t, r.waitDone(t, idOf(t, kept), kept, 5), kept, 5)
	waitHandled(t, r, image, labelledID(), namedID())
	for _, name := range []string{labelled, named} {
		if got := of(r.c.Messages(), name); len(got) != 0 {
			t.Errorf("%s: %d lines from a container to skip", name, len(got))
		}
	}
	// At least: other containers on the engine may be skipped too.
	if st := r.src.Stats(); st.Skipped["label"] < 1 || st.Skipped["name"] < 1 {
		t.Errorf("stats %+v", st)
	}
}

// blockedSink takes nothing until its gate closes, then records.
type blockedSink struct {
	gate chan struct{}
	rec  qwatchtest.Recorder
}

func (b *blockedSink) Write(ctx context.Context, batch []message.Message) error {
	select {
	case <-b.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.rec.Write(ctx, batch)
}

func (b *blockedSink) Close(ctx context.Context) error { return b.rec.Close(ctx) }

// Behind a sink that takes nothing, with a small queue and a spool, the Source reads every
// line from the engine while the sink is blocked; once the sink takes again, every line is
// written once.
func TestBlockedSinkReadingGoesOnIntoTheSpool(t *testing.T) {
	image := dockertest.Image(t)
	engine := dockertest.Engine(t)
	src, err := dockerlogs.NewSource(dockerlogs.Config{Client: engine, StateDir: t.TempDir(), RelistInterval: time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hub := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)))
	sink := &blockedSink{gate: make(chan struct{})}
	if err := hub.AddSink("blocked", sink, qwatch.WithQueueSize(100), qwatch.WithSpool(qwatch.SpoolConfig{Dir: t.TempDir()})); err != nil {
		t.Fatal(err)
	}
	if err := hub.AddSource("docker-logs", src); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub.Run = %v", err)
		}
	}()
	waitUntil(t, "subscription to the engine's events", func() bool { return src.Stats().Connected })
	const n = 5000
	name := uniqueName("blocked")
	dockertest.Docker(t, "run", "--name", name, "--network", "none", image, "/logger", "-id", name, "-n", fmt.Sprint(n))
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	// Every line is read and goes on into the spool, none to the sink. (Lines of other
	// containers on the engine count too: these waits may end early, never late.)
	waitUntil(t, "every line read while the sink is blocked", func() bool { return src.Stats().Lines >= n })
	waitUntil(t, "every line in the spool", func() bool { return hub.Stats().Sinks["blocked"].Spooled >= n })
	if st := hub.Stats().Sinks["blocked"]; st.Written != 0 {
		t.Errorf("while blocked: %+v", st)
	}
	close(sink.gate)
	waitUntil(t, "every line written", func() bool { return len(of(sink.rec.Messages(), name)) >= n })
	checkNumbered(t, of(sink.rec.Messages(), name), name, n)
}

// A container the engine restarts by its restart policy is read again from each new run's
// first line, and no line of an earlier run twice.
func TestEngineRestartedContainerResumes(t *testing.T) {
	image := dockertest.Image(t)
	engine := dockertest.Engine(t)
	r := start(t, dockerlogs.Config{StateDir: t.TempDir()})
	name := uniqueName("policy")
	dockertest.Docker(t, "run", "-d", "--restart", "always", "--name", name, "--network", "none", image, "/logger", "-id", name, "-n", "10")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	r.waitLines(t, name, 30) // three runs at least
	// The engine refuses to update a container caught between two runs ("cannot update a
	// stopped container"): try again until one lands while it runs.
	waitUntil(t, "update of the restart policy to no", func() bool {
		_, err := dockertest.DockerErr("update", "--restart", "no", name)
		return err == nil
	})
	dockertest.Docker(t, "wait", name)
	info, err := engine.ContainerInspect(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	runs := info.RestartCount + 1
	got := r.waitDone(t, info.ID, name, 10*runs)
	seen := map[string]int{}
	for _, m := range got {
		seen[m.Text]++
	}
	for i := range 10 {
		if want := lines.Line(name, "stdout", i, 10); seen[want] != runs {
			t.Errorf("line %d came %d times in %d runs", i, seen[want], runs)
		}
	}
	if len(got) != 10*runs {
		t.Errorf("%d lines in %d runs of 10", len(got), runs)
	}
}

// A container whose driver the engine cannot read back (GELF here) is followed through the
// engine's dual-logging cache when asked to, and skipped otherwise. What arrives is what the
// engine's cache holds, as docker logs shows it: the engine 20.10 seen here keeps only every
// other line of a GELF container in that cache.
func TestDualLoggingCache(t *testing.T) {
	image := dockertest.Image(t)
	r := start(t, dockerlogs.Config{IncludeGELF: true, DualLogging: true})
	plain := start(t, dockerlogs.Config{IncludeGELF: true})
	name := uniqueName("dual")
	dockertest.Docker(t, "run", "-d", "--name", name, "--network", "none", "--log-driver", "gelf",
		"--log-opt", "gelf-address=udp://127.0.0.1:9", image, "/logger", "-id", name, "-n", "20")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	dockertest.Docker(t, "wait", name)
	cached := strings.Fields(strings.ReplaceAll(dockertest.Docker(t, "logs", name), " ", "_"))
	if len(cached) == 0 {
		t.Fatal("the engine's cache holds no line")
	}
	id := idOf(t, name)
	got := r.waitDone(t, id, name, len(cached))
	waitUntil(t, "the skip without DualLogging", func() bool {
		return plain.src.Stats().Skipped["unreadable_driver"] > 0 && !dockerlogs.Following(plain.src, id)
	})
	var texts []string
	for _, m := range got {
		texts = append(texts, strings.ReplaceAll(m.Text, " ", "_"))
	}
	if diff := cmp.Diff(cached, texts); diff != "" {
		t.Errorf("lines other than docker logs shows (-engine +source):\n%s", diff)
	}
	if got := of(plain.c.Messages(), name); len(got) != 0 {
		t.Errorf("without DualLogging: %d lines, stats %+v", len(got), plain.src.Stats())
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for a Source's log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
