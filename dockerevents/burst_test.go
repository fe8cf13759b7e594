package dockerevents_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

// engineRecord asks the engine for its own record of the container events of label between
// since and until, as identities comparable with what the Source emitted.
func engineRecord(t *testing.T, since, until time.Time, label string) []string {
	t.Helper()
	engine := dockertest.Engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, errs := engine.Events(ctx, events.ListOptions{
		Since:   fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Until:   fmt.Sprintf("%d.%09d", until.Unix(), until.Nanosecond()),
		Filters: filters.NewArgs(filters.Arg("type", "container"), filters.Arg("label", label)),
	})
	var out []string
	for {
		select {
		case ev := <-msgs:
			out = append(out, fmt.Sprint(ev.Action, " ", ev.Actor.ID, " ", ev.TimeNano))
		case err := <-errs:
			if err != nil && !strings.Contains(err.Error(), "EOF") {
				t.Fatalf("engine's record: %v", err)
			}
			slices.Sort(out)
			return out
		}
	}
}

func identities(msgs []message.Message, label string) []string {
	var out []string
	for _, m := range msgs {
		if m.Event.Type == "container" && m.Container.Labels[label] != "" {
			out = append(out, fmt.Sprint(m.Event.Action, " ", m.Event.ActorID, " ", m.Time.UnixNano()))
		}
	}
	slices.Sort(out)
	return out
}

// 25 containers at once: the engine's live stream comes out of time order, and the Source
// emits every event the engine itself recorded, none twice, and each container's create,
// start, die and destroy once.
func TestRealEngineBurstMatchesEngineRecord(t *testing.T) {
	engine := dockertest.Engine(t)
	image := dockertest.Image(t)
	label := fmt.Sprintf("qwatch.burst=%d", time.Now().UnixNano())
	key, _, _ := strings.Cut(label, "=")
	for round := range 3 {
		col := &qwatchtest.Collector{}
		src := runReal(t, engine, col)
		since := time.Now()
		var wg sync.WaitGroup
		for i := range 25 {
			wg.Go(func() {
				dockertest.Docker(t, "run", "--rm", "--network", "none", "--label", label,
					"--name", fmt.Sprintf("qwatch-burst-%d-%d-%d", round, i, time.Now().UnixNano()%1e6), image, "/logger", "-n", "1")
			})
		}
		wg.Wait()
		// docker run --rm returns once the container is removed: the engine has stamped
		// every event of the round. Once the Source has them all, until covers them.
		waitUntil(t, "the round's destroy events", func() bool {
			destroyed := 0
			for _, m := range col.Messages() {
				if m.Event.Type == "container" && m.Event.Action == "destroy" && m.Container.Labels[key] == label[len(key)+1:] {
					destroyed++
				}
			}
			return destroyed == 25
		})
		until := time.Now()
		want := engineRecord(t, since, until, label)
		var got []string
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if got = identities(col.Messages(), key); len(missing(want, got)) == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The engine's record comes from its buffer of the last 256 events, which other
		// tests' containers on the same engine may have pushed early events out of: every
		// event it recorded must have been emitted, and no event emitted twice.
		if m := missing(want, got); len(m) > 0 {
			t.Errorf("round %d: %d events the engine recorded were not emitted: %v", round, len(m), m)
		}
		for i := 1; i < len(got); i++ {
			if got[i] == got[i-1] {
				t.Errorf("round %d: %s emitted twice", round, got[i])
			}
		}
		perContainer := map[string]int{}
		for _, m := range col.Messages() {
			if m.Event.Type == "container" && m.Container.Labels[key] != "" {
				switch m.Event.Action {
				case "create", "start", "die", "destroy":
					perContainer[m.Event.ActorID]++
				}
			}
		}
		for id, n := range perContainer {
			if n != 4 {
				t.Errorf("round %d: container %s: %d of create, start, die and destroy", round, id[:12], n)
			}
		}
		if len(perContainer) != 25 {
			t.Errorf("round %d: events of %d containers, want 25", round, len(perContainer))
		}
		if d := src.Stats().Duplicates; d != 0 {
			t.Errorf("round %d: %d live events dropped as duplicates", round, d)
		}
	}
}

func missing(from, in []string) []string {
	var out []string
	for _, s := range from {
		if !slices.Contains(in, s) {
			out = append(out, s)
		}
	}
	return out
}

// Events while no Source runs are emitted by the next one on the same state file.
func TestRealEngineStateFileCoversDowntime(t *testing.T) {
	engine := dockertest.Engine(t)
	image := dockertest.Image(t)
	state := filepath.Join(t.TempDir(), "events.json")
	newSource := func() (*dockerevents.Source, *qwatchtest.Collector, func()) {
		src, err := dockerevents.NewSource(dockerevents.Config{Client: engine, StateFile: state,
			Filters: map[string][]string{"type": {"container"}}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		col := &qwatchtest.Collector{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- src.Run(ctx, col.Emit) }()
		waitConnected(t, src)
		return src, col, func() { cancel(); <-done }
	}
	_, col1, stop1 := newSource()
	name1 := fmt.Sprintf("qwatch-before-%d", time.Now().UnixNano())
	dockertest.Docker(t, "create", "--name", name1, "--network", "none", image, "/logger", "-n", "1")
	waitFor(t, col1, "create before", func(m message.Message) bool { return m.Container.Name == name1 })
	stop1()
	name2 := fmt.Sprintf("qwatch-while-down-%d", time.Now().UnixNano())
	dockertest.Docker(t, "create", "--name", name2, "--network", "none", image, "/logger", "-n", "1")
	dockertest.Docker(t, "rm", name1, name2)
	_, col2, stop2 := newSource()
	defer stop2()
	waitFor(t, col2, "create while down", func(m message.Message) bool {
		return m.Container.Name == name2 && m.Event.Action == "create"
	})
	waitFor(t, col2, "destroy while down", func(m message.Message) bool {
		return m.Container.Name == name2 && m.Event.Action == "destroy"
	})
	for _, m := range col2.Messages() {
		if m.Container.Name == name1 && m.Event.Action == "create" {
			t.Errorf("the create of %s, emitted before the restart, came again", name1)
		}
		if m.Event.Type == "qwatch" {
			t.Errorf("gap reported: %s", m.Text)
		}
	}
}
