// Package searchtest reaches the real OpenSearch and Elasticsearch nodes that end-to-end
// tests write to, started by .ci/start-opensearch and .ci/start-elasticsearch and named by
// QWATCH_OPENSEARCH_URL and QWATCH_ELASTICSEARCH_URL, and reads back what they hold.
package searchtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Node is a running OpenSearch or Elasticsearch node.
type Node struct {
	Engine string // the distribution it must report: "opensearch" or "elasticsearch"
	URL    string
}

// client keeps no connection open, so that goleak finds none when the tests end.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Minute}

// Nodes returns the nodes named by QWATCH_OPENSEARCH_URL and QWATCH_ELASTICSEARCH_URL, and
// skips the test when neither is set.
func Nodes(t testing.TB) []Node {
	var nodes []Node
	for _, n := range []Node{{"opensearch", "QWATCH_OPENSEARCH_URL"}, {"elasticsearch", "QWATCH_ELASTICSEARCH_URL"}} {
		if u := os.Getenv(n.URL); u != "" {
			nodes = append(nodes, Node{n.Engine, strings.TrimSuffix(u, "/")})
		}
	}
	if len(nodes) == 0 {
		t.Skip("neither QWATCH_OPENSEARCH_URL nor QWATCH_ELASTICSEARCH_URL is set (.ci/start-opensearch and .ci/start-elasticsearch start a node)")
	}
	return nodes
}

// OpenSearch returns the node named by QWATCH_OPENSEARCH_URL, and skips the test when it is
// not set.
func OpenSearch(t testing.TB) Node {
	u := os.Getenv("QWATCH_OPENSEARCH_URL")
	if u == "" {
		t.Skip("QWATCH_OPENSEARCH_URL is not set (.ci/start-opensearch starts a node)")
	}
	return Node{"opensearch", strings.TrimSuffix(u, "/")}
}

// Call sends a request to the node and decodes its JSON answer into out (nil: discarded). It
// fails the test unless the status is 200.
func (n Node) Call(t testing.TB, method, path string, body, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// Count refreshes the indices matching index, so that every document indexed is searchable,
// and returns how many of their documents match query (nil: all).
func (n Node) Count(t testing.TB, index string, query map[string]any) int {
	t.Helper()
	n.Call(t, "POST", "/"+index+"/_refresh", nil, nil)
	var body any
	if query != nil {
		body = map[string]any{"query": query}
	}
	var resp struct{ Count int }
	n.Call(t, "POST", "/"+index+"/_count", body, &resp)
	return resp.Count
}

// Search refreshes the indices matching index and returns the sources of up to 100 of their
// documents that match query.
func (n Node) Search(t testing.TB, index string, query map[string]any) []map[string]any {
	t.Helper()
	out, err := n.TrySearch(index, query)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TrySearch is Search for a test that waits for documents to arrive: an index being created,
// whose shards are not started yet, is an error to try again on, not a failure.
func (n Node) TrySearch(index string, query map[string]any) ([]map[string]any, error) {
	if err := n.post("/"+index+"/_refresh", nil, nil); err != nil {
		return nil, err
	}
	var resp struct {
		Hits struct {
			Hits []struct {
				Source map[string]any `json:"_source"`
			}
		}
	}
	if err := n.post("/"+index+"/_search", map[string]any{"query": query, "size": 100}, &resp); err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, h := range resp.Hits.Hits {
		out = append(out, h.Source)
	}
	return out, nil
}

// post sends body as JSON and decodes a 200 answer into out (nil: not decoded).
func (n Node) post(path string, body, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	resp, err := client.Post(n.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: status %d: %s", path, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// Messages refreshes the indices matching index and returns the message field of every
// document they hold, read with the scroll API.
func (n Node) Messages(t testing.TB, index string) []string {
	t.Helper()
	n.Call(t, "POST", "/"+index+"/_refresh", nil, nil)
	type page struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				Source struct{ Message string } `json:"_source"`
			}
		}
	}
	var p page
	n.Call(t, "POST", "/"+index+"/_search?scroll=1m", map[string]any{"size": 10000, "_source": []string{"message"}, "sort": []string{"_doc"}}, &p)
	var out []string
	for len(p.Hits.Hits) > 0 {
		for _, h := range p.Hits.Hits {
			out = append(out, h.Source.Message)
		}
		id := p.ScrollID
		p = page{}
		n.Call(t, "POST", "/_search/scroll", map[string]any{"scroll": "1m", "scroll_id": id}, &p)
	}
	n.Remove("/_search/scroll/_all")
	return out
}

// MappingType returns the mapped type of a field (a dotted path) in the indices that match
// index: "object" for an object without a type, "" when the field is not mapped. It fails the
// test when no index matches, or when they map the field differently.
func (n Node) MappingType(t testing.TB, index, field string) string {
	t.Helper()
	var resp map[string]struct {
		Mappings map[string]any
	}
	n.Call(t, "GET", "/"+index+"/_mapping", nil, &resp)
	types := map[string]string{}
	for name, idx := range resp {
		cur := idx.Mappings
		for _, part := range strings.Split(field, ".") {
			props, _ := cur["properties"].(map[string]any)
			cur, _ = props[part].(map[string]any)
		}
		typ, _ := cur["type"].(string)
		if typ == "" && cur != nil {
			typ = "object"
		}
		types[name] = typ
	}
	if len(types) == 0 {
		t.Fatalf("no index matches %s", index)
	}
	var typ string
	first := true
	for _, v := range types {
		if !first && v != typ {
			t.Fatalf("%s is mapped differently in %s: %v", field, index, types)
		}
		typ, first = v, false
	}
	return typ
}

// Run returns a name for what one test makes on the node, and removes the indices RUN-* and
// the data stream logs-RUN when the test ends, so that tests and runs sharing a node never
// meet.
func (n Node) Run(t testing.TB) string {
	run := fmt.Sprintf("e2e-%x", time.Now().UnixNano())
	t.Cleanup(func() {
		n.Remove("/_data_stream/logs-" + run)
		// By name: Elasticsearch 8 refuses to delete indices by a wildcard.
		var indices map[string]any
		if n.get("/"+run+"-*/_settings", &indices) == nil && len(indices) > 0 {
			names := make([]string, 0, len(indices))
			for name := range indices {
				names = append(names, name)
			}
			n.Remove("/" + strings.Join(names, ","))
		}
	})
	return run
}

// Remove deletes what path names, for cleanups: it never fails a test.
func (n Node) Remove(path string) {
	req, _ := http.NewRequest("DELETE", n.URL+path, nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
	}
}

func (n Node) get(path string, out any) error {
	resp, err := client.Get(n.URL + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// Start starts an OpenSearch node of the test's own in dir, for a test that kills it, with
// the launcher CI uses (its jars are cached by then), and returns the node. Started again on
// the same dir it restarts the node on its data. The node is stopped when the test ends.
func Start(t testing.TB, dir string) Node {
	t.Helper()
	script := launcher(t)
	cmd := exec.Command(script, dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Log(strings.TrimSpace(stderr.String()))
	if err != nil {
		t.Fatalf("%s %s: %v", script, dir, err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "export QWATCH_OPENSEARCH_URL=")
	if !ok {
		t.Fatalf("%s printed %q", script, out)
	}
	t.Cleanup(func() { Stop(t, PID(t, dir), syscall.SIGTERM) })
	return Node{"opensearch", url}
}

// launcher finds .ci/start-opensearch above the test's directory.
func launcher(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		script := filepath.Join(dir, ".ci", "start-opensearch")
		if _, err := os.Stat(script); err == nil {
			return script
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no .ci/start-opensearch above the test's directory")
		}
		dir = parent
	}
}

// PID returns the pid of the node the launcher started in dir.
func PID(t testing.TB, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil {
		t.Fatalf("pid file: %v", err)
	}
	return pid
}

// Stop sends sig to the node and waits until the process is gone (SIGKILL after 60 s).
func Stop(t testing.TB, pid int, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(pid, sig); err != nil {
		return
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("node %d still running 60 s after %v", pid, sig)
}
