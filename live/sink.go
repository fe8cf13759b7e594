package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/qnib/qwatch/message"
)

// Defaults of SinkConfig.
const (
	DefaultHistoryLines = 2000
	DefaultHistoryBytes = 4 << 20
	DefaultPageLines    = 5000
	DefaultPageBytes    = 2 << 20
	DefaultPages        = 32
	DefaultContainers   = 1000
)

// RateMinutes is how many minutes of lines per minute the Sink keeps for each container.
const RateMinutes = 30

// ErrClosed is returned by a Write after Close.
var ErrClosed = errors.New("live: sink closed")

// errTooManyPages refuses a page past SinkConfig.Pages.
var errTooManyPages = errors.New("live: too many pages open")

// SinkConfig bounds what a Sink holds. Its zero value means the defaults.
type SinkConfig struct {
	// HistoryLines and HistoryBytes bound the recent lines a page gets when it opens
	// (defaults DefaultHistoryLines and DefaultHistoryBytes, as encoded for the page).
	HistoryLines int
	HistoryBytes int64
	// PageLines and PageBytes bound each open page's queue of lines not yet sent to it
	// (defaults DefaultPageLines and DefaultPageBytes); past them the oldest are dropped,
	// counted in Stats.Dropped. The default lines are what 20,000 lines a second bring in
	// one DefaultFlush.
	PageLines int
	PageBytes int64
	// Pages bounds how many pages may be open at once (default DefaultPages), so the pages'
	// queues together hold at most Pages × PageBytes.
	Pages int
	// Containers bounds how many containers' lines per minute are kept (default
	// DefaultContainers); past it the container that logged least recently is forgotten.
	Containers int
}

func (c SinkConfig) withDefaults() SinkConfig {
	if c.HistoryLines <= 0 {
		c.HistoryLines = DefaultHistoryLines
	}
	if c.HistoryBytes <= 0 {
		c.HistoryBytes = DefaultHistoryBytes
	}
	if c.PageLines <= 0 {
		c.PageLines = DefaultPageLines
	}
	if c.PageBytes <= 0 {
		c.PageBytes = DefaultPageBytes
	}
	if c.Pages <= 0 {
		c.Pages = DefaultPages
	}
	if c.Containers <= 0 {
		c.Containers = DefaultContainers
	}
	return c
}

// Sink is a qwatch.Sink that feeds open pages: it keeps the recent history, counts lines per
// minute for each container, and queues every message for each page. Add it to the Hub with
// qwatch.WithOverflow(qwatch.DropOldest), so pages never slow the Hub. It is safe for
// concurrent use; create it with NewSink.
type Sink struct {
	cfg SinkConfig
	now func() time.Time

	mu        sync.Mutex
	history   lineQueue
	unencoded messageQueue // newer than history, kept while no page is open
	pages     map[*page]struct{}
	rates     map[string]*rate
	closed    bool
	lines     uint64
	dropped   uint64
}

// NewSink returns a Sink bounded by cfg.
func NewSink(cfg SinkConfig) *Sink {
	cfg = cfg.withDefaults()
	return &Sink{cfg: cfg, now: time.Now, history: newLineQueue(cfg.HistoryLines, cfg.HistoryBytes),
		unencoded: newMessageQueue(cfg.HistoryLines, cfg.HistoryBytes), pages: map[*page]struct{}{}, rates: map[string]*rate{}}
}

// SinkStats counts what a Sink did.
type SinkStats struct {
	Lines        uint64 // messages written to the Sink
	History      int    // lines in the history now
	HistoryBytes int64  // their bytes, as encoded for the page
	Pages        int    // pages open now
	Dropped      uint64 // lines dropped from pages' queues because a page did not keep up
}

// Stats returns the Sink's counters now.
func (s *Sink) Stats() SinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.encodeHistoryLocked()
	return SinkStats{Lines: s.lines, History: s.history.n, HistoryBytes: s.history.bytes, Pages: len(s.pages), Dropped: s.dropped}
}

// Write keeps the batch in the history, counts it, and queues it for every open page. It
// never blocks on a page. It returns ErrClosed after Close. While no page is open a message
// is kept as it is and encoded for the page only when one opens: most of the time nobody
// watches, and encoding costs more than everything else the Sink does.
func (s *Sink) Write(_ context.Context, batch []message.Message) error {
	s.mu.Lock()
	watched := len(s.pages) > 0
	s.mu.Unlock()
	var encoded [][]byte
	if watched {
		encoded = make([][]byte, len(batch))
		for i := range batch {
			encoded[i] = encode(&batch[i])
		}
	}
	minute := s.now().Unix() / 60
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for i := range batch {
		m := &batch[i]
		s.lines++
		switch {
		case encoded != nil:
			s.pushLocked(encoded[i])
		case len(s.pages) > 0: // a page opened since the look above
			s.pushLocked(encode(m))
		default:
			s.unencoded.push(*m)
		}
		if m.Kind == message.KindLog && m.Container.ID != "" {
			s.countLocked(m.Container.ID, minute)
		}
	}
	return nil
}

// pushLocked keeps b in the history, after the messages kept unencoded, and queues it for
// every open page.
func (s *Sink) pushLocked(b []byte) {
	s.encodeHistoryLocked()
	s.history.push(b)
	for p := range s.pages {
		if n := p.queue.push(b); n > 0 {
			p.dropped += uint64(n)
			s.dropped += uint64(n)
		}
	}
}

// encodeHistoryLocked moves the messages kept unencoded into the history, encoded, oldest
// first.
func (s *Sink) encodeHistoryLocked() {
	for _, m := range s.unencoded.take() {
		s.history.push(encode(&m))
	}
}

// Close ends every page's stream; later Writes fail. It is safe to call twice.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for p := range s.pages {
		close(p.done)
		delete(s.pages, p)
	}
	return nil
}

// page is one open page's queue.
type page struct {
	queue   lineQueue // guarded by Sink.mu, as are the fields below
	dropped uint64
	done    chan struct{} // closed when the Sink closes
}

// open registers a page and returns it with the history, taken at the same moment, so the
// page sees every line once: from the history or from its queue.
func (s *Sink) open() (*page, [][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, ErrClosed
	}
	if len(s.pages) >= s.cfg.Pages {
		return nil, nil, errTooManyPages
	}
	p := &page{queue: newLineQueue(s.cfg.PageLines, s.cfg.PageBytes), done: make(chan struct{})}
	s.pages[p] = struct{}{}
	s.encodeHistoryLocked()
	return p, s.history.all(), nil
}

// close forgets a page; its drops stay counted in the Sink's Stats.
func (s *Sink) close(p *page) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pages, p)
}

// take returns the lines queued for p and empties its queue.
func (s *Sink) take(p *page) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return p.queue.take()
}

// pageDropped returns how many lines p has lost so far, not keeping up.
func (s *Sink) pageDropped(p *page) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return p.dropped
}

// rate counts one container's lines in the last RateMinutes minutes, a bucket a minute.
type rate struct {
	last   int64 // the minute (Unix time / 60) of the newest bucket
	logged int64 // the minute of the newest line, which Rates does not move as it does last
	counts [RateMinutes]uint32
}

// advance moves the newest bucket to minute, emptying the buckets of the minutes between.
func (r *rate) advance(minute int64) {
	for m := r.last + 1; m <= minute && m <= r.last+RateMinutes; m++ {
		r.counts[m%RateMinutes] = 0
	}
	if minute > r.last {
		r.last = minute
	}
}

func (s *Sink) countLocked(id string, minute int64) {
	r, ok := s.rates[id]
	if !ok {
		if len(s.rates) >= s.cfg.Containers {
			s.forgetQuietestLocked()
		}
		r = &rate{last: minute}
		s.rates[id] = r
	}
	r.advance(minute)
	r.counts[minute%RateMinutes]++
	r.logged = minute
}

func (s *Sink) forgetQuietestLocked() {
	var quietest string
	var last int64
	for id, r := range s.rates {
		if quietest == "" || r.logged < last {
			quietest, last = id, r.logged
		}
	}
	delete(s.rates, quietest)
}

// Rates returns each container's lines per minute (by container ID), RateMinutes counts,
// oldest first, the last for the current minute.
func (s *Sink) Rates() map[string][]uint32 {
	minute := s.now().Unix() / 60
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]uint32, len(s.rates))
	for id, r := range s.rates {
		r.advance(minute)
		counts := make([]uint32, RateMinutes)
		for i := range counts {
			counts[i] = r.counts[(minute-RateMinutes+1+int64(i))%RateMinutes]
		}
		out[id] = counts
	}
	return out
}

// line is a message as the page reads it.
type line struct {
	ID        string         `json:"id"`
	Time      time.Time      `json:"time"`
	Kind      string         `json:"kind"`
	Level     int            `json:"level"`
	Text      string         `json:"text"`
	FullText  string         `json:"full,omitempty"`
	Host      string         `json:"host,omitempty"`
	Source    string         `json:"source,omitempty"`
	Container string         `json:"cid,omitempty"`
	Name      string         `json:"name,omitempty"`
	Image     string         `json:"image,omitempty"`
	Service   string         `json:"service,omitempty"`
	Type      string         `json:"type,omitempty"`
	Action    string         `json:"action,omitempty"`
	Fields    map[string]any `json:"fields,omitempty"`
}

// encode returns m as the page reads it, as one line of JSON.
func encode(m *message.Message) []byte {
	l := line{ID: m.ID, Time: m.Time, Kind: m.Kind.String(), Level: int(m.Level), Text: m.Text, FullText: m.FullText,
		Host: m.Host, Source: m.Source, Container: m.Container.ID, Name: m.Container.Name, Image: m.Container.ImageName,
		Service: m.Service.Name, Type: m.Event.Type, Action: m.Event.Action, Fields: m.Fields}
	b, err := json.Marshal(l)
	if err != nil {
		// A field that JSON cannot hold (a NaN, say) must not cost the line: its fields
		// are shown as text instead.
		l.Fields = make(map[string]any, len(m.Fields))
		for k, v := range m.Fields {
			l.Fields[k] = fmt.Sprint(v)
		}
		b, _ = json.Marshal(l)
	}
	return b
}
