package dockerevents_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

// waitContainer waits until the inventory holds the container and it satisfies cond.
func waitContainer(t *testing.T, inv *inventory.Inventory, id, what string, cond func(c inventory.Container) bool) inventory.Container {
	t.Helper()
	var c inventory.Container
	waitUntil(t, what, func() bool {
		var ok bool
		c, ok = inv.Get(id)
		return ok && cond(c)
	})
	return c
}

// The inventory is built from the list and inspects at the start, then follows the events:
// each event's news at once, the inspect's after; an inspect that fails leaves what the
// event said.
func TestInventoryOnFake(t *testing.T) {
	f := dockertest.NewFake(t)
	started := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	listed := f.Add(dockertest.Container{Name: "listed", Image: "busybox:1", Cmd: []string{"/bin/sh", "-c", "sleep 1d"},
		Started: started, Labels: map[string]string{"com.docker.compose.service": "db", "com.docker.compose.project": "shop"}})
	inv := inventory.NewWithConfig(inventory.Config{Retention: 200 * time.Millisecond})
	c := &qwatchtest.Collector{}
	src, _ := run(t, f, c, dockerevents.Config{Inventory: inv})
	waitConnected(t, src)

	got := waitContainer(t, inv, listed, "the listed container inspected", func(c inventory.Container) bool { return !c.Started.IsZero() })
	want := inventory.Container{ID: listed, Name: "listed", Image: "busybox:1", ImageID: got.ImageID, Command: "/bin/sh -c sleep 1d",
		Labels:  map[string]string{"com.docker.compose.service": "db", "com.docker.compose.project": "shop"},
		Service: message.Service{Name: "db", Namespace: "shop"}, State: "running", Created: started, Started: started}
	if diff := cmp.Diff(want, got, ignoreTimes); diff != "" || !got.Started.Equal(started) || !strings.HasPrefix(got.ImageID, "sha256:") {
		t.Errorf("listed container (-want +got):\n%s\nstarted %v, want %v", diff, got.Started, started)
	}

	id := f.Run(web("web-1"))
	got = waitContainer(t, inv, id, "web-1 running", func(c inventory.Container) bool { return c.State == "running" && !c.Started.IsZero() })
	if got.Labels["app"] != "web" || got.Image != "nginx:1.27" {
		t.Errorf("web-1 after start: %+v", got)
	}
	f.Stop(id)
	got = waitContainer(t, inv, id, "web-1 exited", func(c inventory.Container) bool { return c.State == "exited" && !c.Finished.IsZero() })
	if got.ExitCode != 0 {
		t.Errorf("exit code %d", got.ExitCode)
	}

	// The engine cannot be asked: the events alone say how the container is.
	f.SetFaults(id, dockertest.Faults{InspectStatus: http.StatusInternalServerError, Message: "busy"})
	f.Start(id)
	waitContainer(t, inv, id, "web-1 running again", func(c inventory.Container) bool { return c.State == "running" })
	dieAt := f.Clock()
	f.Event("die", withAttrs(web("web-1"), map[string]string{"exitCode": "3"}))
	f.Event("health_status: unhealthy", web("web-1"))
	got = waitContainer(t, inv, id, "web-1 died, from the event", func(c inventory.Container) bool {
		return c.State == "exited" && c.ExitCode == 3 && c.Health == "unhealthy"
	})
	if got.Finished.UnixNano() <= dieAt {
		t.Errorf("finished %v, want the die event's time, after %v", got.Finished, time.Unix(0, dieAt))
	}
	waitUntil(t, "inspect errors counted", func() bool { return src.Stats().InspectErrors > 0 })

	// Destroyed: shown as such, unknown to Enrich, gone after the retention.
	f.SetFaults(id, dockertest.Faults{})
	f.Remove(id)
	waitContainer(t, inv, id, "web-1 destroyed", func(c inventory.Container) bool { return c.State == inventory.StateDestroyed })
	if _, ok := src.Labels(id); ok {
		t.Error("Labels knows a destroyed container")
	}
	waitUntil(t, "web-1 gone after the retention", func() bool { _, ok := inv.Get(id); return !ok })
	waitUntil(t, "web-1 expired from memory", func() bool { return inv.Stats().Expired == 1 })
	if st := src.Stats(); st.Containers != 1 {
		t.Errorf("Stats.Containers %d, want 1", st.Containers)
	}
}

// A container removed while the Source was not connected is destroyed in the inventory when
// the reconnection's list lacks it; one created meanwhile is in it.
func TestInventoryRebuiltAfterReconnect(t *testing.T) {
	f := dockertest.NewFake(t)
	old := f.Add(dockertest.Container{Name: "old", Started: time.Now()})
	inv := inventory.New()
	c := &qwatchtest.Collector{}
	src, _ := run(t, f, c, dockerevents.Config{Inventory: inv})
	waitConnected(t, src)
	waitContainer(t, inv, old, "old listed", func(c inventory.Container) bool { return c.State == "running" })

	f.SetDown(true)
	waitUntil(t, "the stream down", func() bool { return !src.Stats().Connected })
	f.Remove(old)
	fresh := f.Add(dockertest.Container{Name: "fresh", Started: time.Now()})
	f.Restart("FAKE-ENGINE-2") // the events of the removal are lost with the engine's buffer
	f.SetDown(false)
	waitContainer(t, inv, old, "old destroyed", func(c inventory.Container) bool { return c.State == inventory.StateDestroyed })
	waitContainer(t, inv, fresh, "fresh listed", func(c inventory.Container) bool { return c.State == "running" && !c.Started.IsZero() })
}

func withAttrs(c dockertest.Container, attrs map[string]string) dockertest.Container {
	labels := map[string]string{}
	for k, v := range c.Labels {
		labels[k] = v
	}
	for k, v := range attrs {
		labels[k] = v
	}
	c.Labels = labels
	return c
}

// ignoreTimes leaves out the times compared on their own.
var ignoreTimes = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".Changed", ".Created", ".Started", ".Finished", ".Logs":
		return true
	}
	return false
}, cmp.Ignore())

// TestRealEngineInventory follows containers of a real engine through the inventory:
// created, started, one whose restart policy restarts it after each non-zero exit (its
// restart count grows), and destroyed (shown as such, then gone after the retention).
func TestRealEngineInventory(t *testing.T) {
	engine := dockertest.Engine(t)
	image := dockertest.Image(t)
	inv := inventory.NewWithConfig(inventory.Config{Retention: 2 * time.Second})
	src, err := dockerevents.NewSource(dockerevents.Config{Client: engine, Inventory: inv, MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 500 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, (&qwatchtest.Collector{}).Emit) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	waitConnected(t, src)

	prefix := "inv-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "-")
	// A container that exits with 2 (an unknown flag) and is restarted up to three times.
	crashing := prefix + "-crash"
	id := strings.TrimSpace(dockertest.Docker(t, "create", "--name", crashing, "--network", "none",
		"--restart", "on-failure:3", "--label", "com.docker.compose.service=crasher", image, "/logger", "-no-such-flag"))
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", crashing) })
	got := waitContainer(t, inv, id, "the container created and inspected", func(c inventory.Container) bool {
		return c.State == "created" && c.ImageID != ""
	})
	if got.Name != crashing || got.Image != image || got.Service.Name != "crasher" || got.Command != "/logger -no-such-flag" {
		t.Errorf("created: %+v", got)
	}
	dockertest.Docker(t, "start", crashing)
	got = waitContainer(t, inv, id, "three restarts, then exited", func(c inventory.Container) bool {
		return c.RestartCount == 3 && c.State == "exited"
	})
	if got.ExitCode != 2 || got.Started.IsZero() || got.Finished.Before(got.Started) {
		t.Errorf("after the restarts: %+v", got)
	}

	// A container that runs, then is removed.
	short := prefix + "-short"
	id2 := strings.TrimSpace(dockertest.Docker(t, "run", "-d", "--name", short, "--network", "none", image, "/logger", "-n", "100000", "-every", "10ms"))
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", short) })
	waitContainer(t, inv, id2, "running", func(c inventory.Container) bool { return c.State == "running" && !c.Started.IsZero() })
	dockertest.Docker(t, "rm", "-f", short)
	got = waitContainer(t, inv, id2, "destroyed", func(c inventory.Container) bool { return c.State == inventory.StateDestroyed })
	if got.ExitCode != 137 || got.Finished.IsZero() {
		t.Errorf("killed container: exit code %d, finished %v; want 137 and a time", got.ExitCode, got.Finished)
	}
	waitUntil(t, "the destroyed container gone after the retention", func() bool { _, ok := inv.Get(id2); return !ok })
}

// blockInspects holds every inspect request until release is closed.
type blockInspects struct {
	release chan struct{}
	held    atomic.Int64
}

func (b *blockInspects) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/containers/") &&
		strings.HasSuffix(r.URL.Path, "/json") && !strings.HasSuffix(r.URL.Path, "/containers/json") {
		b.held.Add(1)
		select {
		case <-b.release:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// Inspects that do not answer hold up neither the events nor what they say in the inventory.
func TestInventoryInspectsNeverHoldEvents(t *testing.T) {
	f := dockertest.NewFake(t)
	block := &blockInspects{release: make(chan struct{})}
	cl, err := client.NewClientWithOpts(client.WithHost(f.Host()), client.WithHTTPClient(&http.Client{Transport: block}),
		client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	inv := inventory.New()
	col := &qwatchtest.Collector{}
	src, err := dockerevents.NewSource(dockerevents.Config{Client: cl, Inventory: inv, Since: time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, col.Emit) }()
	defer func() {
		close(block.release)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	waitConnected(t, src)
	const n = 50
	ids := make([]string, n)
	for i := range ids {
		ids[i] = f.Run(web(fmt.Sprintf("web-%d", i)))
	}
	waitN(t, col, 2*n)
	for _, id := range ids {
		if c, ok := inv.Get(id); !ok || c.State != "running" || c.Started.IsZero() {
			t.Fatalf("%s from its events: %+v", id[:12], c)
		}
	}
	// The proof that inspects were asked for, and held, meanwhile.
	waitUntil(t, "an inspect held", func() bool { return block.held.Load() > 0 })
}
