package dockerevents_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/volume"

	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

// startGated runs a Source whose emit blocks until the gate closes, as a Hub's does while a
// Block sink is slow. cancel cancels Run's context; wait waits for Run and returns its error.
func startGated(t *testing.T, gate chan struct{}, cfg dockerevents.Config) (src *dockerevents.Source, c *qwatchtest.Collector, cancel func(), wait func() error) {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	src, err := dockerevents.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c = &qwatchtest.Collector{OnEmit: func(message.Message) { <-gate }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, c.Emit) }()
	var once sync.Once
	var runErr error
	wait = func() error {
		once.Do(func() { runErr = <-done })
		return runErr
	}
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
		cancel()
		wait()
	})
	waitConnected(t, src)
	return src, c, cancel, wait
}

func waitStats(t *testing.T, src *dockerevents.Source, what string, ok func(dockerevents.Stats) bool) {
	t.Helper()
	waitUntil(t, what, func() bool { return ok(src.Stats()) })
}

// While emit blocks, the Source reads on into a backlog bounded in bytes; what does not fit
// is dropped, counted and reported as a gap with the window of the events dropped. Whether
// the Source took a first batch before the backlog filled up is up to the scheduler, so
// drops may form more than one window: each event is emitted or inside exactly one window.
func TestFullBacklogDropsAreCountedAndReported(t *testing.T) {
	f := dockertest.NewFake(t)
	gate := make(chan struct{})
	src, c, cancel, wait := startGated(t, gate, dockerevents.Config{Client: f.Client(), MaxBacklogBytes: 16 << 10,
		Since: time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC)})
	var sent []int64
	for i := range 200 {
		sent = append(sent, f.Event("start", web(fmt.Sprint("c-", i))).TimeNano)
	}
	// Every event is read while emit blocks on the first: held, or dropped for lack of room.
	waitStats(t, src, "event read", func(st dockerevents.Stats) bool { return uint64(st.Backlog)+st.Dropped == 200 })
	close(gate)
	waitStats(t, src, "event emitted", func(st dockerevents.Stats) bool { return st.Events+st.Dropped == 200 && st.Backlog == 0 })
	cancel()
	if err := wait(); err != nil {
		t.Errorf("Run = %v", err)
	}
	st := src.Stats()
	evs, gaps := split(c.Messages())
	if st.Dropped == 0 || uint64(len(evs)) != st.Events || len(gaps) == 0 || uint64(len(gaps)) != st.Gaps {
		t.Fatalf("%d events and %d gaps emitted; stats %+v", len(evs), len(gaps), st)
	}
	emitted := map[int64]bool{}
	for _, m := range c.Messages() {
		if m.Event.Type != "qwatch" {
			emitted[m.Time.UnixNano()] = true
		}
	}
	var windows [][2]time.Time
	for _, g := range gaps {
		from, err1 := time.Parse(time.RFC3339Nano, g.Event.Attributes["from"])
		to, err2 := time.Parse(time.RFC3339Nano, g.Event.Attributes["to"])
		if err1 != nil || err2 != nil {
			t.Fatalf("gap window %v", g.Event.Attributes)
		}
		windows = append(windows, [2]time.Time{from, to})
	}
	for i, at := range sent {
		in := 0
		for _, w := range windows {
			if !time.Unix(0, at).Before(w[0]) && !time.Unix(0, at).After(w[1]) {
				in++
			}
		}
		if emitted[at] == (in > 0) || in > 1 {
			t.Errorf("event %d: emitted %v, in %d gap windows %v", i, emitted[at], in, windows)
		}
	}
}

// Events read before shutdown are emitted before Run returns, however long emit blocked.
func TestShutdownEmitsTheBacklog(t *testing.T) {
	f := dockertest.NewFake(t)
	gate := make(chan struct{})
	src, c, cancel, wait := startGated(t, gate, dockerevents.Config{Client: f.Client(), Since: time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC)})
	for i := range 300 {
		f.Event("start", web(fmt.Sprint("c-", i)))
	}
	waitStats(t, src, "backlog", func(st dockerevents.Stats) bool { return st.Backlog == 300 })
	cancel() // while emit still blocks
	close(gate)
	if err := wait(); err != nil {
		t.Errorf("Run = %v", err)
	}
	if evs, gaps := split(c.Messages()); len(evs) != 300 || len(gaps) != 0 {
		t.Errorf("%d of 300 events emitted, gaps %v; stats %+v", len(evs), texts(gaps), src.Stats())
	}
}

// The engine skips, without a word, the events of a subscriber that has 1,024 waiting for
// more than 100 ms. With emit blocked while 2,000 volumes are created, the Source must keep
// reading: every event is emitted once emit runs again.
func TestRealEngineBlockedEmitLosesNothing(t *testing.T) {
	engine := dockertest.Engine(t)
	gate := make(chan struct{})
	prefix := fmt.Sprintf("qwatch-backlog-%d-", time.Now().UnixNano())
	src, c, _, _ := startGated(t, gate, dockerevents.Config{Client: engine, Filters: map[string][]string{"type": {"volume"}}})
	const total, workers = 2000, 8
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < total; i += workers {
				if _, err := engine.VolumeCreate(context.Background(), volume.CreateOptions{Name: fmt.Sprint(prefix, i)}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for i := range total {
			engine.VolumeRemove(context.Background(), fmt.Sprint(prefix, i), true)
		}
	})
	close(errs)
	for err := range errs {
		t.Fatalf("creating volumes: %v", err)
	}
	close(gate)
	created := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for len(created) < total && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		clear(created)
		for _, m := range c.Messages() {
			if m.Event.Type == "volume" && m.Event.Action == "create" && len(m.Event.ActorID) > len(prefix) && m.Event.ActorID[:len(prefix)] == prefix {
				created[m.Event.ActorID]++
			}
		}
	}
	for id, n := range created {
		if n != 1 {
			t.Errorf("volume %s: %d create events", id, n)
		}
	}
	if st := src.Stats(); len(created) != total || st.Dropped != 0 || st.Gaps != 0 {
		t.Errorf("%d of %d volume create events emitted; stats %+v", len(created), total, st)
	}
}
