package elasticsearch_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qnib/qwatch/internal/searchtest"
	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

// inventoryServer speaks what an InventoryWriter uses of the protocol: GET / (an OpenSearch
// 2.19 node), PUT /INDEX (the mapping, kept), and _bulk with index and delete actions, and
// lets a test inject faults per request (fail) or per document (item).
type inventoryServer struct {
	srv *httptest.Server

	mu       sync.Mutex
	docs     map[string]map[string]any // _id → document
	mapping  []byte
	requests int // bulk requests
	fail     int // when not 0, every bulk request is answered with this status
	item     func(id string) int
}

func newInventoryServer(t *testing.T) *inventoryServer {
	s := &inventoryServer{docs: map[string]map[string]any{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

func (s *inventoryServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Method == "GET" && r.URL.Path == "/":
		fmt.Fprint(w, `{"version":{"distribution":"opensearch","number":"2.19.0"}}`)
	case r.Method == "PUT":
		s.mapping = body
		fmt.Fprint(w, `{"acknowledged":true}`)
	case r.URL.Path == "/_bulk":
		s.requests++
		if s.fail != 0 {
			w.WriteHeader(s.fail)
			fmt.Fprintf(w, `{"error":{"type":"injected","reason":"injected %d"},"status":%d}`, s.fail, s.fail)
			return
		}
		var items []map[string]map[string]any
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var action map[string]struct {
				ID string `json:"_id"`
			}
			json.Unmarshal(sc.Bytes(), &action)
			for op, meta := range action {
				status := 200
				if s.item != nil {
					if st := s.item(meta.ID); st != 0 {
						status = st
					}
				}
				switch op {
				case "index":
					sc.Scan()
					var doc map[string]any
					json.Unmarshal(sc.Bytes(), &doc)
					if status == 200 {
						s.docs[meta.ID] = doc
					}
				case "delete":
					if _, ok := s.docs[meta.ID]; !ok && status == 200 {
						status = 404
					}
					delete(s.docs, meta.ID)
				}
				res := map[string]any{"_id": meta.ID, "status": status}
				if status >= 300 && status != 404 {
					res["error"] = map[string]any{"type": "injected", "reason": fmt.Sprint("injected ", status)}
				}
				items = append(items, map[string]map[string]any{op: res})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"errors": true, "items": items})
	default:
		http.NotFound(w, r)
	}
}

func (s *inventoryServer) doc(id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[id]
	return d, ok
}

func (s *inventoryServer) set(do func(s *inventoryServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	do(s)
}

// runInventoryWriter runs an InventoryWriter of inv until the test ends.
func runInventoryWriter(t *testing.T, cfg elasticsearch.InventoryConfig, inv *inventory.Inventory) *elasticsearch.InventoryWriter {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.RetryInitial, cfg.RetryMax = 10*time.Millisecond, 50*time.Millisecond
	w, err := elasticsearch.NewInventoryWriter(cfg, inv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return w
}

// waitInventory waits until cond holds, for a minute at most.
func waitInventory(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within a minute", what)
		}
	}
}

func containerField(doc map[string]any, key string) any {
	c, _ := doc["container"].(map[string]any)
	return c[key]
}

func TestInventoryWriterFaults(t *testing.T) {
	srv := newInventoryServer(t)
	srv.set(func(s *inventoryServer) { s.fail = http.StatusServiceUnavailable })
	inv := inventory.New()
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	inv.Put(inventory.Container{ID: a, Name: "web-1", Image: "nginx:1.27", State: "running",
		Labels: map[string]string{"com.docker.compose.service": "web", "com.docker.compose": "dotted"}})
	w := runInventoryWriter(t, elasticsearch.InventoryConfig{Config: elasticsearch.Config{URLs: []string{srv.srv.URL}},
		Host: "vm", Interval: 100 * time.Millisecond}, inv)

	// The cluster fails whole requests: counted, shown, retried.
	waitInventory(t, "failing requests shown", func() bool {
		st := w.Stats()
		return !st.Healthy && st.Errors >= 2 && strings.Contains(st.LastError, "503") && st.Pending == 1
	})
	srv.set(func(s *inventoryServer) { s.fail = 0 })
	waitInventory(t, "the document after the outage", func() bool { _, ok := srv.doc(a); return ok })
	doc, _ := srv.doc(a)
	if containerField(doc, "name") != "web-1" || containerField(doc, "state") != "running" ||
		doc["service"].(map[string]any)["name"] != "web" || doc["host"].(map[string]any)["name"] != "vm" ||
		containerField(doc, "labels").(map[string]any)["com.docker.compose"] != "dotted" {
		t.Errorf("document %v", doc)
	}
	var mapping map[string]any
	srv.set(func(s *inventoryServer) { json.Unmarshal(s.mapping, &mapping) })
	if got := fmt.Sprint(mapping["mappings"].(map[string]any)["properties"].(map[string]any)["container"]); !strings.Contains(got, "labels:map[type:flat_object]") {
		t.Errorf("container mapping %s, want labels as flat_object", got)
	}
	waitInventory(t, "healthy again", func() bool { return w.Stats().Healthy && w.Stats().Pending == 0 })

	// One document refused for good, one to retry: the first is not sent again, the second is.
	tries := map[string]int{}
	srv.set(func(s *inventoryServer) {
		s.item = func(id string) int {
			tries[id]++
			switch {
			case id == b:
				return http.StatusBadRequest
			case tries[id] == 1:
				return http.StatusTooManyRequests
			}
			return 0
		}
	})
	inv.Put(inventory.Container{ID: b, Name: "bad", State: "created"})
	inv.Update(a, func(c *inventory.Container) { c.State, c.ExitCode = "exited", 3 })
	waitInventory(t, "the retried document", func() bool {
		d, _ := srv.doc(a)
		return containerField(d, "state") == "exited"
	})
	waitInventory(t, "settled", func() bool { return w.Stats().Pending == 0 })
	srv.set(func(s *inventoryServer) {
		if tries[b] != 1 || tries[a] != 2 {
			t.Errorf("tries %v; want 1 of the refused, 2 of the retried", tries)
		}
		s.item = nil
	})
	if st := w.Stats(); st.Refused != 1 || st.Indexed < 2 {
		t.Errorf("stats %+v", st)
	}

	// Many changes at once are written together, each container in its newest state.
	srv.set(func(s *inventoryServer) { s.requests = 0 })
	for i := 1; i <= 20; i++ {
		inv.Update(a, func(c *inventory.Container) { c.RestartCount = i })
	}
	waitInventory(t, "the newest state", func() bool {
		d, _ := srv.doc(a)
		return containerField(d, "restart_count") == float64(20)
	})
	srv.set(func(s *inventoryServer) {
		if s.requests > 3 {
			t.Errorf("%d bulk requests for 20 changes at once; want them written together", s.requests)
		}
	})

	// A container that leaves the inventory takes its document with it.
	inv.Remove(a)
	waitInventory(t, "the document deleted", func() bool { _, ok := srv.doc(a); return !ok })
}

// TestRealNodeInventory: on a real node, a container changed twice is one document, in its
// newer state, found by its name, with the labels mapped as one field.
func TestRealNodeInventory(t *testing.T) {
	for _, n := range searchtest.Nodes(t) {
		t.Run(n.Engine, func(t *testing.T) {
			index := n.Run(t) + "-inventory"
			inv := inventory.New()
			id := strings.Repeat("c", 64)
			inv.Put(inventory.Container{ID: id, Name: "db-1", Image: "postgres:17", State: "created",
				Labels: map[string]string{"com.docker.compose.service": "db", "com.docker.compose.project": "shop"}})
			w := runInventoryWriter(t, elasticsearch.InventoryConfig{Config: elasticsearch.Config{URLs: []string{n.URL}, Index: index},
				Host: "vm"}, inv)
			waitInventory(t, "the first document", func() bool { return w.Stats().Indexed == 1 })
			started := time.Now().UTC()
			inv.Update(id, func(c *inventory.Container) { c.State, c.Started = "running", started })
			inv.Update(id, func(c *inventory.Container) { c.State, c.ExitCode, c.Finished = "exited", 1, started.Add(time.Second) })
			waitInventory(t, "the newer state indexed", func() bool {
				docs := n.Search(t, index, map[string]any{"term": map[string]any{"container.name": "db-1"}})
				return len(docs) == 1 && containerField(docs[0], "state") == "exited"
			})
			if got := n.Count(t, index, nil); got != 1 {
				t.Errorf("%d documents, want 1", got)
			}
			docs := n.Search(t, index, map[string]any{"term": map[string]any{"service.name": "db"}})
			if len(docs) != 1 || containerField(docs[0], "exit_code") != float64(1) || containerField(docs[0], "id") != id {
				t.Errorf("by service.name: %v", docs)
			}
			want := map[string]string{"opensearch": "flat_object", "elasticsearch": "flattened"}[n.Engine]
			if got := n.MappingType(t, index, "container.labels"); got != want {
				t.Errorf("container.labels mapped as %q, want %q", got, want)
			}
			if st := w.Stats(); !st.Healthy || st.MappingError != "" || st.Refused != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}
