package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/internal/dockertest"
)

// containerDocs is a bulk endpoint in front of a bulkStore, which answers, that also keeps the
// log documents of one container by _id as the store does: the first create of an _id is
// kept, a second one is not. It notes an _id created again with another message.
type containerDocs struct {
	name    string
	mu      sync.Mutex
	docs    map[string]string // _id → message
	again   int               // creates of an _id already kept, with the same message
	changed []string          // _ids created again with another message
}

func newContainerDocs(t *testing.T, name string, store *bulkStore) (*containerDocs, *httptest.Server) {
	c := &containerDocs{name: name, docs: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_bulk" && !store.down.Load() {
			body, _ := io.ReadAll(r.Body)
			c.note(body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		store.serve(w, r)
	}))
	t.Cleanup(srv.Close)
	return c, srv
}

// note keeps the documents of the container in a bulk request's body.
func (c *containerDocs) note(body []byte) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	c.mu.Lock()
	defer c.mu.Unlock()
	for sc.Scan() {
		var action struct {
			Create struct {
				ID string `json:"_id"`
			} `json:"create"`
		}
		json.Unmarshal(sc.Bytes(), &action)
		if !sc.Scan() {
			return
		}
		var doc struct {
			Message   string `json:"message"`
			Container struct {
				Name string `json:"name"`
			} `json:"container"`
			Qwatch struct {
				Kind string `json:"kind"`
			} `json:"qwatch"`
		}
		json.Unmarshal(sc.Bytes(), &doc)
		if doc.Container.Name != c.name || doc.Qwatch.Kind != "log" {
			continue
		}
		switch m, ok := c.docs[action.Create.ID]; {
		case !ok:
			c.docs[action.Create.ID] = doc.Message
		case m == doc.Message:
			c.again++
		default:
			c.changed = append(c.changed, action.Create.ID)
		}
	}
}

// lines returns how many lines the documents hold.
func (c *containerDocs) lines() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.docs {
		n += strings.Count(m, "\n") + 1
	}
	return n
}

// messages returns how many documents hold each message.
func (c *containerDocs) messages() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, m := range c.docs {
		out[m]++
	}
	return out
}

// kill -9 of qwatchd while a container prints numbered Java traces (a real one, with its
// causes), a line every few milliseconds, read through the logs source with grouping on by
// default: after a restart every line is stored exactly once, every trace whole in one
// document (unless the engine stamped its lines too far apart to group), and every plain line
// in one of its own.
func TestKillNineWhileTracesArePrinted(t *testing.T) {
	dockertest.Engine(t)
	image := dockertest.Image(t)
	data, err := os.ReadFile("../../filter/multiline/testdata/traces/java-printstacktrace.txt")
	if err != nil {
		t.Fatal(err)
	}
	trace := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if !strings.Contains(trace[0], "request 17") {
		t.Fatalf("the recorded trace begins %q, not with its request's number", trace[0])
	}
	trace[0] = strings.ReplaceAll(trace[0], "request 17", "request {i}")
	// A line at a time, as Java's printStackTrace writes: a trace is open for a while, and
	// often open when a checkpoint is written.
	var script strings.Builder
	script.WriteString("out INFO request {i} started\nsleep 3ms\n")
	for _, l := range trace {
		fmt.Fprintf(&script, "out %s\nsleep 2ms\n", l)
	}
	const n = 200
	want := map[string]int{}
	for i := range n {
		num := fmt.Sprint(i)
		want["INFO request "+num+" started"] = 1
		want[strings.ReplaceAll(strings.Join(trace, "\n"), "{i}", num)] = 1
	}
	traces := func(msgs map[string]int) int {
		got := 0
		for m, c := range msgs {
			if c == 1 && want[m] == 1 && strings.Contains(m, "\n") {
				got++
			}
		}
		return got
	}

	name := fmt.Sprintf("qwatch-kill9-traces-%d", time.Now().UnixNano()%1e9)
	store, _ := newBulkStore(t)
	docs, es := newContainerDocs(t, name, store)
	state := t.TempDir()
	args := []string{"-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0", "-stdout", "none",
		"-http", "127.0.0.1:0", "-es-url", es.URL, "-es-wait", "-state-dir", state, "-docker-logs"}
	d := startDaemon(t, args...)
	dockertest.Docker(t, "run", "-d", "--name", name, "--network", "none", image, "/logger", "-script", script.String(), "-n", fmt.Sprint(n))
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	id := strings.TrimSpace(dockertest.Docker(t, "inspect", "-f", "{{.Id}}", name))
	// Killed once traces are stored and a checkpoint is written: the next run resumes from it.
	checkpoint := filepath.Join(state, "dockerlogs", id+".json")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := os.Stat(checkpoint)
		if err == nil && traces(docs.messages()) >= n/8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint, or the container's traces did not reach the bulk server: %v", d.stderrLines())
		}
	}
	d.cmd.Process.Kill() // kill -9
	<-d.done
	before := traces(docs.messages())

	d2 := startDaemon(t, args...)
	dockertest.Docker(t, "wait", name)
	printed := n * (1 + len(trace))
	for deadline := time.Now().Add(time.Minute); docs.lines() < printed && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	// What qwatchd emitted is in the store once it exits: a part of a trace emitted on its
	// own would be there too.
	if code := d2.stop(); code != 0 {
		t.Errorf("exit code %d; stderr %v", code, d2.stderrLines())
	}
	got := docs.messages()

	// Every line stored once: none lost, none twice, in a whole trace or not.
	wantLines, gotLines := map[string]int{}, map[string]int{}
	for m := range want {
		for _, l := range strings.Split(m, "\n") {
			wantLines[l]++
		}
	}
	for m, c := range got {
		for _, l := range strings.Split(m, "\n") {
			gotLines[l] += c
		}
	}
	if diff := cmp.Diff(wantLines, gotLines); diff != "" {
		t.Errorf("lines stored (-printed +stored):\n%s", diff)
	}
	if len(docs.changed) > 0 {
		t.Errorf("%d IDs sent again with another message, %v first", len(docs.changed), docs.changed[0])
	}
	// Every plain line is a document of its own, and every trace that the engine stamped as
	// one burst (as a runtime writes it) is one document, whole. A trace whose lines the
	// engine stamped further apart than grouping allows (a loaded engine reads a container's
	// output late, and stamps it when it reads it) is stored in parts, as it was emitted
	// before the kill and after.
	apart := 0
	for m, whole := range engineBursts(t, name, n, 1+len(trace)) {
		switch {
		case !whole:
			apart++
		case got[m] != 1:
			t.Errorf("stored whole %d times: %.80q", got[m], m)
		}
	}
	t.Logf("%d of %d traces stored before the kill, %d documents sent again after the restart kept out by their IDs; %d traces stamped apart by the engine",
		before, n, docs.again, apart)
	if t.Failed() {
		t.Logf("qwatchd's summary: %v", d2.stderrLines())
	}
}

// engineBursts reads the lines of the container back from the engine with their time stamps:
// n runs of a plain line and a trace, per lines each. It returns each run's plain line and
// trace, and whether the engine stamped it as grouping joins it: a trace's lines no further
// apart than multiline.DefaultGap, its first line within multiline.DefaultIntro of its second.
func engineBursts(t *testing.T, name string, n, per int) map[string]bool {
	t.Helper()
	out := strings.Split(strings.TrimSuffix(dockertest.Docker(t, "logs", "--timestamps", name), "\n"), "\n")
	if len(out) != n*per {
		t.Fatalf("the engine has %d lines, want %d", len(out), n*per)
	}
	bursts := map[string]bool{}
	for i := range n {
		var texts []string
		var prev time.Time
		whole := true
		for j, l := range out[i*per : (i+1)*per] {
			stamp, text, _ := strings.Cut(l, " ")
			at, err := time.Parse(time.RFC3339Nano, stamp)
			if err != nil {
				t.Fatalf("engine line %q: %v", l, err)
			}
			switch d := at.Sub(prev); {
			case j == 0:
				bursts[text] = true
			case j == 2 && d > multiline.DefaultIntro, j > 2 && d > multiline.DefaultGap:
				whole = false
			}
			if j > 0 {
				texts = append(texts, text)
			}
			prev = at
		}
		bursts[strings.Join(texts, "\n")] = whole
	}
	return bursts
}

// -multiline and -multiline-start set the logs source's rule for containers without labels;
// the exit summary counts the groups.
func TestMultilineSettingsReachTheLogsSource(t *testing.T) {
	dockertest.Engine(t)
	image := dockertest.Image(t)
	data, err := os.ReadFile("../../filter/multiline/testdata/traces/go-panic.txt")
	if err != nil {
		t.Fatal(err)
	}
	trace := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	custom := []string{"2026-11-29 12:00:00 first", "  continued", "more", "2026-11-29 12:00:01 second"}
	for _, tt := range []struct {
		name    string
		args    []string
		lines   []string
		want    []string
		summary string
	}{
		{"default", nil, trace, []string{strings.Join(trace, "\n")}, "multiline_groups=1 joined_lines=11 "},
		{"off", []string{"-multiline", "off"}, trace, trace, "multiline_groups=0 joined_lines=0 "},
		{"python only", []string{"-multiline", "python"}, trace, trace, "multiline_groups=0 joined_lines=0 "},
		{"start pattern", []string{"-multiline-start", `^\d{4}-\d\d-\d\d `}, custom,
			[]string{strings.Join(custom[:3], "\n"), custom[3]}, "multiline_groups=1 joined_lines=3 "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var script strings.Builder
			for _, l := range tt.lines {
				fmt.Fprintf(&script, "err %s\n", l)
			}
			args := append([]string{"-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0", "-stdout", "json",
				"-http", "127.0.0.1:0", "-docker-logs"}, tt.args...)
			d := startDaemon(t, args...)
			name := fmt.Sprintf("qwatch-multiline-%d", time.Now().UnixNano()%1e9)
			dockertest.Docker(t, "run", "--name", name, "--network", "none", image, "/logger", "-script", script.String(), "-n", "1")
			t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
			texts := func() []string {
				var out []string
				for _, m := range d.messages() {
					if m.Container.Name == name && m.Event.Type == "" {
						out = append(out, m.Text)
					}
				}
				return out
			}
			for deadline := time.Now().Add(30 * time.Second); len(texts()) < len(tt.want) && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
			if code := d.stop(); code != 0 {
				t.Errorf("exit code %d", code)
			}
			if diff := cmp.Diff(tt.want, texts()); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if !slices.ContainsFunc(d.stderrLines(), func(l string) bool { return strings.Contains(l, tt.summary) }) {
				t.Errorf("no %q in the exit summary: %v", tt.summary, d.stderrLines())
			}
		})
	}
}
