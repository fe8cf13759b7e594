package live

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/inventory"
)

// Defaults of Config.
const (
	DefaultHeartbeat = 15 * time.Second
	DefaultFlush     = 250 * time.Millisecond
	DefaultBatch     = 500
)

const (
	statusEvery = 2 * time.Second // how often a page gets the sinks' health
	ratesEvery  = 5 * time.Second // how often a page gets the lines per minute
	// inventoryEvery is the least time between two inventories sent to a page: a host
	// where containers come and go by the second costs a snapshot a second, not one a change.
	inventoryEvery = time.Second
	// writeTimeout bounds one write to a page: a page that takes no bytes for this long is
	// cut off, so it holds no goroutine for longer.
	writeTimeout = 10 * time.Second
)

// Config is what a Handler shows besides the lines. Its zero value means the defaults.
type Config struct {
	// Inventory lists the containers; nil shows none.
	Inventory *inventory.Inventory
	// Stats reports the sinks' health (typically a Hub's Stats); nil shows none.
	Stats func() qwatch.Stats
	// Heartbeat is the longest a stream stays silent (default DefaultHeartbeat), so proxies
	// and browsers keep it open and a page notices a dead connection.
	Heartbeat time.Duration
	// Flush is how often new lines go out to a page, in one batch (default DefaultFlush).
	Flush time.Duration
	// Batch is the most lines in one batch (default DefaultBatch).
	Batch int
}

//go:embed assets
var assets embed.FS

// Handler serves the live page of a Sink: GET / the page, GET /assets/ its script and style,
// GET /stream the server-sent events the page reads. It is safe for concurrent use; create
// it with NewHandler. Every stream it serves ends when the client goes, when the Sink
// closes, or when Close is called.
type Handler struct {
	sink *Sink
	cfg  Config
	mux  *http.ServeMux

	mu      sync.Mutex
	closed  bool
	done    chan struct{}
	streams sync.WaitGroup
}

// NewHandler returns a Handler for the pages of s.
func NewHandler(s *Sink, cfg Config) *Handler {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Flush <= 0 {
		cfg.Flush = DefaultFlush
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	h := &Handler{sink: s, cfg: cfg, mux: http.NewServeMux(), done: make(chan struct{})}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	h.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	h.mux.Handle("GET /assets/", http.StripPrefix("/assets", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /stream", h.stream)
	return h
}

// securityHeaders is sent with every answer: the page's own origin only, no inline script,
// never in a frame.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
		"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
}

// ServeHTTP serves the page, its assets and its stream.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	h.mux.ServeHTTP(w, r)
}

// Close ends every open stream and waits until each has returned; later streams are refused
// with 503. Call it before or as the server shuts down (http.Server.RegisterOnShutdown), since
// Shutdown alone waits for streams that never go idle. It is safe to call twice.
func (h *Handler) Close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	h.mu.Unlock()
	h.streams.Wait()
}

func (h *Handler) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.streams.Add(1)
	return true
}

// stream sends, as server-sent events: "status" (the sinks' health), "inventory" (the
// containers), "rates" (lines per minute), then the history and new lines as "lines" (a JSON
// array each), with comments as heartbeats.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request) {
	if !h.enter() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.streams.Done()
	p, history, err := h.sink.open()
	if errors.Is(err, errTooManyPages) {
		http.Error(w, "too many live pages open", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.sink.close(p)

	rc := http.NewResponseController(w)
	// A server's ReadTimeout would end the stream: the server reads on in the background
	// to notice a client gone, and a read timeout there cancels the request.
	rc.SetReadDeadline(time.Time{})
	// The per-write deadlines set below must not outlive the stream on a kept-alive
	// connection of a server without a WriteTimeout.
	defer rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, rc: rc}

	var changed <-chan struct{}
	var inventorySent time.Time
	sendInventory := func() {
		if h.cfg.Inventory != nil {
			changed = h.cfg.Inventory.Changed() // before the snapshot, so no change is missed
			s.json("inventory", h.cfg.Inventory.Snapshot())
			inventorySent = time.Now()
		}
	}
	sendInventory()
	s.json("status", h.status(0))
	s.json("rates", h.sink.Rates())
	h.sendLines(s, history)
	s.flush()

	flush := time.NewTicker(h.cfg.Flush)
	defer flush.Stop()
	status := time.NewTicker(statusEvery)
	defer status.Stop()
	rates := time.NewTicker(ratesEvery)
	defer rates.Stop()
	invPending := false
	for s.err == nil {
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		case <-p.done:
			// The Sink closed: what it wrote last still goes out.
			h.sendLines(s, h.sink.take(p))
			s.flush()
			return
		case <-changed:
			// Sent with a later batch: a burst of changes costs one snapshot.
			changed, invPending = nil, true
		case <-flush.C:
			h.sendLines(s, h.sink.take(p))
			if invPending && time.Since(inventorySent) >= inventoryEvery {
				invPending = false
				sendInventory()
			}
		case <-status.C:
			s.json("status", h.status(h.sink.pageDropped(p)))
		case <-rates.C:
			s.json("rates", h.sink.Rates())
		}
		if time.Since(s.last) >= h.cfg.Heartbeat {
			s.event("", nil)
		}
		s.flush()
	}
}

// sendLines sends lines in batches of at most Config.Batch.
func (h *Handler) sendLines(s *sse, lines [][]byte) {
	for batch := range slices.Chunk(lines, h.cfg.Batch) {
		s.event("lines", append(append([]byte("["), bytes.Join(batch, []byte(","))...), ']'))
	}
}

// sinkHealth is one sink's health as the page shows it.
type sinkHealth struct {
	Name        string   `json:"name"`
	Queued      int      `json:"queued"`
	QueuedBytes int64    `json:"queued_bytes"`
	Spooled     uint64   `json:"spooled"`
	SpoolBytes  int64    `json:"spool_bytes"`
	Written     uint64   `json:"written"`
	Failed      uint64   `json:"failed"`
	Dropped     uint64   `json:"dropped"`
	LastError   string   `json:"last_error,omitempty"`
	Problems    []string `json:"problems,omitempty"`
}

type status struct {
	Time        time.Time    `json:"time"`
	Sinks       []sinkHealth `json:"sinks"`
	Live        SinkStats    `json:"live"`
	PageDropped uint64       `json:"page_dropped"` // lines this page lost, not keeping up
}

func (h *Handler) status(pageDropped uint64) status {
	st := status{Time: time.Now(), Sinks: []sinkHealth{}, Live: h.sink.Stats(), PageDropped: pageDropped}
	if h.cfg.Stats == nil {
		return st
	}
	hub := h.cfg.Stats()
	for _, name := range slices.Sorted(maps.Keys(hub.Sinks)) {
		s := hub.Sinks[name]
		last := s.LastError
		if last == "" {
			last = s.SpoolError
		}
		st.Sinks = append(st.Sinks, sinkHealth{Name: name, Queued: s.Queued, QueuedBytes: s.QueuedBytes, Spooled: s.Spooled,
			SpoolBytes: s.SpooledBytes, Written: s.Written, Failed: s.Failed, Dropped: s.Dropped, LastError: last, Problems: s.Problems()})
	}
	return st
}

// sse writes server-sent events; after the first error it writes nothing more.
type sse struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	last time.Time // when it last wrote
	err  error
}

// event writes one event; an empty name writes a comment, a heartbeat. data must hold no
// newline (JSON from encoding/json holds none).
func (s *sse) event(name string, data []byte) {
	if s.err != nil {
		return
	}
	// A deadline for each write: a page that stops reading is cut off, and a server's
	// WriteTimeout does not end a healthy stream. Servers that cannot set one are fine too.
	if err := s.rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.err = err
		return
	}
	var b []byte
	if name == "" {
		b = []byte(":\n\n")
	} else {
		b = make([]byte, 0, len(name)+len(data)+16)
		b = append(append(append(append(append(b, "event: "...), name...), "\ndata: "...), data...), "\n\n"...)
	}
	_, s.err = s.w.Write(b)
	s.last = time.Now()
}

func (s *sse) json(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.err = err
		return
	}
	s.event(name, b)
}

func (s *sse) flush() {
	if s.err == nil {
		s.err = s.rc.Flush()
	}
}
