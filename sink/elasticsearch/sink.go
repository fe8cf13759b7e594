package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/olivere/elastic/v7"

	"github.com/qnib/qwatch/internal/backoff"
	"github.com/qnib/qwatch/internal/jsonw"
	"github.com/qnib/qwatch/internal/redact"
	"github.com/qnib/qwatch/message"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("elasticsearch: sink closed")

// Stats counts a Sink's work. Each document of a batch ends in exactly one of Indexed,
// AlreadyPresent, DeadLettered or Failed; Retried counts retries of documents.
type Stats struct {
	Indexed        uint64 // created (200, 201)
	AlreadyPresent uint64 // 409 on create: an earlier attempt had landed
	Retried        uint64 // document sends repeated after 429, 5xx, a whole request refused as an outage (401, 403, 408, 429) or a transport error
	DeadLettered   uint64 // refused for good and written to the dead-letter index
	Failed         uint64 // neither indexed nor dead-lettered when Write gave up
	BulkRequests   uint64 // bulk requests sent, retries and halves of refused ones included
	Bytes          uint64 // request bodies, before compression
	// Healthy is false from a request that failed as a whole (the cluster unreachable,
	// refusing the credentials, overloaded or timing out) until one succeeds.
	Healthy bool
	// LastError describes the last failed request; it never holds credentials.
	LastError string
	// Engine is what the node runs, as the last Install found it (zero before).
	Engine Engine
	// TemplateError is why the last Install did not put the index template (the engine
	// refused it, or did not answer); "" when it did, or was not asked to.
	TemplateError string
}

// BulkError is the error Write returns when some documents of the batch were neither indexed
// nor dead-lettered when it gave up. Its Unwritten method lists them by their index in the
// batch, so the Hub counts exactly those as failed and the rest as written.
type BulkError struct {
	Failed, Total int   // documents not written, of the batch's
	Err           error // the last reason a document could not be written
	indexes       []int
}

func (e *BulkError) Error() string {
	return fmt.Sprintf("elasticsearch: %d of %d documents neither indexed nor dead-lettered: %v", e.Failed, e.Total, e.Err)
}

// Unwrap returns Err.
func (e *BulkError) Unwrap() error { return e.Err }

// Unwritten returns the indexes, in the batch given to Write, of the documents not written.
func (e *BulkError) Unwritten() []int { return e.indexes }

// Sink indexes batches of messages with the bulk API. Create it with New.
type Sink struct {
	cfg        Config
	client     *elastic.Client
	httpClient *http.Client
	ownHTTP    bool
	index, dlq indexLayout
	log        *slog.Logger
	closed     atomic.Bool
	closeOnce  sync.Once

	indexed, already, retried, dead, failed, requests, bytes atomic.Uint64

	healthMu  sync.Mutex
	unhealthy bool
	lastErr   string
	installed installState

	// Reused from one Write to the next (Writes never overlap): the encoded batch and its
	// documents. Nothing refers to them once Write has returned.
	buf   []byte
	all   []doc
	docs  []*doc
	names indexNames
}

// New checks cfg and returns a Sink. Unless Sniff or Healthcheck is set (the client then
// looks for the nodes at once) it does not contact the cluster; see Ping and Install.
func New(cfg Config) (*Sink, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	hc, own, err := cfg.httpClient()
	if err != nil {
		return nil, err
	}
	if cfg.Password != "" || cfg.APIKey != "" || cfg.Headers.Get("Authorization") != "" {
		for _, u := range cfg.URLs {
			if strings.HasPrefix(strings.ToLower(u), "http://") {
				cfg.Logger.Warn("elasticsearch: credentials are sent over plain HTTP; anyone on the way can read them (use https)", "url", redact.URL(u))
			}
		}
	}
	opts := []elastic.ClientOptionFunc{
		elastic.SetURL(cfg.URLs...),
		elastic.SetHttpClient(hc),
		elastic.SetSniff(cfg.Sniff),
		elastic.SetHealthcheck(cfg.Healthcheck),
		elastic.SetGzip(cfg.Gzip),
		elastic.SetRetrier(elastic.NewStopRetrier()), // the Sink owns the retry policy
		elastic.SetDecoder(bulkDecoder{}),
	}
	if cfg.Username != "" {
		opts = append(opts, elastic.SetBasicAuth(cfg.Username, cfg.Password))
	}
	headers := cfg.Headers.Clone()
	if cfg.APIKey != "" {
		if headers == nil {
			headers = http.Header{}
		}
		headers.Set("Authorization", "ApiKey "+cfg.APIKey)
	}
	if headers != nil {
		opts = append(opts, elastic.SetHeaders(headers))
	}
	client, err := elastic.NewSimpleClient(opts...)
	if cfg.Sniff || cfg.Healthcheck {
		client, err = elastic.NewClient(opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: creating client: %w", err)
	}
	index := parseIndex(cfg.Index)
	return &Sink{cfg: cfg, client: client, httpClient: hc, ownHTTP: own,
		index: index, dlq: parseIndex(cfg.DeadLetterIndex), log: cfg.Logger,
		names: indexNames{layout: index}}, nil
}

// Ping checks that the first node answers; a program can call it at start to fail early.
func (s *Sink) Ping(ctx context.Context) error {
	_, err := s.client.PerformRequest(ctx, elastic.PerformRequestOptions{Method: "GET", Path: "/"})
	if err != nil {
		return fmt.Errorf("elasticsearch: no answer from %s: %w", redact.URL(s.cfg.URLs[0]), err)
	}
	return nil
}

// Stats returns the Sink's counters.
func (s *Sink) Stats() Stats {
	engine, templateErr := s.installed.get()
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	return Stats{
		Indexed:        s.indexed.Load(),
		AlreadyPresent: s.already.Load(),
		Retried:        s.retried.Load(),
		DeadLettered:   s.dead.Load(),
		Failed:         s.failed.Load(),
		BulkRequests:   s.requests.Load(),
		Bytes:          s.bytes.Load(),
		Healthy:        !s.unhealthy,
		LastError:      s.lastErr,
		Engine:         engine,
		TemplateError:  templateErr,
	}
}

// health records how the last request went.
func (s *Sink) health(err error) {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	s.unhealthy = err != nil
	if err != nil {
		s.lastErr = err.Error()
	}
}

// Close makes later writes fail and releases the idle connections of the HTTP client the Sink
// made (not those of a Config.HTTPClient). It is quick and idempotent.
func (s *Sink) Close(context.Context) error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.client.Stop()
		if s.ownHTTP {
			s.httpClient.CloseIdleConnections()
		}
	})
	return nil
}

// doc is one document on its way: where it goes, and its entry in a bulk request body.
type doc struct {
	index, id  string
	pos        int    // index of its message in the batch
	line       []byte // the create action, a newline, the document and a newline
	source     []byte // the document, within line
	deadLetter bool   // a dead letter itself: if refused, it fails
	fresh      bool   // not sent yet: no wait needed before sending it
}

// size is what the document adds to a bulk request body.
func (d *doc) size() int { return len(d.line) }

// appendEntry appends the bulk entry of a document to b: the create action under its ID, then
// the document that encode appends. It returns b and the entry's bounds within it, and those
// of the document.
func appendEntry(b []byte, index, id string, encode func([]byte) []byte) (out []byte, start, src, end int) {
	start = len(b)
	b = append(b, `{"create":{"_index":`...)
	b = jsonw.AppendString(b, index)
	b = append(b, `,"_id":`...)
	b = jsonw.AppendString(b, id)
	b = append(b, "}}\n"...)
	src = len(b)
	b = encode(b)
	end = len(b)
	return append(b, '\n'), start, src, end
}

// body is the bulk request body for docs. The documents of a batch are encoded once, one
// after the other, into one array, so the body of a first attempt is that array as it is;
// only a retry of some of them is copied together.
func body(docs []*doc) string {
	first, last := docs[0].line, docs[len(docs)-1].line
	start := unsafe.Pointer(unsafe.SliceData(first))
	n := uintptr(unsafe.Pointer(unsafe.SliceData(last))) + uintptr(len(last)) - uintptr(start)
	contiguous := true
	for i := 1; i < len(docs) && contiguous; i++ {
		prev := docs[i-1].line
		contiguous = unsafe.Add(unsafe.Pointer(unsafe.SliceData(prev)), len(prev)) == unsafe.Pointer(unsafe.SliceData(docs[i].line))
	}
	if contiguous {
		// The array is never written again once encoded: a string over it is safe.
		return unsafe.String((*byte)(start), n)
	}
	size := 0
	for _, d := range docs {
		size += len(d.line)
	}
	b := make([]byte, 0, size)
	for _, d := range docs {
		b = append(b, d.line...)
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Write indexes the batch; see the package documentation for what happens to each document.
// After Close it returns ErrClosed, and with ctx already done the context's error; either way
// it sends nothing.
func (s *Sink) Write(ctx context.Context, batch []message.Message) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if len(batch) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("elasticsearch: writing %d documents: %w", len(batch), err)
	}
	if cap(s.all) < len(batch) {
		s.all, s.docs = make([]doc, len(batch)), make([]*doc, len(batch))
	}
	all, docs, buf := s.all[:len(batch)], s.docs[:len(batch)], s.buf[:0]
	defer func() {
		clear(all) // lets go of the strings
		if cap(buf) <= 2*s.cfg.MaxBulkBytes {
			s.buf = buf[:0]
		}
	}()
	for i := range batch {
		m := &batch[i]
		id := m.ID
		if id == "" {
			// The Hub always sets an ID; a program that calls Write itself may not.
			id = message.NewID()
		}
		index := s.names.of(m.Time)
		var start, src, end int
		buf, start, src, end = appendEntry(buf, index, id, m.AppendJSON)
		// Entries share buf's array; a later append may move buf, but the slices taken keep
		// the array they point into alive and unchanged (and no longer contiguous with the
		// entries after them, which body notices).
		all[i] = doc{index: index, id: id, pos: i, line: buf[start : end+1 : end+1], source: buf[src:end:end]}
		docs[i] = &all[i]
	}
	return s.deliver(ctx, docs)
}

type outcome int

const (
	done outcome = iota
	retry
	refused
	failed
)

// deliver sends docs until each is indexed, present, dead-lettered or out of retries. The
// retry budget bounds the whole of it: a request still in flight when it ends is cancelled.
func (s *Sink) deliver(ctx context.Context, docs []*doc) error {
	total := len(docs)
	deadline := time.Now().Add(s.cfg.RetryBudget)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	retries := backoff.New(s.cfg.RetryInitial, s.cfg.RetryMax, s.cfg.RetryJitter)
	pending := docs
	var firstErr, lastErr error
	var unwritten []int
	fail := func(d *doc) {
		s.failed.Add(1)
		unwritten = append(unwritten, d.pos)
	}
	for attempt := 1; ; attempt++ {
		var again []*doc
		for _, chunk := range s.split(pending) {
			outs, reasons, err := s.send(ctx, chunk)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			// Keep the reason retries began over the cancellation that ends them.
			if err != nil && (lastErr == nil || ctx.Err() == nil) {
				lastErr = err
			}
			for i, d := range chunk {
				switch outs[i] {
				case retry:
					again = append(again, d)
				case refused:
					if d.deadLetter {
						fail(d)
						lastErr = fmt.Errorf("dead letter %s refused: %s", d.id, reasons[i])
						continue
					}
					again = append(again, s.deadLetter(d, reasons[i]))
				case failed:
					fail(d)
				}
			}
		}
		if len(again) == 0 {
			break
		}
		// Dead letters go out at once; only documents that need a retry wait.
		n := countRetries(again)
		var wait time.Duration
		if n > 0 {
			wait = retries.Next()
		}
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			for _, d := range again {
				fail(d)
			}
			if err := context.Cause(ctx); err != nil {
				lastErr = fmt.Errorf("%w (last error: %v)", err, lastErr)
			}
			break
		}
		if n > 0 {
			s.retried.Add(uint64(n))
			s.log.Warn("elasticsearch: retrying documents", "documents", len(again), "attempt", attempt, "in", wait.Round(time.Millisecond), "err", lastErr)
			backoff.Sleep(ctx, wait) // a done ctx fails what is left on the next round
		}
		pending = again
	}
	if len(unwritten) > 0 {
		if firstErr != nil && firstErr != lastErr {
			// The first error says what began the trouble; later ones may only say that the
			// client gave up on the node.
			lastErr = fmt.Errorf("%w (first error: %v)", lastErr, firstErr)
		}
		return &BulkError{Failed: len(unwritten), Total: total, Err: lastErr, indexes: unwritten}
	}
	return nil
}

// countRetries counts the documents in docs that were sent before, as against new dead
// letters.
func countRetries(docs []*doc) int {
	n := 0
	for _, d := range docs {
		if !d.fresh {
			n++
		}
	}
	return n
}

// split groups docs into bulk requests of at most MaxBulkBytes (a document larger than that
// goes alone).
func (s *Sink) split(docs []*doc) [][]*doc {
	var out [][]*doc
	start, size := 0, 0
	for i, d := range docs {
		if i > start && size+d.size() > s.cfg.MaxBulkBytes {
			out = append(out, docs[start:i])
			start, size = i, 0
		}
		size += d.size()
	}
	return append(out, docs[start:])
}

// deadLetter makes the dead-letter document for d, refused for reason.
func (s *Sink) deadLetter(d *doc, reason string) *doc {
	s.log.Warn("elasticsearch: document refused; dead-lettered", "id", d.id, "index", d.index, "reason", reason)
	now := time.Now().UTC()
	letter, _ := json.Marshal(map[string]any{
		"@timestamp": now.Format(time.RFC3339Nano),
		"message":    string(d.source),
		"error":      map[string]any{"message": reason},
		"qwatch":     map[string]any{"id": d.id, "index": d.index, "kind": "deadletter"},
	})
	index := s.dlq.name(now)
	line, _, src, end := appendEntry(nil, index, d.id, func(b []byte) []byte { return append(b, letter...) })
	return &doc{index: index, id: d.id, line: line, source: line[src:end], deadLetter: true, fresh: true}
}

// send makes one bulk request and returns the outcome of each document, with the reason for
// each refused one, and the error that made any retry necessary.
func (s *Sink) send(ctx context.Context, chunk []*doc) ([]outcome, []string, error) {
	outs := make([]outcome, len(chunk))
	reasons := make([]string, len(chunk))
	// Only what the policy reads: a real node's answer is several times larger otherwise.
	req := body(chunk)
	for _, d := range chunk {
		d.fresh = false
	}
	s.requests.Add(1)
	s.bytes.Add(uint64(len(req)))
	reqCtx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	// Posted as it is, rather than through the client's Bulk service, which would gather
	// each document's lines into a body of its own.
	raw, err := s.client.PerformRequest(reqCtx, elastic.PerformRequestOptions{
		Method: http.MethodPost, Path: "/_bulk", Body: req, ContentType: "application/x-ndjson",
		Params: url.Values{"filter_path": {"took,errors,items.*.status,items.*.error"}},
	})
	cancel()
	var resp elastic.BulkResponse
	if err == nil {
		if derr := (bulkDecoder{}).Decode(raw.Body, &resp); derr != nil {
			err = fmt.Errorf("decoding the bulk response: %w", derr)
		}
	}
	s.health(err)
	if err != nil {
		var ee *elastic.Error
		status := 0
		if errors.As(err, &ee) {
			status = ee.Status
		}
		switch {
		case status == http.StatusRequestEntityTooLarge && len(chunk) > 1:
			// Too big for the server: send the halves on their own.
			half := len(chunk) / 2
			o1, r1, e1 := s.send(ctx, chunk[:half])
			o2, r2, e2 := s.send(ctx, chunk[half:])
			return append(o1, o2...), append(r1, r2...), errors.Join(e1, e2)
		case status == http.StatusRequestEntityTooLarge:
			outs[0], reasons[0] = refused, "document larger than the server accepts (413)"
			return outs, reasons, nil
		case status >= 400 && status < 500 && !outage(status):
			for i := range outs {
				outs[i] = failed
			}
			return outs, reasons, fmt.Errorf("bulk request refused with status %d: %w", status, err)
		}
		for i := range outs {
			outs[i] = retry
		}
		return outs, reasons, fmt.Errorf("bulk request: %w", err)
	}
	if len(resp.Items) != len(chunk) {
		for i := range outs {
			outs[i] = retry
		}
		return outs, reasons, fmt.Errorf("bulk response has %d items for %d documents", len(resp.Items), len(chunk))
	}
	var itemErr error
	for i, item := range resp.Items {
		var r *elastic.BulkResponseItem
		for _, v := range item {
			r = v
		}
		switch {
		case r == nil:
			outs[i] = retry
			itemErr = errors.New("bulk response item without a result")
		case r.Status == http.StatusOK || r.Status == http.StatusCreated:
			s.countDone(chunk[i])
		case r.Status == http.StatusConflict && chunk[i].deadLetter:
			s.dead.Add(1) // an earlier attempt of this dead letter landed
		case r.Status == http.StatusConflict:
			s.already.Add(1)
		case r.Status == http.StatusTooManyRequests || r.Status >= 500:
			outs[i] = retry
			itemErr = fmt.Errorf("document %s: status %d: %s", chunk[i].id, r.Status, describe(r.Error))
		default:
			outs[i] = refused
			reasons[i] = fmt.Sprintf("status %d: %s", r.Status, describe(r.Error))
		}
	}
	return outs, reasons, itemErr
}

// outage reports whether a status refusing a whole bulk request says the cluster cannot take
// documents now, rather than that these documents are wrong: rotated credentials (401, 403),
// a timeout (408) or overload (429). The documents are retried, never burnt.
func outage(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	}
	return false
}

func (s *Sink) countDone(d *doc) {
	if d.deadLetter {
		s.dead.Add(1)
	} else {
		s.indexed.Add(1)
	}
}

func describe(e *elastic.ErrorDetails) string {
	if e == nil {
		return "no reason given"
	}
	if e.Reason == "" {
		return e.Type
	}
	return e.Type + ": " + e.Reason
}
