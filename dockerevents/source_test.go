package dockerevents_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/message"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	_ qwatch.Source    = (*dockerevents.Source)(nil)
	_ qwatch.Processor = (*dockerevents.Source)(nil).Enrich
)

type collector struct {
	mu   sync.Mutex
	msgs []message.Message
	slow time.Duration
}

func (c *collector) emit(m message.Message) {
	if c.slow > 0 {
		time.Sleep(c.slow)
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

func (c *collector) all() []message.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]message.Message(nil), c.msgs...)
}

func (c *collector) wait(t *testing.T, n int) []message.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if msgs := c.all(); len(msgs) >= n {
			return msgs
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("got %d of %d messages: %v", len(c.all()), n, texts(c.all()))
	return nil
}

func texts(msgs []message.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

// run starts a Source on the fake engine; the returned function stops it and waits.
func run(t *testing.T, f *fakeEngine, c *collector, cfg dockerevents.Config) (*dockerevents.Source, func()) {
	t.Helper()
	cfg.Client = f.client()
	cfg.Since = time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC)
	cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	if cfg.SeamTimeout == 0 {
		cfg.SeamTimeout = 500 * time.Millisecond
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	src, err := dockerevents.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, c.emit) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return src, stop
}

// events returns the texts of the non-gap messages, and the gap messages.
func split(msgs []message.Message) (evs []string, gaps []message.Message) {
	for _, m := range msgs {
		if m.Event.Type == "qwatch" {
			gaps = append(gaps, m)
		} else {
			evs = append(evs, m.Text)
		}
	}
	return evs, gaps
}

func checkOnce(t *testing.T, got []string, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant each once, in order:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestStreamCutMidwayLosesAndRepeatsNothing(t *testing.T) {
	f := newFakeEngine(t)
	c := &collector{}
	src, stop := run(t, f, c, dockerevents.Config{})
	var want []string
	emitN := func(n int) {
		for range n {
			ev := f.emit("start", "web-"+string(rune('a'+len(want)%26)))
			want = append(want, "container start "+ev.Actor.Attributes["name"]+" (nginx:1.27)")
		}
	}
	waitConnected(t, src)
	emitN(5)
	c.wait(t, 5)
	for range 3 {
		f.cutStreams()
		emitN(4) // while the Source reconnects: must come from the replay
		c.wait(t, len(want))
		waitConnected(t, src)
	}
	time.Sleep(700 * time.Millisecond) // past the seam timeout: no gap may appear late
	stop()
	got, gaps := split(c.all())
	checkOnce(t, got, want)
	if len(gaps) != 0 {
		t.Errorf("gap reported though the replay covered the seam: %v", texts(gaps))
	}
	st := src.Stats()
	if st.Duplicates < 3 || st.Reconnects < 3 || st.Gaps != 0 || st.Events != uint64(len(want)) {
		t.Errorf("stats %+v", st)
	}
}

func waitConnected(t *testing.T, src *dockerevents.Source) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !src.Stats().Connected {
		if time.Now().After(deadline) {
			t.Fatal("source did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the stream's request reach the engine
}

func TestEngineRestartReportsGap(t *testing.T) {
	f := newFakeEngine(t)
	c := &collector{}
	src, stop := run(t, f, c, dockerevents.Config{})
	waitConnected(t, src)
	before := f.emit("start", "before")
	c.wait(t, 1)
	f.setDown(true)
	time.Sleep(100 * time.Millisecond)
	f.restart("ENGINE-2")
	after := f.emit("start", "after") // in the new engine's buffer, replayed on reconnect
	f.setDown(false)
	msgs := c.wait(t, 3)
	stop()
	got, gaps := split(msgs)
	checkOnce(t, got, []string{"container start before (nginx:1.27)", "container start after (nginx:1.27)"})
	if len(gaps) != 1 {
		t.Fatalf("gaps %v, want one", texts(gaps))
	}
	g := gaps[0]
	from := time.Unix(0, before.TimeNano).UTC().Format(time.RFC3339Nano)
	to := time.Unix(0, after.TimeNano).UTC().Format(time.RFC3339Nano)
	if g.Level != message.LevelWarning || g.Kind != message.KindEvent || g.Event.Action != "gap" ||
		g.Event.Attributes["from"] != from || g.Event.Attributes["to"] != to {
		t.Errorf("gap message %+v, want a warning from %s to %s", g, from, to)
	}
	if src.Stats().Gaps != 1 {
		t.Errorf("stats %+v", src.Stats())
	}
}

func TestRestartWithNoNewEventsReportsGapAfterSeamTimeout(t *testing.T) {
	f := newFakeEngine(t)
	c := &collector{}
	src, stop := run(t, f, c, dockerevents.Config{SeamTimeout: 300 * time.Millisecond})
	waitConnected(t, src)
	f.emit("create", "x")
	c.wait(t, 1)
	f.restart("ENGINE-2")
	msgs := c.wait(t, 2)
	stop()
	if _, gaps := split(msgs); len(gaps) != 1 || !strings.Contains(gaps[0].Text, "did not replay the last event") {
		t.Errorf("messages %v, want one gap", texts(msgs))
	}
}

func TestReplayBufferOverrunReportsGap(t *testing.T) {
	f := newFakeEngine(t)
	c := &collector{}
	src, stop := run(t, f, c, dockerevents.Config{})
	waitConnected(t, src)
	f.emit("start", "first")
	c.wait(t, 1)
	f.setDown(true)
	var missed []string
	for range 300 { // more than the engine keeps: the oldest 44 cannot be replayed
		ev := f.emit("start", fmt.Sprint("burst-", len(missed)))
		missed = append(missed, ev.Actor.ID)
	}
	f.setDown(false)
	msgs := c.wait(t, 1+1+256)
	stop()
	got, gaps := split(msgs)
	if len(got) != 257 || len(gaps) != 1 {
		t.Fatalf("%d events and %d gaps, want 257 and 1", len(got), len(gaps))
	}
	if ids := msgs[len(msgs)-256].Event.ActorID; ids != missed[44] {
		t.Errorf("first replayed event is %s, want the 45th of the burst", ids)
	}
}

func TestNoSpinWhileEngineDown(t *testing.T) {
	f := newFakeEngine(t)
	c := &collector{}
	src, stop := run(t, f, c, dockerevents.Config{})
	waitConnected(t, src)
	f.setDown(true)
	time.Sleep(2 * time.Second)
	reconnects := src.Stats().Reconnects
	f.setDown(false)
	waitConnected(t, src)
	stop()
	// Backoff from 20ms doubling to 200ms: about a dozen attempts in two seconds, not thousands.
	if reconnects < 3 || reconnects > 30 {
		t.Errorf("%d reconnection attempts in 2s of downtime", reconnects)
	}
}

func TestSlowConsumerGetsEveryEvent(t *testing.T) {
	f := newFakeEngine(t)
	c := &collector{slow: 2 * time.Millisecond}
	src, stop := run(t, f, c, dockerevents.Config{})
	waitConnected(t, src)
	for range 200 {
		f.emit("start", "s")
	}
	c.wait(t, 200)
	stop()
	if got := len(c.all()); got != 200 {
		t.Errorf("%d of 200 events", got)
	}
}

func TestIgnoreActionsAndEnrich(t *testing.T) {
	f := newFakeEngine(t)
	c := &collector{}
	src, stop := run(t, f, c, dockerevents.Config{IgnoreActions: []string{"exec_create"}})
	waitConnected(t, src)
	created := f.emit("create", "web-1")
	f.emit("exec_create: sh -c true", "web-1")
	f.emit("start", "web-1")
	c.wait(t, 2)

	// A log line from the listed container, by its short ID.
	listed := message.Message{Container: message.Container{ID: strings.Repeat("a", 12)}}
	src.Enrich(&listed)
	if listed.Container.Name != "listed" || listed.Container.ImageName != "busybox:1" || listed.Container.Labels["com.docker.compose.service"] != "db" {
		t.Errorf("enriched from the list: %+v", listed.Container)
	}
	// One created while the Source ran, by its full ID.
	fresh := message.Message{Container: message.Container{ID: created.Actor.ID}}
	src.Enrich(&fresh)
	if fresh.Container.Name != "web-1" || fresh.Container.ImageName != "nginx:1.27" || fresh.Container.Labels["app"] != "web" {
		t.Errorf("enriched from events: %+v", fresh.Container)
	}
	// Names the log already has are kept; events are not touched.
	named := message.Message{Container: message.Container{ID: created.Actor.ID, Name: "given"}}
	src.Enrich(&named)
	if named.Container.Name != "given" {
		t.Errorf("Enrich overwrote a name: %q", named.Container.Name)
	}
	f.emit("destroy", "web-1")
	c.wait(t, 3)
	gone := message.Message{Container: message.Container{ID: created.Actor.ID}}
	src.Enrich(&gone)
	stop()
	if gone.Container.Name != "" {
		t.Errorf("destroyed container still in the inventory: %+v", gone.Container)
	}
	if st := src.Stats(); st.Ignored != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestNewSourceRejectsBadSettings(t *testing.T) {
	for _, tt := range []struct {
		cfg  dockerevents.Config
		want string
	}{
		{dockerevents.Config{Filters: map[string][]string{"tpye": {"container"}}}, `unknown filter "tpye"`},
		{dockerevents.Config{MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "MaxBackoff 1ms is less than MinBackoff 1s"},
	} {
		if _, err := dockerevents.NewSource(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewSource(%+v) = %v, want an error containing %q", tt.cfg, err, tt.want)
		}
	}
}

func TestFiltersReachTheEngine(t *testing.T) {
	f := newFakeEngine(t)
	c := &collector{}
	src, stop := run(t, f, c, dockerevents.Config{Filters: map[string][]string{"type": {"container"}, "label": {"app=web"}}})
	waitConnected(t, src)
	stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !strings.Contains(f.lastFilters, `"type":{"container":true}`) || !strings.Contains(f.lastFilters, `"label":{"app=web":true}`) {
		t.Errorf("filters sent: %s", f.lastFilters)
	}
}
