package dockertest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// Fake is a Docker engine in the test's own process: an httptest server that speaks the part
// of the engine's API the docker client uses for qwatch's sources, in the engine's own formats
// (stdcopy frames, RFC 3339 timestamps with nine digits of nanoseconds, lines cut into 16 KiB
// pieces), with faults a real engine cannot be made to show on demand: streams cut mid-way,
// error answers, a follow stream that ends before the last lines, an engine that is down or
// restarts with an empty event buffer.
//
// Endpoints, with or without a /vX.Y prefix:
//
//	HEAD|GET /_ping, GET /version, GET /info
//	GET  /events                   since; filters type, event, container, label; the last
//	                               256 events are replayed from since, none without it
//	GET  /containers/json          all
//	GET  /containers/{id}/json     inspect
//	GET  /containers/{id}/logs     stdout, stderr, since, until, timestamps, follow
//	POST /containers/{id}/attach   stream, stdout, stderr, logs; the connection is hijacked
//
// A container is named by its ID, a unique prefix of its ID, or its name. Its log is a list
// of [Line]s fed with [Fake.Log]; the logs endpoint sends each line as the engine does for
// its driver. Events carry the fake's own clock, one millisecond a step from
// 2026-11-23T22:00:00Z, so that tests can name their times; container times (created,
// started) are the wall clock's, as the sources compare them with it.
type Fake struct {
	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	engineID    string
	down        bool
	clock       int64 // nanoseconds of the last event
	buffer      []events.Message
	subs        map[chan events.Message]struct{}
	cut         chan struct{} // closed to cut every open stream
	containers  map[string]*fakeContainer
	filters     string
	logRequests map[string][]url.Values
	requests    map[string]int

	logDir string // with WriteLogFiles: where containers' json-files are written

	hijacked sync.WaitGroup
	conns    map[net.Conn]struct{}
	closed   chan struct{}
}

// Container describes a container of the Fake.
type Container struct {
	ID         string // 64 hex digits; empty: derived from Name
	Name       string
	Image      string            // empty: qwatch-fake:latest
	Labels     map[string]string // also sent as attributes of its events, as the engine does
	Driver     string            // log driver; empty: json-file (Log says what differs)
	TTY        bool
	AutoRemove bool
	Cmd        []string
	// Started, for Add, makes the container one already running since then.
	Started time.Time
}

// Line is one line a container printed: the engine's time stamp, the stream ("stdout" or
// "stderr"), and the text without its newline.
type Line struct {
	Time   time.Time
	Stream string
	Text   string
}

// Faults are what a container's endpoints do wrong; the zero value is none.
type Faults struct {
	// InspectStatus, LogsStatus and AttachStatus, when not 0, are the HTTP status the
	// endpoint answers instead, with Message as the engine's error message.
	InspectStatus, LogsStatus, AttachStatus int
	Message                                 string
	// ShortFollow holds back the last this many lines from follow streams: a follow stream
	// ends at the container's stop without them, as the engine's sometimes does. Reads that
	// do not follow get every line.
	ShortFollow int
	// BreakAfter cuts every logs stream mid-frame after this many entries (pieces).
	BreakAfter int
}

// PieceSize is the size of the pieces the engine cuts a longer line into, each sent as an
// entry of its own with the line's time stamp.
const PieceSize = 16 << 10

// rfc3339NanoFixed is the engine's time stamp layout: always nine digits of nanoseconds.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// eventBuffer is how many events the engine keeps to replay.
const eventBuffer = 256

type fakeContainer struct {
	Container
	imageID    string
	created    time.Time
	running    bool
	startedAt  time.Time
	finishedAt time.Time
	stops      int // stops and removals so far
	log        []Line
	changed    chan struct{} // closed and replaced when a line is logged or the state changes
	faults     Faults
	attached   int // attach streams open now
	logPath    string
}

// NewFake starts a fake engine; it stops when the test ends, ending every stream.
func NewFake(t testing.TB) *Fake {
	f := &Fake{t: t, engineID: "FAKE-ENGINE-1", subs: map[chan events.Message]struct{}{}, cut: make(chan struct{}),
		clock:      time.Date(2026, 11, 23, 22, 0, 0, 0, time.UTC).UnixNano(),
		containers: map[string]*fakeContainer{}, logRequests: map[string][]url.Values{}, requests: map[string]int{},
		conns: map[net.Conn]struct{}{}, closed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", "1.41")
		w.Write([]byte("OK"))
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"Version": "20.10.24", "ApiVersion": "1.41", "MinAPIVersion": "1.12", "Os": "linux", "Arch": "amd64"})
	})
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		id := f.engineID
		f.mu.Unlock()
		writeJSON(w, map[string]any{"ID": id, "Name": "fakehost", "ServerVersion": "20.10.24"})
	})
	mux.HandleFunc("GET /events", f.serveEvents)
	mux.HandleFunc("GET /containers/json", f.serveList)
	mux.HandleFunc("GET /containers/{id}/json", f.serveInspect)
	mux.HandleFunc("GET /containers/{id}/logs", f.serveLogs)
	mux.HandleFunc("POST /containers/{id}/attach", f.serveAttach)
	version := regexp.MustCompile(`^/v[0-9]+\.[0-9]+/`)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loc := version.FindStringIndex(r.URL.Path); loc != nil {
			r.URL.Path = r.URL.Path[loc[1]-1:]
		}
		f.mu.Lock()
		down := f.down
		f.requests[r.URL.Path]++
		f.mu.Unlock()
		if down {
			writeError(w, http.StatusServiceUnavailable, "the engine is down")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.close)
	return f
}

func (f *Fake) close() {
	f.mu.Lock()
	close(f.closed)
	close(f.cut)
	f.cut = make(chan struct{})
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.srv.CloseClientConnections()
	f.srv.Close()
	f.hijacked.Wait()
}

// Host is the fake's address as DOCKER_HOST takes it: tcp://127.0.0.1:PORT.
func (f *Fake) Host() string { return "tcp://" + strings.TrimPrefix(f.srv.URL, "http://") }

// Client returns a client for the fake, negotiating the API version as the sources' own
// clients do; it is closed when the test ends.
func (f *Fake) Client() *client.Client {
	// A copy of the server's http.Client for each: the docker client wraps its Transport, and
	// two clients of one http.Client, used at once, would race on it.
	hc := *f.srv.Client()
	c, err := client.NewClientWithOpts(client.WithHost(f.Host()), client.WithHTTPClient(&hc),
		client.WithAPIVersionNegotiation())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

// Requests returns how many requests reached path (without its version prefix), such as
// "/events", the engine down or not.
func (f *Fake) Requests(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[path]
}

// ID is the ID a container of this name gets when Container.ID is empty.
func ID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

func (c Container) id() string {
	if c.ID != "" {
		return c.ID
	}
	return ID(c.Name)
}

// Add makes a container known to the fake without an event, as one that existed before:
// running since c.Started when that is set, else created and not started. It returns the ID.
func (f *Fake) Add(c Container) string {
	c.ID = c.id()
	if c.Image == "" {
		c.Image = "qwatch-fake:latest"
	}
	if c.Driver == "" {
		c.Driver = "json-file"
	}
	sum := sha256.Sum256([]byte(c.Image))
	fc := &fakeContainer{Container: c, imageID: "sha256:" + hex.EncodeToString(sum[:]), created: time.Now(),
		changed: make(chan struct{})}
	if !c.Started.IsZero() {
		fc.running, fc.startedAt, fc.created = true, c.Started, c.Started
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.logDir != "" && c.Driver == "json-file" {
		fc.logPath = filepath.Join(f.logDir, c.ID, c.ID+"-json.log")
		if err := os.MkdirAll(filepath.Dir(fc.logPath), 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(fc.logPath, nil, 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
	f.containers[c.ID] = fc
	return c.ID
}

// Create adds a container and sends its create event; it returns the ID.
func (f *Fake) Create(c Container) string {
	c.Started = time.Time{}
	id := f.Add(c)
	f.containerEvent(id, events.ActionCreate, nil)
	return id
}

// Run creates a container and starts it; it returns the ID.
func (f *Fake) Run(c Container) string {
	id := f.Create(c)
	f.Start(id)
	return id
}

// Start starts a container, now, and sends its start event.
func (f *Fake) Start(id string) {
	f.change(id, func(c *fakeContainer) { c.running, c.startedAt = true, time.Now() })
	f.containerEvent(id, events.ActionStart, nil)
}

// Stop stops a container with exit code 0 and sends its die event: follow streams send what
// is logged and end.
func (f *Fake) Stop(id string) {
	f.change(id, func(c *fakeContainer) { c.running, c.finishedAt, c.stops = false, time.Now(), c.stops+1 })
	f.containerEvent(id, events.ActionDie, map[string]string{"exitCode": "0"})
}

// Remove removes a container, as docker rm -f does, its log with it, and sends its destroy
// event.
func (f *Fake) Remove(id string) {
	f.mu.Lock()
	c := f.containers[id]
	if c != nil {
		delete(f.containers, id)
		c.running, c.stops = false, c.stops+1
		c.notifyLocked()
	}
	f.mu.Unlock()
	if c == nil {
		f.t.Fatalf("fake engine: no container %s to remove", id)
	}
	if c.logPath != "" {
		os.RemoveAll(filepath.Dir(c.logPath))
	}
	f.event(events.ActionDestroy, c.Container, nil, 0, true)
}

// Log appends lines to a container's log; open follow and attach streams send them. The
// logs endpoint sends a line as the engine does for the container's driver: a line longer
// than PieceSize in pieces, each an entry with the line's time stamp; json-file ends the last
// piece with a newline, other drivers (local, and the cache the engine keeps for drivers it
// cannot read back) end a line with one only when it was not cut; a terminal (TTY) adds a
// carriage return, and its stream has no frames, so that its pieces follow one another with
// nothing between them but their time stamps.
func (f *Fake) Log(id string, lines ...Line) {
	f.change(id, func(c *fakeContainer) {
		c.log = append(c.log, lines...)
		if c.logPath != "" {
			f.appendFile(c, lines)
		}
	})
}

// WriteLogFiles makes the fake write the log of each json-file container added from now on
// to dir/ID/ID-json.log, in the json-file driver's format (each piece of a line a JSON object
// of its own), as the engine does under its data root, and report that path as the
// container's LogPath. Removing a container deletes its directory.
func (f *Fake) WriteLogFiles(dir string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logDir = dir
}

// LogPath returns the path of a container's json-file, or "" if the fake writes none.
func (f *Fake) LogPath(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil {
		return c.logPath
	}
	return ""
}

// RotateLog rotates a container's json-file as the engine does at max-size with maxFiles:
// NAME.(k) is renamed NAME.(k+1) from the oldest, the oldest past maxFiles-1 is replaced, NAME
// becomes NAME.1, and an empty NAME is created.
func (f *Fake) RotateLog(id string, maxFiles int) {
	f.change(id, func(c *fakeContainer) {
		for k := maxFiles - 1; k > 1; k-- {
			os.Rename(fmt.Sprintf("%s.%d", c.logPath, k-1), fmt.Sprintf("%s.%d", c.logPath, k))
		}
		if err := os.Rename(c.logPath, c.logPath+".1"); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(c.logPath, nil, 0o644); err != nil {
			f.t.Fatal(err)
		}
	})
}

// appendFile writes lines to a container's json-file.
func (f *Fake) appendFile(c *fakeContainer, lines []Line) {
	var b []byte
	for _, l := range lines {
		for _, e := range pieces(l.Text, c.Driver, c.TTY) {
			entry, err := json.Marshal(struct {
				Log    string `json:"log"`
				Stream string `json:"stream"`
				Time   string `json:"time"`
			}{e, l.Stream, l.Time.UTC().Format(time.RFC3339Nano)})
			if err != nil {
				f.t.Fatal(err)
			}
			b = append(append(b, entry...), '\n')
		}
	}
	file, err := os.OpenFile(c.logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	defer file.Close()
	if _, err := file.Write(b); err != nil {
		f.t.Fatal(err)
	}
}

// SetFaults sets what a container's endpoints do wrong from now on.
func (f *Fake) SetFaults(id string, faults Faults) {
	f.change(id, func(c *fakeContainer) { c.faults = faults })
}

// Attached returns how many attach streams of the container are open now.
func (f *Fake) Attached(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil {
		return c.attached
	}
	return 0
}

// LogRequests returns the queries of the logs requests made for a container so far.
func (f *Fake) LogRequests(id string) []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.logRequests[id]...)
}

func (f *Fake) change(id string, do func(c *fakeContainer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		f.t.Fatalf("fake engine: no container %s", id)
	}
	do(c)
	c.notifyLocked()
}

func (c *fakeContainer) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// lookup finds a container by ID, unique ID prefix, or name.
func (f *Fake) lookup(ref string) *fakeContainer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[ref]; c != nil {
		return c
	}
	var found *fakeContainer
	for id, c := range f.containers {
		if c.Name == ref {
			return c
		}
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil
			}
			found = c
		}
	}
	return found
}

// container finds the container a request names, or answers 404 as the engine does.
func (f *Fake) container(w http.ResponseWriter, r *http.Request) *fakeContainer {
	c := f.lookup(r.PathValue("id"))
	if c == nil {
		writeError(w, http.StatusNotFound, "No such container: "+r.PathValue("id"))
	}
	return c
}

// Event sends an event about c with the action to every open events stream, stamped with the
// next step of the fake's clock, and keeps it for replay. The container need not be added.
func (f *Fake) Event(action string, c Container) events.Message {
	return f.event(events.Action(action), c, nil, 0, true)
}

// EventAt is Event stamped at (nanoseconds), which may be before events already sent, as the
// engine stamps an event before it takes its publishing lock. With live false the event only
// goes into the replay buffer, as one published while a stream was broken.
func (f *Fake) EventAt(action string, c Container, at int64, live bool) events.Message {
	return f.event(events.Action(action), c, nil, at, live)
}

func (f *Fake) containerEvent(id string, action events.Action, extra map[string]string) {
	f.mu.Lock()
	c := f.containers[id].Container
	f.mu.Unlock()
	f.event(action, c, extra, 0, true)
}

func (f *Fake) event(action events.Action, c Container, extra map[string]string, at int64, live bool) events.Message {
	attrs := map[string]string{"name": c.Name, "image": c.Image}
	if c.Image == "" {
		attrs["image"] = "qwatch-fake:latest"
	}
	maps.Copy(attrs, c.Labels)
	maps.Copy(attrs, extra)
	f.mu.Lock()
	defer f.mu.Unlock()
	if at == 0 {
		f.clock += int64(time.Millisecond)
		at = f.clock
	}
	ev := events.Message{Type: events.ContainerEventType, Action: action, Scope: "local",
		Actor: events.Actor{ID: c.id(), Attributes: attrs}, Time: at / 1e9, TimeNano: at}
	f.buffer = append(f.buffer, ev)
	if len(f.buffer) > eventBuffer {
		f.buffer = f.buffer[len(f.buffer)-eventBuffer:]
	}
	if live {
		for ch := range f.subs {
			ch <- ev
		}
	}
	return ev
}

// Clock returns the time of the last event, in nanoseconds.
func (f *Fake) Clock() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

// EventFilters returns the filters query of the last events request.
func (f *Fake) EventFilters() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.filters
}

// CutStreams ends every open events, logs and attach stream mid-way.
func (f *Fake) CutStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.cut)
	f.cut = make(chan struct{})
}

// Restart cuts the streams and comes back as a new engine with an empty event buffer.
func (f *Fake) Restart(engineID string) {
	f.CutStreams()
	f.mu.Lock()
	f.engineID, f.buffer = engineID, nil
	f.mu.Unlock()
}

// SetDown makes every endpoint answer 503 (and cuts the open streams), or stops doing so.
func (f *Fake) SetDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
	if down {
		f.CutStreams()
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// writeError answers as the engine does: a status and a JSON message the client shows.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// parseTimestamp reads the engine's since and until: seconds, and a fraction.
func parseTimestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: %w", s, err)
	}
	var nanos int64
	if frac != "" {
		if nanos, err = strconv.ParseInt((frac + "000000000")[:9], 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("timestamp %q: %w", s, err)
		}
	}
	return time.Unix(secs, nanos), nil
}

func (f *Fake) serveEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := parseTimestamp(q.Get("since"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	args, err := filters.FromJSON(q.Get("filters"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ch := make(chan events.Message, 1024)
	f.mu.Lock()
	f.filters = q.Get("filters")
	var replay []events.Message
	for _, ev := range f.buffer {
		if !since.IsZero() && ev.TimeNano >= since.UnixNano() {
			replay = append(replay, ev)
		}
	}
	// Subscribed before the answer's header, as the engine does: the client's Events
	// returns once it is.
	f.subs[ch] = struct{}{}
	cut := f.cut
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	enc := json.NewEncoder(w)
	for _, ev := range replay {
		if matchEvent(args, ev) {
			enc.Encode(ev)
		}
	}
	w.(http.Flusher).Flush()
	for {
		select {
		case ev := <-ch:
			select {
			case <-cut: // sent after the cut: it goes no further
				cutEvents(w)
			default:
			}
			if matchEvent(args, ev) {
				enc.Encode(ev)
				w.(http.Flusher).Flush()
			}
		case <-cut:
			cutEvents(w)
		case <-r.Context().Done():
			return
		}
	}
}

// cutEvents sends half an event, and the connection goes: a stream cut mid-way.
func cutEvents(w http.ResponseWriter) {
	w.Write([]byte(`{"Type":"container","Act`))
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

// matchEvent applies the filters the fake knows, as the engine does; others match all.
func matchEvent(args filters.Args, ev events.Message) bool {
	action, _, _ := strings.Cut(string(ev.Action), ":")
	return args.ExactMatch("type", string(ev.Type)) &&
		(args.ExactMatch("event", string(ev.Action)) || args.ExactMatch("event", action)) &&
		(args.ExactMatch("container", ev.Actor.ID) || args.ExactMatch("container", ev.Actor.Attributes["name"])) &&
		args.MatchKVList("label", ev.Actor.Attributes)
}

func (f *Fake) serveList(w http.ResponseWriter, r *http.Request) {
	all := r.URL.Query().Get("all")
	f.mu.Lock()
	list := []container.Summary{}
	for _, c := range f.containers {
		if !c.running && all != "1" && all != "true" {
			continue
		}
		state := container.StateExited
		if c.running {
			state = container.StateRunning
		} else if c.startedAt.IsZero() {
			state = container.StateCreated
		}
		list = append(list, container.Summary{ID: c.ID, Names: []string{"/" + c.Name}, Image: c.Image,
			ImageID: c.imageID, Command: strings.Join(c.Cmd, " "), Created: c.created.Unix(),
			Labels: c.Labels, State: state, Status: string(state)})
	}
	f.mu.Unlock()
	writeJSON(w, list)
}

func (f *Fake) serveInspect(w http.ResponseWriter, r *http.Request) {
	c := f.container(w, r)
	if c == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.faults.InspectStatus != 0 {
		writeError(w, c.faults.InspectStatus, c.faults.Message)
		return
	}
	state := &container.State{Status: container.StateCreated, Running: c.running,
		StartedAt: "0001-01-01T00:00:00Z", FinishedAt: "0001-01-01T00:00:00Z"}
	if !c.startedAt.IsZero() {
		state.Status, state.StartedAt = container.StateExited, c.startedAt.UTC().Format(time.RFC3339Nano)
	}
	if c.running {
		state.Status = container.StateRunning
	}
	if !c.finishedAt.IsZero() {
		state.FinishedAt = c.finishedAt.UTC().Format(time.RFC3339Nano)
	}
	path, args := "", []string(nil)
	if len(c.Cmd) > 0 {
		path, args = c.Cmd[0], c.Cmd[1:]
	}
	writeJSON(w, container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: c.ID, Name: "/" + c.Name, Image: c.imageID, LogPath: c.logPath,
			Created: c.created.UTC().Format(time.RFC3339Nano), Path: path, Args: args, State: state,
			HostConfig: &container.HostConfig{LogConfig: container.LogConfig{Type: c.Driver}, AutoRemove: c.AutoRemove}},
		Config: &container.Config{Image: c.Image, Labels: c.Labels, Tty: c.TTY, Cmd: c.Cmd},
	})
}

// logOptions say what a logs or attach stream sends.
type logOptions struct {
	stdout, stderr, timestamps, follow bool
	since, until                       time.Time
	from                               int // the first line to send
	short, breakAfter                  int // Faults.ShortFollow and BreakAfter
	// attach follows until the container stops after stops (an attachment to a container
	// not started yet waits for it), rather than only while it runs.
	attach bool
	stops  int
}

func (f *Fake) serveLogs(w http.ResponseWriter, r *http.Request) {
	c := f.container(w, r)
	if c == nil {
		return
	}
	q := r.URL.Query()
	f.mu.Lock()
	f.logRequests[c.ID] = append(f.logRequests[c.ID], q)
	faults := c.faults
	f.mu.Unlock()
	if faults.LogsStatus != 0 {
		writeError(w, faults.LogsStatus, faults.Message)
		return
	}
	o := logOptions{stdout: q.Get("stdout") == "1", stderr: q.Get("stderr") == "1",
		timestamps: q.Get("timestamps") == "1", follow: q.Get("follow") == "1", breakAfter: faults.BreakAfter}
	if o.follow {
		o.short = faults.ShortFollow
	}
	var err error
	if o.since, err = parseTimestamp(q.Get("since")); err == nil {
		o.until, err = parseTimestamp(q.Get("until"))
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if c.TTY {
		w.Header().Set("Content-Type", "application/vnd.docker.raw-stream")
	} else {
		w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
	}
	w.WriteHeader(http.StatusOK)
	flush := w.(http.Flusher).Flush
	flush()
	if !f.writeLog(w, flush, c, o, r.Context().Done()) {
		// Half a frame header, then the connection goes: a stream cut mid-way.
		w.Write([]byte{1, 0, 0})
		flush()
		panic(http.ErrAbortHandler)
	}
}

// writeLog sends a container's log as the engine does, following it if asked until the
// container stops or gone is closed. It returns false when the stream is to be cut.
func (f *Fake) writeLog(w io.Writer, flush func(), c *fakeContainer, o logOptions, gone <-chan struct{}) bool {
	stdout, stderr := stdcopy.NewStdWriter(w, stdcopy.Stdout), stdcopy.NewStdWriter(w, stdcopy.Stderr)
	if c.TTY {
		stdout, stderr = w, w // a terminal has one stream, without frames
	}
	next, entries := o.from, 0
	f.mu.Lock()
	cut, closed := f.cut, f.closed // a cut after the stream opened ends it
	f.mu.Unlock()
	for {
		f.mu.Lock()
		end := max(next, len(c.log)-o.short)
		lines := c.log[next:end]
		next = end
		ended := !c.running
		if o.attach {
			ended = c.stops > o.stops
		}
		changed := c.changed
		f.mu.Unlock()
		select {
		case <-cut: // what is not sent yet goes no further
			return false
		default:
		}
		for _, l := range lines {
			if !o.until.IsZero() && l.Time.After(o.until) {
				return true
			}
			out := stdout
			switch {
			case !o.since.IsZero() && l.Time.Before(o.since):
				continue
			case l.Stream == "stderr" && !o.stderr, l.Stream != "stderr" && !o.stdout:
				continue
			case l.Stream == "stderr":
				out = stderr
			}
			for _, e := range pieces(l.Text, c.Driver, c.TTY) {
				if o.breakAfter > 0 && entries == o.breakAfter {
					return false
				}
				if o.timestamps {
					e = l.Time.UTC().Format(rfc3339NanoFixed) + " " + e
				}
				if _, err := io.WriteString(out, e); err != nil {
					return true
				}
				entries++
			}
		}
		flush()
		if !o.follow || ended {
			return true
		}
		select {
		case <-changed:
		case <-cut:
			return false
		case <-gone:
			return true
		case <-closed:
			return true
		}
	}
}

// pieces is how the engine sends a line, as Fake.Log describes; a line of exactly PieceSize
// bytes ends with an empty piece.
func pieces(text, driver string, tty bool) []string {
	if tty {
		text += "\r"
	}
	cut := len(text) >= PieceSize
	var out []string
	for len(text) >= PieceSize {
		out = append(out, text[:PieceSize])
		text = text[PieceSize:]
	}
	if driver == "json-file" || !cut {
		text += "\n"
	}
	return append(out, text)
}

// serveAttach hijacks the connection, as the engine does, and sends what the container
// prints (with logs=1, what it printed before too) without time stamps, until it stops: an
// attachment to a container not started yet waits for its start and then its stop.
func (f *Fake) serveAttach(w http.ResponseWriter, r *http.Request) {
	c := f.container(w, r)
	if c == nil {
		return
	}
	q := r.URL.Query()
	f.mu.Lock()
	faults := c.faults
	from, stops := len(c.log), c.stops
	f.mu.Unlock()
	if faults.AttachStatus != 0 {
		writeError(w, faults.AttachStatus, faults.Message)
		return
	}
	if q.Get("logs") == "1" {
		from = 0
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		f.t.Errorf("fake engine: hijacking an attach: %v", err)
		return
	}
	f.mu.Lock()
	select {
	case <-f.closed:
		f.mu.Unlock()
		conn.Close()
		return
	default:
	}
	f.conns[conn] = struct{}{}
	c.attached++
	f.hijacked.Add(1)
	f.mu.Unlock()
	defer func() {
		conn.Close()
		f.mu.Lock()
		delete(f.conns, conn)
		c.attached--
		f.mu.Unlock()
		f.hijacked.Done()
	}()
	contentType := "application/vnd.docker.multiplexed-stream"
	if c.TTY {
		contentType = "application/vnd.docker.raw-stream"
	}
	fmt.Fprintf(buf, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", contentType)
	if err := buf.Flush(); err != nil {
		return
	}
	// The client never writes (no stdin): a read ends when it closes the connection.
	gone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, conn)
		close(gone)
	}()
	out := bufio.NewWriter(conn)
	f.writeLog(out, func() { out.Flush() }, c, logOptions{stdout: q.Get("stdout") == "1", stderr: q.Get("stderr") == "1",
		follow: q.Get("stream") == "1", from: from, attach: true, stops: stops}, gone)
	conn.Close()
	<-gone
}
