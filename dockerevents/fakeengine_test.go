package dockerevents_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/client"
)

// fakeEngine speaks enough of the engine's API for the Source: /_ping, /info,
// /containers/json and a streaming /events with a replay buffer, as the real engine keeps.
// Tests use it to inject faults: cut streams, restart with an empty buffer, slow reads.
type fakeEngine struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	id          string
	buffer      []events.Message // the last bufferSize events, as the engine replays them
	subs        map[chan events.Message]struct{}
	cut         chan struct{} // closed to cut every open stream
	clock       int64
	down        bool
	lastFilters string
}

const bufferSize = 256

func newFakeEngine(t *testing.T) *fakeEngine {
	f := &fakeEngine{t: t, id: "ENGINE-1", subs: map[chan events.Message]struct{}{}, cut: make(chan struct{}),
		clock: time.Date(2026, 11, 23, 22, 0, 0, 0, time.UTC).UnixNano()}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		if f.isDown() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("API-Version", "1.41")
		w.Write([]byte("OK"))
	})
	mux.HandleFunc("/v1.41/info", func(w http.ResponseWriter, r *http.Request) {
		if f.isDown() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		f.mu.Lock()
		id := f.id
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"ID": id, "Name": "fakehost", "ServerVersion": "20.10.24"})
	})
	mux.HandleFunc("/v1.41/containers/json", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode([]map[string]any{{
			"Id": strings.Repeat("a", 64), "Names": []string{"/listed"}, "Image": "busybox:1",
			"Labels": map[string]string{"com.docker.compose.service": "db"}}})
	})
	mux.HandleFunc("/v1.41/events", f.serveEvents)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.close)
	return f
}

func (f *fakeEngine) close() {
	f.cutStreams()
	f.srv.CloseClientConnections()
	f.srv.Close()
}

func (f *fakeEngine) isDown() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

func (f *fakeEngine) client() *client.Client {
	c, err := client.NewClientWithOpts(client.WithHost("tcp://"+strings.TrimPrefix(f.srv.URL, "http://")),
		client.WithHTTPClient(f.srv.Client()), client.WithAPIVersionNegotiation())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

// emit records a container event with the next time and sends it to every open stream.
func (f *fakeEngine) emit(action, name string) events.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock += int64(time.Millisecond)
	ev := events.Message{Type: events.ContainerEventType, Action: events.Action(action), Scope: "local",
		Actor: events.Actor{ID: fmt.Sprintf("%x", sha256.Sum256([]byte(name))), Attributes: map[string]string{"name": name, "image": "nginx:1.27", "app": "web"}},
		Time:  f.clock / 1e9, TimeNano: f.clock}
	f.buffer = append(f.buffer, ev)
	if len(f.buffer) > bufferSize {
		f.buffer = f.buffer[len(f.buffer)-bufferSize:]
	}
	for ch := range f.subs {
		ch <- ev
	}
	return ev
}

// emitAt records a container event stamped at, which may be before events already sent
// (the real engine stamps an event before it takes its publishing lock). With live false it
// goes only into the replay buffer, as an event published while the stream was broken.
func (f *fakeEngine) emitAt(action, name string, at int64, live bool) events.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev := events.Message{Type: events.ContainerEventType, Action: events.Action(action), Scope: "local",
		Actor: events.Actor{ID: fmt.Sprintf("%x", sha256.Sum256([]byte(name))), Attributes: map[string]string{"name": name, "image": "nginx:1.27", "app": "web"}},
		Time:  at / 1e9, TimeNano: at}
	f.buffer = append(f.buffer, ev)
	if len(f.buffer) > bufferSize {
		f.buffer = f.buffer[len(f.buffer)-bufferSize:]
	}
	if live {
		for ch := range f.subs {
			ch <- ev
		}
	}
	return ev
}

// now returns the engine's clock.
func (f *fakeEngine) now() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

// cutStreams ends every open /events response mid-stream.
func (f *fakeEngine) cutStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.cut)
	f.cut = make(chan struct{})
}

// restart cuts the streams and comes back as a new engine with an empty replay buffer.
func (f *fakeEngine) restart(newID string) {
	f.cutStreams()
	f.mu.Lock()
	f.id, f.buffer = newID, nil
	f.mu.Unlock()
}

func (f *fakeEngine) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
	if down {
		f.cutStreams()
	}
}

func (f *fakeEngine) serveEvents(w http.ResponseWriter, r *http.Request) {
	if f.isDown() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	since := r.URL.Query().Get("since")
	sinceNanos := parseSince(f.t, since)
	ch := make(chan events.Message, 1024)
	f.mu.Lock()
	f.lastFilters = r.URL.Query().Get("filters")
	var replay []events.Message
	for _, ev := range f.buffer {
		if ev.TimeNano >= sinceNanos {
			replay = append(replay, ev)
		}
	}
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
		enc.Encode(ev)
	}
	w.(http.Flusher).Flush()
	for {
		select {
		case ev := <-ch:
			enc.Encode(ev)
			w.(http.Flusher).Flush()
		case <-cut:
			// Half an event, then the connection goes: a stream cut mid-way.
			w.Write([]byte(`{"Type":"container","Act`))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case <-r.Context().Done():
			return
		}
	}
}

func parseSince(t *testing.T, s string) int64 {
	if s == "" {
		return 0
	}
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		t.Errorf("since %q: %v", s, err)
		return 0
	}
	nanos := int64(0)
	if frac != "" {
		frac = (frac + "000000000")[:9]
		nanos, _ = strconv.ParseInt(frac, 10, 64)
	}
	return secs*1e9 + nanos
}
