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
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	_ qwatch.Source    = (*dockerevents.Source)(nil)
	_ qwatch.Processor = (*dockerevents.Source)(nil).Enrich
)

// waitN waits until c holds n messages, and returns them.
func waitN(t *testing.T, c *qwatchtest.Collector, n int) []message.Message {
	t.Helper()
	msgs, err := c.WaitFor(n, 20*time.Second)
	if err != nil {
		t.Fatalf("%v: %v", err, texts(msgs))
	}
	return msgs
}

// waitFor waits until c holds a message that matches, and returns it.
func waitFor(t *testing.T, c *qwatchtest.Collector, what string, match func(message.Message) bool) message.Message {
	t.Helper()
	var found message.Message
	waitUntil(t, what, func() bool {
		for _, m := range c.Messages() {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
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

// web is a container as the tests' events describe it.
func web(name string) dockertest.Container {
	return dockertest.Container{Name: name, Image: "nginx:1.27", Labels: map[string]string{"app": "web"}}
}

func texts(msgs []message.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

// seamTimeout is the tests' Config.SeamTimeout unless they set one.
const seamTimeout = 500 * time.Millisecond

// run starts a Source on the fake engine; the returned function stops it and waits.
func run(t *testing.T, f *dockertest.Fake, c *qwatchtest.Collector, cfg dockerevents.Config) (*dockerevents.Source, func()) {
	t.Helper()
	cfg.Client = f.Client()
	cfg.Since = time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC)
	cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	if cfg.SeamTimeout == 0 {
		cfg.SeamTimeout = seamTimeout
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	src, err := dockerevents.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, c.Emit) }()
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
	f := dockertest.NewFake(t)
	c := &qwatchtest.Collector{}
	src, stop := run(t, f, c, dockerevents.Config{})
	var want []string
	emitN := func(n int) {
		for range n {
			ev := f.Event("start", web("web-"+string(rune('a'+len(want)%26))))
			want = append(want, "container start "+ev.Actor.Attributes["name"]+" (nginx:1.27)")
		}
	}
	waitConnected(t, src)
	emitN(5)
	waitN(t, c, 5)
	for range 3 {
		duplicates := src.Stats().Duplicates
		f.CutStreams()
		emitN(4) // while the Source reconnects: must come from the replay
		waitN(t, c, len(want))
		// The replay sends the events seen before the new ones: by now the seam is proven.
		if src.Stats().Duplicates == duplicates {
			t.Fatalf("the new events came before any replayed one: stats %+v", src.Stats())
		}
	}
	// A gap found missing by the seam check would be reported at the seam timeout: only
	// waiting past it shows that none comes.
	time.Sleep(2 * seamTimeout)
	stop()
	got, gaps := split(c.Messages())
	checkOnce(t, got, want)
	if len(gaps) != 0 {
		t.Errorf("gap reported though the replay covered the seam: %v", texts(gaps))
	}
	st := src.Stats()
	if st.Duplicates < 3 || st.Reconnects < 3 || st.Gaps != 0 || st.Events != uint64(len(want)) {
		t.Errorf("stats %+v", st)
	}
}

// waitConnected waits until the Source has subscribed and listed the containers. Events
// sent from then on reach it even if its request is still on the way: it subscribes with a
// since, and the engine replays them.
func waitConnected(t *testing.T, src *dockerevents.Source) {
	t.Helper()
	waitStats(t, src, "connection", func(st dockerevents.Stats) bool { return st.Connected })
}

func TestEngineRestartReportsGap(t *testing.T) {
	f := dockertest.NewFake(t)
	c := &qwatchtest.Collector{}
	src, stop := run(t, f, c, dockerevents.Config{})
	waitConnected(t, src)
	before := f.Event("start", web("before"))
	waitN(t, c, 1)
	f.SetDown(true)
	waitStats(t, src, "disconnection", func(st dockerevents.Stats) bool { return !st.Connected })
	f.Restart("ENGINE-2")
	after := f.Event("start", web("after")) // in the new engine's buffer, replayed on reconnect
	f.SetDown(false)
	msgs := waitN(t, c, 3)
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
	f := dockertest.NewFake(t)
	c := &qwatchtest.Collector{}
	src, stop := run(t, f, c, dockerevents.Config{SeamTimeout: 300 * time.Millisecond})
	waitConnected(t, src)
	f.Event("create", web("x"))
	waitN(t, c, 1)
	f.Restart("ENGINE-2")
	msgs := waitN(t, c, 2)
	stop()
	if _, gaps := split(msgs); len(gaps) != 1 || !strings.Contains(gaps[0].Text, "did not replay the last event") {
		t.Errorf("messages %v, want one gap", texts(msgs))
	}
}

func TestReplayBufferOverrunReportsGap(t *testing.T) {
	f := dockertest.NewFake(t)
	c := &qwatchtest.Collector{}
	src, stop := run(t, f, c, dockerevents.Config{})
	waitConnected(t, src)
	f.Event("start", web("first"))
	waitN(t, c, 1)
	f.SetDown(true)
	var missed []string
	for range 300 { // more than the engine keeps: the oldest 44 cannot be replayed
		ev := f.Event("start", web(fmt.Sprint("burst-", len(missed))))
		missed = append(missed, ev.Actor.ID)
	}
	f.SetDown(false)
	msgs := waitN(t, c, 1+1+256)
	stop()
	got, gaps := split(msgs)
	if len(got) != 257 || len(gaps) != 1 {
		t.Fatalf("%d events and %d gaps, want 257 and 1", len(got), len(gaps))
	}
	if ids := msgs[len(msgs)-256].Event.ActorID; ids != missed[44] {
		t.Errorf("first replayed event is %s, want the 45th of the burst", ids)
	}
}

// While the engine is down, the attempts to reconnect back off: 20ms doubling up to 200ms,
// each ±20%, so eight attempts take at least 0.8 × (20+40+80+160+200+200+200) ms; a loop
// without backoff would make them in a few milliseconds.
func TestNoSpinWhileEngineDown(t *testing.T) {
	f := dockertest.NewFake(t)
	c := &qwatchtest.Collector{}
	src, stop := run(t, f, c, dockerevents.Config{})
	waitConnected(t, src)
	f.SetDown(true)
	began := time.Now()
	waitStats(t, src, "eight attempts", func(st dockerevents.Stats) bool { return st.Reconnects >= 8 })
	took := time.Since(began)
	f.SetDown(false)
	waitConnected(t, src)
	stop()
	if least := 720 * time.Millisecond; took < least {
		t.Errorf("eight attempts in %v, want at least %v", took, least)
	}
}

func TestSlowConsumerGetsEveryEvent(t *testing.T) {
	f := dockertest.NewFake(t)
	c := &qwatchtest.Collector{OnEmit: func(message.Message) { time.Sleep(2 * time.Millisecond) }}
	src, stop := run(t, f, c, dockerevents.Config{})
	waitConnected(t, src)
	for range 200 {
		f.Event("start", web("s"))
	}
	waitN(t, c, 200)
	stop()
	if got := len(c.Messages()); got != 200 {
		t.Errorf("%d of 200 events", got)
	}
}

func TestIgnoreActionsAndEnrich(t *testing.T) {
	f := dockertest.NewFake(t)
	f.Add(dockertest.Container{ID: strings.Repeat("a", 64), Name: "listed", Image: "busybox:1",
		Labels: map[string]string{"com.docker.compose.service": "db"}})
	c := &qwatchtest.Collector{}
	src, stop := run(t, f, c, dockerevents.Config{IgnoreActions: []string{"exec_create"}})
	waitConnected(t, src)
	created := f.Event("create", web("web-1"))
	f.Event("exec_create: sh -c true", web("web-1"))
	f.Event("start", web("web-1"))
	waitN(t, c, 2)

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
	// Labels that are empty, though not nil, are filled too.
	empty := message.Message{Container: message.Container{ID: created.Actor.ID, Labels: map[string]string{}}}
	src.Enrich(&empty)
	if empty.Container.Labels["app"] != "web" {
		t.Errorf("empty labels not enriched: %+v", empty.Container)
	}
	// Labels answers from the same inventory, by either form of the ID.
	if l, ok := src.Labels(strings.Repeat("a", 12)); !ok || l["com.docker.compose.service"] != "db" {
		t.Errorf("Labels(listed) = %v, %v", l, ok)
	}
	if l, ok := src.Labels(created.Actor.ID); !ok || l["app"] != "web" {
		t.Errorf("Labels(created) = %v, %v", l, ok)
	}
	if _, ok := src.Labels(strings.Repeat("f", 64)); ok {
		t.Error("Labels knows a container the engine never had")
	}
	// Names the log already has are kept; events are not touched.
	named := message.Message{Container: message.Container{ID: created.Actor.ID, Name: "given"}}
	src.Enrich(&named)
	if named.Container.Name != "given" {
		t.Errorf("Enrich overwrote a name: %q", named.Container.Name)
	}
	f.Event("destroy", web("web-1"))
	waitN(t, c, 3)
	gone := message.Message{Container: message.Container{ID: created.Actor.ID}}
	src.Enrich(&gone)
	if _, ok := src.Labels(created.Actor.ID); ok {
		t.Error("Labels knows a destroyed container")
	}
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
	f := dockertest.NewFake(t)
	c := &qwatchtest.Collector{}
	src, stop := run(t, f, c, dockerevents.Config{Filters: map[string][]string{"type": {"container"}, "label": {"app=web"}}})
	waitConnected(t, src)
	stop()
	if sent := f.EventFilters(); !strings.Contains(sent, `"type":{"container":true}`) || !strings.Contains(sent, `"label":{"app=web":true}`) {
		t.Errorf("filters sent: %s", sent)
	}
}
