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
)

// gated is an emit that blocks until its gate opens, as a Hub's does while a Block sink is
// slow.
type gated struct {
	collector
	gate chan struct{}
}

func newGated() *gated { return &gated{gate: make(chan struct{})} }

func (g *gated) emit(m message.Message) {
	<-g.gate
	g.collector.emit(m)
}

// startGated runs a Source whose emit blocks until the gate opens; stop cancels it and
// returns Run's error.
func startGated(t *testing.T, g *gated, cfg dockerevents.Config) (src *dockerevents.Source, stop func() error) {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	src, err := dockerevents.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, g.emit) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() {
		select {
		case <-g.gate:
		default:
			close(g.gate)
		}
		stop()
	})
	waitConnected(t, src)
	return src, stop
}

func waitStats(t *testing.T, src *dockerevents.Source, what string, ok func(dockerevents.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok(src.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s: stats %+v", what, src.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// While emit blocks, the Source reads on into a backlog bounded in bytes; what does not fit
// is dropped, counted and reported as a gap with the window of the events dropped.
func TestFullBacklogDropsAreCountedAndReported(t *testing.T) {
	f := newFakeEngine(t)
	g := newGated()
	src, stop := startGated(t, g, dockerevents.Config{Client: f.client(), MaxBacklogBytes: 16 << 10,
		Since: time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC)})
	var sent []int64
	for i := range 200 {
		sent = append(sent, f.emit("start", fmt.Sprint("c-", i)).TimeNano)
	}
	// Every event is read while emit blocks on the first: held, or dropped for lack of room.
	waitStats(t, src, "event read", func(st dockerevents.Stats) bool { return uint64(st.Backlog)+st.Dropped == 200 })
	close(g.gate)
	waitStats(t, src, "event emitted", func(st dockerevents.Stats) bool { return st.Backlog == 0 && st.Gaps > 0 })
	if err := stop(); err != nil {
		t.Errorf("Run = %v", err)
	}
	st := src.Stats()
	evs, gaps := split(g.all())
	if st.Dropped == 0 || st.Events+st.Dropped != 200 || uint64(len(evs)) != st.Events || len(gaps) != 1 || st.Gaps != 1 {
		t.Fatalf("%d events and %d gaps emitted; stats %+v", len(evs), len(gaps), st)
	}
	// The events kept are the first ones read; the gap covers exactly the rest.
	from, to := time.Unix(0, sent[st.Events]).UTC().Format(time.RFC3339Nano), time.Unix(0, sent[199]).UTC().Format(time.RFC3339Nano)
	if a := gaps[0].Event.Attributes; a["from"] != from || a["to"] != to {
		t.Errorf("gap %v, want from %s to %s", a, from, to)
	}
}

// Events read before shutdown are emitted before Run returns, however long emit blocked.
func TestShutdownEmitsTheBacklog(t *testing.T) {
	f := newFakeEngine(t)
	g := newGated()
	src, stop := startGated(t, g, dockerevents.Config{Client: f.client(), Since: time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC)})
	for i := range 300 {
		f.emit("start", fmt.Sprint("c-", i))
	}
	waitStats(t, src, "backlog", func(st dockerevents.Stats) bool { return st.Backlog == 300 })
	stopped := make(chan error)
	go func() { stopped <- stop() }()
	time.Sleep(50 * time.Millisecond) // Run is cancelled while emit still blocks
	close(g.gate)
	if err := <-stopped; err != nil {
		t.Errorf("Run = %v", err)
	}
	if evs, gaps := split(g.all()); len(evs) != 300 || len(gaps) != 0 {
		t.Errorf("%d of 300 events emitted, gaps %v; stats %+v", len(evs), texts(gaps), src.Stats())
	}
}

// The engine skips, without a word, the events of a subscriber that has 1,024 waiting for
// more than 100 ms. With emit blocked while 2,000 volumes are created, the Source must keep
// reading: every event is emitted once emit runs again.
func TestRealEngineBlockedEmitLosesNothing(t *testing.T) {
	engine := dockertest.Engine(t)
	g := newGated()
	prefix := fmt.Sprintf("qwatch-backlog-%d-", time.Now().UnixNano())
	src, _ := startGated(t, g, dockerevents.Config{Client: engine, Filters: map[string][]string{"type": {"volume"}}})
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
	close(g.gate)
	created := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for len(created) < total && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		clear(created)
		for _, m := range g.all() {
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
