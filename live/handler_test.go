package live

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/inventory"
)

// stream is a test's reader of one server-sent event stream.
type stream struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

// openStream GETs url; the stream is closed when the test ends, and fails the test if a
// read waits longer than the test's patience.
func openStream(t *testing.T, url string) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return &stream{t: t, resp: resp, r: bufio.NewReaderSize(resp.Body, 1<<20)}
}

// next returns the next event's name and data; a heartbeat comes as the name ":".
func (s *stream) next() (string, string, error) {
	var name, data string
	for {
		l, err := s.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		l = strings.TrimSuffix(l, "\n")
		switch {
		case l == "" && (name != "" || data != ""):
			return name, data, nil
		case l == "":
		case strings.HasPrefix(l, ":"):
			name = ":"
		case strings.HasPrefix(l, "event: "):
			name = l[len("event: "):]
		case strings.HasPrefix(l, "data: "):
			data = l[len("data: "):]
		}
	}
}

// waitFor reads events until one named name for which ok returns true.
func (s *stream) waitFor(name string, ok func(data string) bool) string {
	s.t.Helper()
	for {
		n, d, err := s.next()
		if err != nil {
			s.t.Fatalf("waiting for a %q event: %v", name, err)
		}
		if n == name && ok(d) {
			return d
		}
	}
}

// lineIDs reads "lines" events until it has n lines, and returns their IDs.
func (s *stream) lineIDs(n int) []string {
	s.t.Helper()
	var out []string
	for len(out) < n {
		s.waitFor("lines", func(d string) bool {
			var ls []line
			if err := json.Unmarshal([]byte(d), &ls); err != nil {
				s.t.Fatalf("lines %s: %v", d, err)
			}
			for _, l := range ls {
				out = append(out, l.ID)
			}
			return true
		})
	}
	return out
}

func TestStreamHistoryThenLive(t *testing.T) {
	s := NewSink(SinkConfig{})
	inv := inventory.New()
	inv.Put(inventory.Container{ID: "c1", Name: "web-1", State: "running"})
	stats := func() qwatch.Stats {
		return qwatch.Stats{Sinks: map[string]qwatch.SinkStats{"es": {Written: 7, Retrying: true, LastError: "refused"}}}
	}
	h := NewHandler(s, Config{Inventory: inv, Stats: stats, Flush: 10 * time.Millisecond})
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()
	write(t, s, logLine("1", "c1", "one"), logLine("2", "c1", "two"))

	st := openStream(t, srv.URL+"/stream")
	for k, v := range map[string]string{"Content-Type": "text/event-stream", "Content-Security-Policy": securityHeaders["Content-Security-Policy"]} {
		if got := st.resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	st.waitFor("inventory", func(d string) bool { return strings.Contains(d, `"name":"web-1"`) })
	d := st.waitFor("status", func(string) bool { return true })
	if !strings.Contains(d, `"name":"es"`) || !strings.Contains(d, `"written":7`) || !strings.Contains(d, "refused") {
		t.Errorf("status %s: want the es sink's counts and its problem", d)
	}
	if diff := cmp.Diff([]string{"1", "2"}, st.lineIDs(2)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	write(t, s, logLine("3", "c1", "three"))
	write(t, s, logLine("4", "c1", "four"))
	if diff := cmp.Diff([]string{"3", "4"}, st.lineIDs(2)); diff != "" {
		t.Errorf("live lines (-want +got):\n%s", diff)
	}
	inv.Put(inventory.Container{ID: "c2", Name: "db-1", State: "running"})
	st.waitFor("inventory", func(d string) bool { return strings.Contains(d, `"name":"db-1"`) })
}

// A stream outlives the server's read and write timeouts: it sets its own deadlines.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	s := NewSink(SinkConfig{})
	h := NewHandler(s, Config{Heartbeat: 50 * time.Millisecond, Flush: 10 * time.Millisecond})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	srv.Start()
	defer srv.Close()
	defer h.Close()
	st := openStream(t, srv.URL+"/stream")
	opened := time.Now()
	for time.Since(opened) < time.Second {
		if _, _, err := st.next(); err != nil {
			t.Fatalf("stream ended after %v: %v", time.Since(opened), err)
		}
	}
	write(t, s, logLine("late", "c1", "after the timeouts"))
	if diff := cmp.Diff([]string{"late"}, st.lineIDs(1)); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// Handler.Close and Sink.Close each end every open stream and leave no goroutine behind
// (goleak checks in TestMain).
func TestStreamShutdown(t *testing.T) {
	for _, tt := range []struct {
		name string
		stop func(*Handler, *Sink)
	}{
		{"handler closed", func(h *Handler, _ *Sink) { h.Close() }},
		{"sink closed", func(_ *Handler, s *Sink) { s.Close(context.Background()) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSink(SinkConfig{})
			h := NewHandler(s, Config{})
			srv := httptest.NewServer(h)
			defer srv.Close()
			var streams []*stream
			for range 3 {
				st := openStream(t, srv.URL+"/stream")
				st.waitFor("status", func(string) bool { return true })
				streams = append(streams, st)
			}
			tt.stop(h, s)
			for i, st := range streams {
				if _, err := io.Copy(io.Discard, st.r); err != nil {
					t.Errorf("stream %d ended with %v, want a clean end", i, err)
				}
			}
			h.Close()
			resp, err := http.Get(srv.URL + "/stream")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("a stream after shutdown: %s, want 503", resp.Status)
			}
		})
	}
}

func TestPageAndAssets(t *testing.T) {
	h := NewHandler(NewSink(SinkConfig{}), Config{})
	defer h.Close()
	mux := http.NewServeMux()
	mux.Handle("/live/", http.StripPrefix("/live", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tt := range []struct {
		path, status, contentType string
	}{
		{"/live/", "200 OK", "text/html; charset=utf-8"},
		{"/live/assets/app.js", "200 OK", "text/javascript; charset=utf-8"},
		{"/live/assets/app.css", "200 OK", "text/css; charset=utf-8"},
		{"/live/nothing", "404 Not Found", ""},
	} {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Status != tt.status {
				t.Fatalf("%s", resp.Status)
			}
			if tt.contentType != "" && resp.Header.Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.contentType)
			}
			for k, v := range securityHeaders {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tt.path == "/live/" {
				// Every script comes from a file, none inline, and nothing from elsewhere.
				if inline := regexp.MustCompile(`<script(?:[^>]*[^>]src=)?[^>]*>[^<]`).Find(body); inline != nil {
					t.Errorf("inline script in the page: %s", inline)
				}
				if ext := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).Find(body); ext != nil {
					t.Errorf("the page loads from another origin: %s", ext)
				}
			}
		})
	}
}
