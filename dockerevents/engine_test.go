package dockerevents_test

import (
	"archive/tar"
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/internal/dockerclient"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

// runReal runs a Source against a real engine until the test ends.
func runReal(t *testing.T, c *client.Client, col *qwatchtest.Collector) *dockerevents.Source {
	t.Helper()
	src, err := dockerevents.NewSource(dockerevents.Config{Client: c, MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 500 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, col.Emit) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	waitConnected(t, src)
	return src
}

func count(msgs []message.Message, typ, action, actor string) int {
	n := 0
	for _, m := range msgs {
		if m.Event.Type == typ && m.Event.Action == action && (m.Event.ActorID == actor || m.Event.Attributes["name"] == actor) {
			n++
		}
	}
	return n
}

func TestRealEngineEvents(t *testing.T) {
	engine := dockertest.Engine(t)
	image := dockertest.Image(t)
	col := &qwatchtest.Collector{}
	src := runReal(t, engine, col)

	name := "qwatch-events-" + time.Now().Format("150405.000000")
	name = strings.ReplaceAll(name, ".", "-")
	id := strings.TrimSpace(dockertest.Docker(t, "create", "--name", name, "--network", "none",
		"--label", "com.docker.compose.service=web", image, "/logger", "-n", "1"))
	dockertest.Docker(t, "start", "-a", name)
	dockertest.Docker(t, "rm", name)
	tag := "qwatch-tagged:" + name
	dockertest.Docker(t, "tag", image, tag)
	dockertest.Docker(t, "rmi", tag)
	dockertest.Docker(t, "volume", "create", name)
	dockertest.Docker(t, "volume", "rm", name)
	dockertest.Docker(t, "network", "create", name)
	dockertest.Docker(t, "network", "rm", name)

	waitFor(t, col, "network destroy", func(m message.Message) bool {
		return m.Event.Type == "network" && m.Event.Action == "destroy" && m.Event.Attributes["name"] == name
	})
	msgs := col.Messages()
	for _, action := range []string{"create", "start", "die", "destroy"} {
		if n := count(msgs, "container", action, id); n != 1 {
			t.Errorf("container %s: %d events, want 1", action, n)
		}
	}
	for _, m := range msgs {
		if m.Event.Type != "container" || m.Event.ActorID != id {
			continue
		}
		if m.Container.ID != id || m.Container.Name != name || m.Container.ImageName != image ||
			m.Container.Labels["com.docker.compose.service"] != "web" || m.Kind != message.KindEvent || m.Host == "" {
			t.Errorf("container %s event fields: %+v", m.Event.Action, m)
		}
		if m.Event.Action == "start" && m.Text != "container start "+name+" ("+image+")" {
			t.Errorf("text %q", m.Text)
		}
		if m.Event.Action == "die" && (m.Event.Attributes["exitCode"] != "0" || m.Level != message.LevelInfo) {
			t.Errorf("die: exit code %q level %v", m.Event.Attributes["exitCode"], m.Level)
		}
	}
	if n := count(msgs, "image", "tag", tag); n != 1 {
		t.Errorf("image tag: %d events, want 1", n)
	}
	// An untag event names the image by its ID, not the tag removed.
	if countUntagAny(msgs) < 1 {
		t.Errorf("image untag: no event")
	}
	for _, action := range []string{"create", "destroy"} {
		if n := count(msgs, "volume", action, name); n != 1 {
			t.Errorf("volume %s: %d events, want 1", action, n)
		}
		if n := count(msgs, "network", action, name); n != 1 {
			t.Errorf("network %s: %d events, want 1", action, n)
		}
	}
	if st := src.Stats(); st.Gaps != 0 || st.Duplicates != 0 {
		t.Errorf("stats %+v", st)
	}
}

func countUntagAny(msgs []message.Message) int {
	n := 0
	for _, m := range msgs {
		if m.Event.Type == "image" && m.Event.Action == "untag" {
			n++
		}
	}
	return n
}

func TestRealEngineImageImport(t *testing.T) {
	engine := dockertest.Engine(t)
	col := &qwatchtest.Collector{}
	runReal(t, engine, col)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: 5})
	tw.Write([]byte("hello"))
	tw.Close()
	file := filepath.Join(t.TempDir(), "layer.tar")
	if err := os.WriteFile(file, layer.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dockertest.Docker(t, "import", file, "qwatch-import:test")
	m := waitFor(t, col, "image import", func(m message.Message) bool {
		return m.Event.Type == "image" && m.Event.Action == "import"
	})
	if !strings.HasPrefix(m.Event.ActorID, "sha256:") {
		t.Errorf("import event actor %q", m.Event.ActorID)
	}
}

// TestRealEngineRestart stops a private engine while the Source follows it and starts it
// again: the Source reconnects, reports the gap, and sees the events after the restart.
func TestRealEngineRestart(t *testing.T) {
	if os.Getenv("QWATCH_E2E") != "1" && testing.Short() {
		t.Skip("restarts an engine; skipped with -short")
	}
	eng := dockertest.StartPrivateEngine(t)
	c, err := dockerclient.New(eng.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	col := &qwatchtest.Collector{}
	src := runReal(t, c, col)
	eng.Docker("volume", "create", "before")
	waitFor(t, col, "volume before", func(m message.Message) bool { return m.Event.ActorID == "before" })
	eng.Stop()
	eng.Start()
	eng.Docker("volume", "create", "after")
	waitFor(t, col, "volume after", func(m message.Message) bool { return m.Event.ActorID == "after" })
	gap := waitFor(t, col, "gap", func(m message.Message) bool { return m.Event.Type == "qwatch" && m.Event.Action == "gap" })
	if gap.Level != message.LevelWarning || gap.Event.Attributes["from"] == "" || gap.Event.Attributes["to"] == "" {
		t.Errorf("gap message %+v", gap)
	}
	msgs := col.Messages()
	if count(msgs, "volume", "create", "before") != 1 || count(msgs, "volume", "create", "after") != 1 {
		t.Errorf("volume events not exactly once: %v", texts(msgs))
	}
	if st := src.Stats(); st.Reconnects == 0 || st.Gaps != 1 {
		t.Errorf("stats %+v", st)
	}
}
