package inventory_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/message"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable time for Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func id(name string) string { return strings.Repeat(name[:1], 64-len(name)) + name }

func logLine(cid, stream, text string, level message.Level, at time.Time) *message.Message {
	return &message.Message{Kind: message.KindLog, Time: at, Level: level, Text: text,
		Container: message.Container{ID: cid}, Fields: map[string]any{"stream": stream}}
}

// ignoreChanged leaves out the times the Inventory sets itself.
var ignoreChanged = cmpopts.IgnoreFields(inventory.Container{}, "Changed")

func TestPut(t *testing.T) {
	for _, tt := range []struct {
		name string
		put  inventory.Container
		want message.Service
	}{
		{"compose service and project", inventory.Container{ID: id("a"), Labels: map[string]string{
			"com.docker.compose.service": "web", "com.docker.compose.project": "shop"}},
			message.Service{Name: "web", Namespace: "shop"}},
		{"swarm service less its stack's prefix", inventory.Container{ID: id("b"), Labels: map[string]string{
			"com.docker.swarm.service.name": "shop_web", "com.docker.stack.namespace": "shop"}},
			message.Service{Name: "web", Namespace: "shop"}},
		{"a service given is kept", inventory.Container{ID: id("c"), Service: message.Service{Name: "mine"},
			Labels: map[string]string{"com.docker.compose.service": "web"}}, message.Service{Name: "mine"}},
		{"no labels, no service", inventory.Container{ID: id("d")}, message.Service{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := inventory.New()
			inv.Put(tt.put)
			got, ok := inv.Get(tt.put.ID)
			if !ok {
				t.Fatal("not found after Put")
			}
			want := tt.put
			want.Service = tt.want
			if diff := cmp.Diff(want, got, ignoreChanged); diff != "" {
				t.Errorf("Get after Put (-want +got):\n%s", diff)
			}
		})
	}
}

// A Put that says nothing new is no change: the version stays and Changed stays open; one
// that says something new is, and keeps the log counts.
func TestPutChanges(t *testing.T) {
	clk := newClock()
	inv := inventory.NewWithConfig(inventory.Config{Now: clk.Now})
	c := inventory.Container{ID: id("a"), Name: "web-1", State: "running", Labels: map[string]string{"k": "v"}}
	inv.Put(c)
	inv.Count(logLine(c.ID, "stdout", "hello", message.LevelInfo, clk.Now()))
	v := inv.Snapshot().Version
	changed := inv.Changed()
	clk.add(time.Second)
	inv.Put(inventory.Container{ID: id("a"), Name: "web-1", State: "running", Labels: map[string]string{"k": "v"}})
	if got := inv.Snapshot().Version; got != v {
		t.Errorf("version %d after the same Put, want %d", got, v)
	}
	select {
	case <-changed:
		t.Error("Changed closed by a Put that changed nothing")
	default:
	}
	c.State = "exited"
	inv.Put(c)
	<-changed // the test fails by timing out when the change is not signalled
	got, _ := inv.Get(c.ID)
	if got.State != "exited" || got.Logs.Lines["stdout"] != 1 || !got.Changed.Equal(clk.Now()) {
		t.Errorf("after Put: state %q, lines %v, changed %v; want exited, 1 line, %v", got.State, got.Logs.Lines, got.Changed, clk.Now())
	}
}

func TestCount(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	long := strings.Repeat("é", inventory.MaxLastText) // two bytes each: cut at a boundary
	for _, tt := range []struct {
		name string
		msgs []*message.Message
		want inventory.Logs
	}{
		{"streams and levels", []*message.Message{
			logLine(id("a"), "stdout", "one", message.LevelInfo, at),
			logLine(id("a"), "stderr", "three", message.LevelErr, at.Add(time.Second)),
			logLine(id("a"), "stdout", "four", message.LevelInfo, at.Add(2*time.Second)),
		}, inventory.Logs{
			Lines: map[string]uint64{"stdout": 2, "stderr": 1}, Bytes: map[string]uint64{"stdout": 7, "stderr": 5},
			ByLevel: map[string]uint64{"info": 2, "err": 1}, Last: at.Add(2 * time.Second), LastText: "four"}},
		{"an older line is counted but is not the last", []*message.Message{
			logLine(id("a"), "stdout", "new", message.LevelInfo, at.Add(time.Second)),
			logLine(id("a"), "stdout", "old", message.LevelInfo, at),
		}, inventory.Logs{Lines: map[string]uint64{"stdout": 2}, Bytes: map[string]uint64{"stdout": 6},
			ByLevel: map[string]uint64{"info": 2}, Last: at.Add(time.Second), LastText: "new"}},
		{"short ID, unknown stream, full text", []*message.Message{func() *message.Message {
			m := logLine(id("a")[:12], "", "a", message.LevelWarning, at)
			m.FullText = "a\nb"
			return m
		}()}, inventory.Logs{Lines: map[string]uint64{"": 1}, Bytes: map[string]uint64{"": 4},
			ByLevel: map[string]uint64{"warning": 1}, Last: at, LastText: "a"}},
		{"long line cut at a character boundary", []*message.Message{
			logLine(id("a"), "stdout", long, message.LevelInfo, at),
		}, inventory.Logs{Lines: map[string]uint64{"stdout": 1}, Bytes: map[string]uint64{"stdout": uint64(len(long))},
			ByLevel: map[string]uint64{"info": 1}, Last: at, LastText: long[:inventory.MaxLastText]}},
		{"events, unknown containers and lines without one are not counted", []*message.Message{
			{Kind: message.KindEvent, Container: message.Container{ID: id("a")}},
			logLine(id("b"), "stdout", "x", message.LevelInfo, at),
			logLine("", "stdout", "x", message.LevelInfo, at),
		}, inventory.Logs{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := inventory.New()
			inv.Put(inventory.Container{ID: id("a")})
			for _, m := range tt.msgs {
				if !inv.Count(m) {
					t.Fatal("Count dropped a message")
				}
			}
			got, _ := inv.Get(id("a"))
			if diff := cmp.Diff(tt.want, got.Logs); diff != "" {
				t.Errorf("Logs (-want +got):\n%s", diff)
			}
		})
	}
}

// A destroyed container is shown as destroyed for the retention, then leaves.
func TestRetention(t *testing.T) {
	clk := newClock()
	inv := inventory.NewWithConfig(inventory.Config{Retention: time.Minute, Now: clk.Now})
	inv.Put(inventory.Container{ID: id("a"), Name: "gone", State: "exited"})
	inv.Put(inventory.Container{ID: id("b"), Name: "stays", State: "running"})
	inv.Update(id("a"), func(c *inventory.Container) { c.State = inventory.StateDestroyed })
	clk.add(59 * time.Second)
	if c, ok := inv.Get(id("a")); !ok || c.State != inventory.StateDestroyed {
		t.Fatalf("within the retention: %+v, %v; want destroyed", c, ok)
	}
	if n := inv.Expire(); n != 0 {
		t.Errorf("Expire within the retention removed %d", n)
	}
	changed := inv.Changed()
	clk.add(time.Second)
	if _, ok := inv.Get(id("a")); ok {
		t.Error("Get still finds it after the retention")
	}
	if names := names(inv.Snapshot()); !cmp.Equal(names, []string{"stays"}) {
		t.Errorf("Snapshot after the retention: %v", names)
	}
	if n := inv.Expire(); n != 1 {
		t.Errorf("Expire removed %d, want 1", n)
	}
	<-changed
	if diff := cmp.Diff(inventory.Stats{Containers: 1, States: map[string]int{"running": 1}, Expired: 1}, inv.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func names(s inventory.Snapshot) []string {
	var out []string
	for _, c := range s.Containers {
		out = append(out, c.Name)
	}
	return out
}

// At MaxContainers a new container takes the place of a destroyed one first, else of the one
// that changed longest ago.
func TestMaxContainers(t *testing.T) {
	clk := newClock()
	inv := inventory.NewWithConfig(inventory.Config{MaxContainers: 3, Now: clk.Now})
	for _, n := range []string{"a", "b", "c"} {
		inv.Put(inventory.Container{ID: id(n), Name: n, State: "exited"})
		clk.add(time.Second)
	}
	inv.Update(id("c"), func(c *inventory.Container) { c.State = inventory.StateDestroyed })
	inv.Put(inventory.Container{ID: id("d"), Name: "d", State: "running"})
	inv.Put(inventory.Container{ID: id("e"), Name: "e", State: "running"})
	if diff := cmp.Diff([]string{"d", "e", "b"}, names(inv.Snapshot())); diff != "" {
		t.Errorf("after two over the bound (-want +got):\n%s", diff)
	}
	if st := inv.Stats(); st.Evicted != 2 || st.Containers != 3 {
		t.Errorf("Stats %+v, want 2 evicted, 3 containers", st)
	}
}

// Replace keeps the counts of the containers still listed and marks the others destroyed.
func TestReplace(t *testing.T) {
	inv := inventory.New()
	inv.Put(inventory.Container{ID: id("a"), Name: "a", State: "running"})
	inv.Put(inventory.Container{ID: id("b"), Name: "b", State: "running"})
	inv.Count(logLine(id("a"), "stdout", "x", message.LevelInfo, time.Now()))
	inv.Replace([]inventory.Container{{ID: id("a"), Name: "a", State: "exited"}, {ID: id("c"), Name: "c", State: "created"}})
	got := map[string]string{}
	for _, c := range inv.Snapshot().Containers {
		got[c.Name] = c.State
	}
	if diff := cmp.Diff(map[string]string{"a": "exited", "b": inventory.StateDestroyed, "c": "created"}, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if a, _ := inv.Get(id("a")); a.Logs.Lines["stdout"] != 1 {
		t.Errorf("counts of a lost: %v", a.Logs)
	}
}

func TestChangedSince(t *testing.T) {
	inv := inventory.New()
	s := inv.Snapshot()
	inv.Put(inventory.Container{ID: id("a")})
	<-inv.ChangedSince(s.Version) // a change between the Snapshot and the wait is not missed
	s = inv.Snapshot()
	inv.Count(logLine(id("a"), "stdout", "x", message.LevelInfo, time.Now()))
	select {
	case <-inv.ChangedSince(s.Version):
		t.Error("a counted line woke the readers")
	default:
	}
	inv.Remove(id("a"))
	<-inv.ChangedSince(s.Version)
	if inv.Len() != 0 {
		t.Errorf("Len %d after Remove", inv.Len())
	}
}

// Lines counted from many goroutines while containers change and readers read are all
// counted (run with -race).
func TestConcurrent(t *testing.T) {
	inv := inventory.New()
	ids := []string{id("a"), id("b")}
	for _, cid := range ids {
		inv.Put(inventory.Container{ID: cid, State: "running"})
	}
	const workers, lines = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range lines {
				inv.Count(logLine(ids[(w+i)%2], "stdout", "line", message.LevelInfo, time.Now()))
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			inv.Update(ids[i%2], func(c *inventory.Container) { c.RestartCount = i })
			inv.Snapshot()
		}
	})
	wg.Wait()
	var total uint64
	for _, c := range inv.Snapshot().Containers {
		total += c.Logs.Lines["stdout"]
	}
	if total != workers*lines {
		t.Errorf("counted %d lines, want %d", total, workers*lines)
	}
}

// The JSON field names are what the live page and /inventory's readers are written against.
func TestServeHTTP(t *testing.T) {
	inv := inventory.New()
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	inv.Put(inventory.Container{ID: id("a"), Name: "web-1", Image: "nginx", ImageID: "sha256:1", Command: "nginx",
		Labels: map[string]string{"com.docker.compose.service": "web"}, State: "running", Health: "healthy",
		Created: at, Started: at, ExitCode: 0, RestartCount: 2})
	inv.Count(logLine(id("a"), "stdout", "hi", message.LevelInfo, at))
	rec := httptest.NewRecorder()
	inv.ServeHTTP(rec, httptest.NewRequest("GET", "/inventory", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var got struct {
		Version    uint64           `json:"version"`
		Containers []map[string]any `json:"containers"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Containers) != 1 {
		t.Fatalf("%d containers", len(got.Containers))
	}
	c := got.Containers[0]
	for _, key := range []string{"id", "name", "image", "image_id", "command", "labels", "service", "state", "health",
		"created", "started", "exit_code", "restart_count", "changed", "logs"} {
		if _, ok := c[key]; !ok {
			t.Errorf("no %q in %v", key, c)
		}
	}
	if svc, _ := c["service"].(map[string]any); svc["name"] != "web" {
		t.Errorf("service %v; want {\"name\": \"web\"}", c["service"])
	}
	logs := c["logs"].(map[string]any)
	for _, key := range []string{"lines", "bytes", "levels", "last", "last_text"} {
		if _, ok := logs[key]; !ok {
			t.Errorf("no logs.%q in %v", key, logs)
		}
	}
}
