package dockerevents_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/docker/docker/api/types/volume"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/qwatchtest"
)

// made numbers what the conformance checks create.
var made atomic.Int64

// The source keeps the Source contract against a real engine; each volume created is one
// event to emit. Each source makes and closes its own client, so no idle connection of a
// shared one looks like a leaked goroutine.
func TestSourceConformance(t *testing.T) {
	dockertest.Engine(t) // skips, or fails under QWATCH_E2E=1, without an engine
	qwatchtest.TestSource(t, qwatchtest.SourceKit{
		New: func(t *testing.T) qwatch.Source {
			src, err := dockerevents.NewSource(dockerevents.Config{
				Filters: map[string][]string{"type": {"volume"}, "event": {"create"}},
				Logger:  slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			return src
		},
		Feed: func(t *testing.T, n int) {
			ctx := context.Background()
			engine := dockertest.Engine(t) // closed, with its idle connections, when the check ends
			for range n {
				v, err := engine.VolumeCreate(ctx, volume.CreateOptions{Name: fmt.Sprintf("qwatch-conformance-%d", made.Add(1))})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = engine.VolumeRemove(context.Background(), v.Name, true) })
			}
		},
		NewInvalid: func(t *testing.T) error {
			_, err := dockerevents.NewSource(dockerevents.Config{Filters: map[string][]string{"no-such-filter": {"x"}}})
			return err
		},
	})
}

// The same on the fake engine, found from DOCKER_HOST: it runs without an engine.
func TestFakeSourceConformance(t *testing.T) {
	f := dockertest.NewFake(t)
	t.Setenv("DOCKER_HOST", f.Host())
	var latest *dockerevents.Source
	qwatchtest.TestSource(t, qwatchtest.SourceKit{
		New: func(t *testing.T) qwatch.Source {
			src, err := dockerevents.NewSource(dockerevents.Config{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			latest = src
			return src
		},
		Feed: func(t *testing.T, n int) {
			waitConnected(t, latest)
			for range n {
				f.Event("create", web(fmt.Sprint("conformance-", made.Add(1))))
			}
		},
	})
}
