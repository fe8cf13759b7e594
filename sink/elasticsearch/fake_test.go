package elasticsearch_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"unicode/utf8"
)

// bulkServer speaks the _bulk protocol: NDJSON in, per-item statuses out. It stores what it
// accepts (create only, so a second create of an ID is a 409, as in Elasticsearch) and lets a
// test inject faults per request or per item.
type bulkServer struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	docs     map[string]map[string]json.RawMessage // index → id → document
	order    []string                              // index/id in the order stored
	requests int
	bodies   []int // size of each request body
	// onRequest, when set, may answer a request itself (return true); it runs before the
	// request is stored. n counts requests from 1.
	onRequest func(n int, w http.ResponseWriter, r *http.Request) bool
	// onItem, when set, may answer one item with a status and error type instead of storing it.
	onItem func(n int, index, id string, doc json.RawMessage) (status int, errType string)
	// afterStore, when set, runs after the items are stored, before the response is written;
	// returning true drops the connection instead of answering.
	afterStore func(n int) bool
}

func newBulkServer(t *testing.T) *bulkServer {
	b := &bulkServer{t: t, docs: map[string]map[string]json.RawMessage{}}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() {
		b.srv.CloseClientConnections()
		b.srv.Close()
	})
	return b
}

func (b *bulkServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" || r.URL.Path == "/_index_template/qwatch" {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"version":{"number":"8.15.0"},"acknowledged":true}`)
		return
	}
	if r.URL.Path != "/_bulk" {
		http.NotFound(w, r)
		return
	}
	b.mu.Lock()
	b.requests++
	n := b.requests
	onRequest, onItem, afterStore := b.onRequest, b.onItem, b.afterStore
	b.mu.Unlock()
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return
	}
	b.mu.Lock()
	b.bodies = append(b.bodies, len(data))
	b.mu.Unlock()
	if onRequest != nil && onRequest(n, w, r) {
		return
	}
	type result struct {
		Index  string         `json:"_index"`
		ID     string         `json:"_id"`
		Status int            `json:"status"`
		Error  map[string]any `json:"error,omitempty"`
	}
	var items []map[string]result
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		// Stricter than encoding/json, as a real node is: a line must be valid UTF-8 too.
		if !utf8.Valid(sc.Bytes()) {
			http.Error(w, "action line is not valid UTF-8", 400)
			return
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			http.Error(w, "bad action line: "+err.Error(), 400)
			return
		}
		create, ok := action["create"]
		if !ok || !sc.Scan() {
			http.Error(w, "want create actions, each followed by a document", 400)
			return
		}
		doc := json.RawMessage(slices.Clone(sc.Bytes()))
		if !json.Valid(doc) || !utf8.Valid(doc) {
			http.Error(w, "invalid document", 400)
			return
		}
		res := result{Index: create.Index, ID: create.ID, Status: 201}
		if onItem != nil {
			if status, errType := onItem(n, create.Index, create.ID, doc); status != 0 {
				res.Status = status
				res.Error = map[string]any{"type": errType, "reason": "injected " + errType}
			}
		}
		if res.Status == 201 {
			b.mu.Lock()
			if b.docs[create.Index] == nil {
				b.docs[create.Index] = map[string]json.RawMessage{}
			}
			if _, dup := b.docs[create.Index][create.ID]; dup {
				res.Status = 409
				res.Error = map[string]any{"type": "version_conflict_engine_exception", "reason": "document already exists"}
			} else {
				b.docs[create.Index][create.ID] = doc
				b.order = append(b.order, create.Index+"/"+create.ID)
			}
			b.mu.Unlock()
		}
		items = append(items, map[string]result{"create": res})
	}
	if afterStore != nil && afterStore(n) {
		panic(http.ErrAbortHandler) // the server stored the documents but the client hears nothing
	}
	failed := false
	for _, it := range items {
		failed = failed || it["create"].Status >= 300
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": failed, "items": items})
}

// stored returns every document stored, in the order stored.
func (b *bulkServer) stored() []storedDoc {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []storedDoc
	for _, key := range b.order {
		idx, id, _ := cut(key)
		out = append(out, storedDoc{Index: idx, ID: id, Doc: b.docs[idx][id]})
	}
	return out
}

type storedDoc struct {
	Index, ID string
	Doc       json.RawMessage
}

func cut(key string) (string, string, bool) {
	for i := range key {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return key, "", false
}
