package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/olivere/elastic/v7"

	"github.com/qnib/qwatch/internal/backoff"
	"github.com/qnib/qwatch/inventory"
)

// Defaults of InventoryConfig.
const (
	DefaultInventoryIndex    = "qwatch-inventory"
	DefaultInventoryInterval = time.Second
)

// inventoryChunk bounds the documents of one bulk request of an InventoryWriter.
const inventoryChunk = 500

// InventoryConfig sets up an InventoryWriter.
type InventoryConfig struct {
	// Config names the cluster and how to reach it, as for the Sink: URLs, credentials,
	// TLS, headers, RequestTimeout, and RetryInitial, RetryMax and RetryJitter for the
	// waits between attempts (an InventoryWriter retries until it succeeds or stops).
	// Config.Index is the inventory's own index (DefaultInventoryIndex), a plain name: it
	// takes no braces, as one document per container is kept, not one per day.
	Config
	// Host is the host.name of every document: the host the containers run on.
	Host string
	// Interval is the least time between two bulk requests (DefaultInventoryInterval):
	// changes that come closer together are written together.
	Interval time.Duration
}

// InventoryStats counts an InventoryWriter's work.
type InventoryStats struct {
	Indexed  uint64 // documents written (each a container's state after a change)
	Deleted  uint64 // documents removed because their container left the inventory
	Refused  uint64 // documents the cluster refused for good (4xx other than 429), not retried until the container changes again
	Requests uint64 // bulk requests sent
	Errors   uint64 // bulk requests that failed, or had documents to retry
	Pending  int    // documents waiting to be written now
	// Healthy is false while the last attempt failed; LastError says why.
	Healthy   bool
	LastError string
	// MappingError says why the index could not be created with its mapping; documents
	// are written all the same, mapped by the cluster's defaults.
	MappingError string
}

// InventoryWriter keeps one document per container of an inventory.Inventory in an index of
// its own, so that Kibana or OpenSearch Dashboards can list a host's containers beside their
// logs. A document's _id is its container's ID: a change of the container replaces it (op
// index), and a container that leaves the inventory (its retention after it was destroyed
// passed) takes its document with it. Its fields are the log documents' Elastic Common
// Schema names (container.id, container.name, container.image.name, container.labels,
// service.name, host.name) and, for how the container is, container.state, health,
// created, started, finished, exit_code and restart_count; @timestamp is when it changed.
// Log counts are not written: they change with every line.
//
// Create it with NewInventoryWriter and call Run.
type InventoryWriter struct {
	sink     *Sink
	inv      *inventory.Inventory
	host     string
	interval time.Duration

	mu           sync.Mutex
	st           InventoryStats
	mapped       bool
	mappingError string
}

// NewInventoryWriter checks cfg and returns an InventoryWriter of inv. It does not contact
// the cluster.
func NewInventoryWriter(cfg InventoryConfig, inv *inventory.Inventory) (*InventoryWriter, error) {
	if cfg.Index == "" {
		cfg.Index = DefaultInventoryIndex
	}
	if strings.ContainsAny(cfg.Index, "{}*") {
		return nil, fmt.Errorf("elasticsearch: inventory index %q: want a plain index name, without braces or wildcards", cfg.Index)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInventoryInterval
	}
	s, err := New(cfg.Config)
	if err != nil {
		return nil, err
	}
	return &InventoryWriter{sink: s, inv: inv, host: cfg.Host, interval: cfg.Interval, st: InventoryStats{Healthy: true}}, nil
}

// Stats returns the InventoryWriter's counters.
func (w *InventoryWriter) Stats() InventoryStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.st
	st.MappingError = w.mappingError
	return st
}

// Run writes the inventory until ctx is done, then releases the client and returns nil:
// every container at the start, then those that changed, at most one bulk request per
// Interval. A failed request, or documents the cluster asks to retry (429, 5xx), are retried
// after a wait that doubles up to RetryMax; changes that come meanwhile are written with
// them, each container only in its newest state. What changed after the last request
// before ctx is done is not written.
func (w *InventoryWriter) Run(ctx context.Context) error {
	defer w.sink.Close(ctx)
	cfg := w.sink.cfg
	retries := backoff.New(cfg.RetryInitial, cfg.RetryMax, cfg.RetryJitter)
	written := map[string]time.Time{} // container ID → Changed of the document in the index
	for {
		changed := w.inv.Changed() // before the Snapshot: no change is missed
		err := w.ensureIndex(ctx)
		var ops []inventoryOp
		if err == nil {
			ops = pendingOps(w.inv.Snapshot(), written)
			w.setPending(len(ops))
			for start := 0; start < len(ops) && err == nil; start += inventoryChunk {
				err = w.send(ctx, ops[start:min(start+inventoryChunk, len(ops))], written)
			}
			w.setPending(unwritten(ops, written))
		}
		if ctx.Err() != nil {
			return nil
		}
		w.record(err)
		if err != nil {
			if backoff.Sleep(ctx, retries.Next()) != nil {
				return nil
			}
			continue
		}
		retries.Reset()
		if len(ops) > 0 && backoff.Sleep(ctx, w.interval) != nil {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// inventoryOp is one document to write, or, with c nil, one to delete.
type inventoryOp struct {
	id string
	c  *inventory.Container
}

// pendingOps lists what the index lacks of the snapshot: the containers changed since their
// document was written, and the documents of containers gone.
func pendingOps(s inventory.Snapshot, written map[string]time.Time) []inventoryOp {
	var ops []inventoryOp
	present := make(map[string]bool, len(s.Containers))
	for i := range s.Containers {
		c := &s.Containers[i]
		present[c.ID] = true
		if at, ok := written[c.ID]; !ok || !at.Equal(c.Changed) {
			ops = append(ops, inventoryOp{id: c.ID, c: c})
		}
	}
	for id := range written {
		if !present[id] {
			ops = append(ops, inventoryOp{id: id})
		}
	}
	return ops
}

// unwritten counts the ops whose outcome the index does not hold yet.
func unwritten(ops []inventoryOp, written map[string]time.Time) int {
	n := 0
	for _, op := range ops {
		at, ok := written[op.id]
		if op.c == nil && ok || op.c != nil && (!ok || !at.Equal(op.c.Changed)) {
			n++
		}
	}
	return n
}

func (w *InventoryWriter) setPending(n int) {
	w.mu.Lock()
	w.st.Pending = n
	w.mu.Unlock()
}

func (w *InventoryWriter) record(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.st.Healthy = err == nil
	if err != nil {
		w.st.Errors++
		w.st.LastError = err.Error()
	}
}

// ensureIndex creates the index with its mapping, once: labels as one free-form field, as
// the log template maps them, so that their dotted names cannot conflict. An index there
// already is kept as it is. The error is one to retry; a refusal for good is kept in
// Stats.MappingError and the documents go in all the same.
func (w *InventoryWriter) ensureIndex(ctx context.Context) error {
	if w.mapped {
		return nil
	}
	reqCtx, cancel := context.WithTimeout(ctx, w.sink.cfg.RequestTimeout)
	defer cancel()
	e, err := w.sink.engine(reqCtx)
	if err != nil {
		return err
	}
	f, err := featuresOf(e)
	if err != nil {
		f = features{freeForm: notIndexed}
	}
	body, err := json.Marshal(map[string]any{"mappings": inventoryMapping(f)})
	if err != nil {
		return err
	}
	_, err = w.sink.client.PerformRequest(reqCtx, elastic.PerformRequestOptions{
		Method: http.MethodPut, Path: "/" + url.PathEscape(w.sink.cfg.Index), Body: json.RawMessage(body),
	})
	var refused *elastic.Error
	switch {
	case err == nil:
	case errors.As(err, &refused) && refused.Details != nil && strings.HasPrefix(refused.Details.Type, "resource_already_exists"):
	case errors.As(err, &refused) && refused.Status >= 400 && refused.Status < 500 && !outage(refused.Status):
		w.mu.Lock()
		w.mappingError = fmt.Sprintf("%v refused the index %s: %s", e, w.sink.cfg.Index, innermostCause(refused))
		w.mu.Unlock()
	default:
		return fmt.Errorf("creating the inventory index %s: %w", w.sink.cfg.Index, err)
	}
	w.mapped = true
	return nil
}

func inventoryMapping(f features) map[string]any {
	date := map[string]any{"type": "date_nanos"}
	integer := map[string]any{"type": "integer"}
	return map[string]any{
		"dynamic": true,
		"properties": map[string]any{
			"@timestamp": date,
			"host":       object(map[string]any{"name": keyword()}),
			"service":    object(map[string]any{"name": keyword(), "namespace": keyword()}),
			"process":    object(map[string]any{"command_line": keyword()}),
			"qwatch":     object(map[string]any{"kind": keyword()}),
			"container": object(map[string]any{
				"id": keyword(), "name": keyword(),
				"image":  object(map[string]any{"name": keyword(), "id": keyword()}),
				"labels": f.freeFormMapping(),
				"state":  keyword(), "health": keyword(),
				"created": date, "started": date, "finished": date,
				"exit_code": integer, "restart_count": integer,
			}),
		},
	}
}

// inventoryDoc is the document of one container.
type inventoryDoc struct {
	Timestamp time.Time   `json:"@timestamp"`
	Host      *docHost    `json:"host,omitempty"`
	Service   *docService `json:"service,omitempty"`
	Process   *docProcess `json:"process,omitempty"`
	Qwatch    struct {
		Kind string `json:"kind"`
	} `json:"qwatch"`
	Container struct {
		ID    string `json:"id"`
		Name  string `json:"name,omitempty"`
		Image struct {
			Name string `json:"name,omitempty"`
			ID   string `json:"id,omitempty"`
		} `json:"image"`
		Labels       map[string]string `json:"labels,omitempty"`
		State        string            `json:"state"`
		Health       string            `json:"health,omitempty"`
		Created      *time.Time        `json:"created,omitempty"`
		Started      *time.Time        `json:"started,omitempty"`
		Finished     *time.Time        `json:"finished,omitempty"`
		ExitCode     int               `json:"exit_code"`
		RestartCount int               `json:"restart_count"`
	} `json:"container"`
}

type docHost struct {
	Name string `json:"name"`
}

type docService struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

type docProcess struct {
	CommandLine string `json:"command_line"`
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (w *InventoryWriter) document(c *inventory.Container) inventoryDoc {
	var d inventoryDoc
	d.Timestamp = c.Changed.UTC()
	d.Qwatch.Kind = "inventory"
	if w.host != "" {
		d.Host = &docHost{w.host}
	}
	if c.Service.Name != "" || c.Service.Namespace != "" {
		d.Service = &docService{c.Service.Name, c.Service.Namespace}
	}
	if c.Command != "" {
		d.Process = &docProcess{c.Command}
	}
	k := &d.Container
	k.ID, k.Name, k.Labels, k.State, k.Health = c.ID, c.Name, c.Labels, c.State, c.Health
	k.Image.Name, k.Image.ID = c.Image, c.ImageID
	k.Created, k.Started, k.Finished = optionalTime(c.Created), optionalTime(c.Started), optionalTime(c.Finished)
	k.ExitCode, k.RestartCount = c.ExitCode, c.RestartCount
	return d
}

// send writes one chunk of ops in a bulk request and notes in written what the index holds
// now. The error says what is left to retry.
func (w *InventoryWriter) send(ctx context.Context, ops []inventoryOp, written map[string]time.Time) error {
	index := w.sink.cfg.Index
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, op := range ops {
		action := "index"
		if op.c == nil {
			action = "delete"
		}
		meta := map[string]map[string]string{action: {"_index": index, "_id": op.id}}
		if err := enc.Encode(meta); err != nil {
			return err
		}
		if op.c != nil {
			if err := enc.Encode(w.document(op.c)); err != nil {
				return err
			}
		}
	}
	w.mu.Lock()
	w.st.Requests++
	w.mu.Unlock()
	reqCtx, cancel := context.WithTimeout(ctx, w.sink.cfg.RequestTimeout)
	defer cancel()
	raw, err := w.sink.client.PerformRequest(reqCtx, elastic.PerformRequestOptions{
		Method: http.MethodPost, Path: "/_bulk", Body: body.String(), ContentType: "application/x-ndjson",
		Params: url.Values{"filter_path": {"errors,items.*.status,items.*.error"}},
	})
	if err != nil {
		return fmt.Errorf("inventory bulk request: %w", err)
	}
	var resp elastic.BulkResponse
	if err := (bulkDecoder{}).Decode(raw.Body, &resp); err != nil {
		return fmt.Errorf("decoding the inventory bulk response: %w", err)
	}
	if len(resp.Items) != len(ops) {
		return fmt.Errorf("inventory bulk response has %d items for %d documents", len(resp.Items), len(ops))
	}
	var retry error
	var indexed, deleted, refused uint64
	for i, item := range resp.Items {
		op := ops[i]
		var r *elastic.BulkResponseItem
		for _, v := range item {
			r = v
		}
		switch {
		case r == nil:
			retry = errors.New("inventory bulk response item without a result")
			continue
		case r.Status == http.StatusTooManyRequests || r.Status >= 500:
			retry = fmt.Errorf("inventory document %s: status %d: %s", op.id, r.Status, describe(r.Error))
			continue
		case op.c == nil && (r.Status < 300 || r.Status == http.StatusNotFound):
			deleted++
		case r.Status < 300:
			indexed++
		default:
			refused++
			w.sink.log.Warn("elasticsearch: inventory document refused", "id", op.id, "status", r.Status, "reason", describe(r.Error))
		}
		// Written, or refused for good: not sent again until the container changes.
		if op.c == nil {
			delete(written, op.id)
		} else {
			written[op.id] = op.c.Changed
		}
	}
	w.mu.Lock()
	w.st.Indexed += indexed
	w.st.Deleted += deleted
	w.st.Refused += refused
	w.mu.Unlock()
	return retry
}
