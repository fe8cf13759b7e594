package elasticsearch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

// realNode is a running OpenSearch or Elasticsearch node.
type realNode struct {
	engine string // the distribution it must report: "opensearch" or "elasticsearch"
	url    string
}

// nodeClient asks the nodes what they hold. It keeps no connection open, for goleak.
var nodeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Minute}

// realNodes returns the nodes named by QWATCH_OPENSEARCH_URL and QWATCH_ELASTICSEARCH_URL,
// and skips the test when neither is set.
func realNodes(t *testing.T) []realNode {
	var nodes []realNode
	for _, n := range []realNode{{"opensearch", "QWATCH_OPENSEARCH_URL"}, {"elasticsearch", "QWATCH_ELASTICSEARCH_URL"}} {
		if u := os.Getenv(n.url); u != "" {
			nodes = append(nodes, realNode{n.engine, strings.TrimSuffix(u, "/")})
		}
	}
	if len(nodes) == 0 {
		t.Skip("neither QWATCH_OPENSEARCH_URL nor QWATCH_ELASTICSEARCH_URL is set (.ci/start-opensearch and .ci/start-elasticsearch start a node)")
	}
	return nodes
}

// call sends a request to the node and decodes its JSON answer into out (nil: discarded). It
// fails the test unless the status is 200.
func (n realNode) call(t *testing.T, method, path string, body, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := nodeClient.Do(req)
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

// count refreshes the indices matching index, so that every document indexed is searchable,
// and returns how many of their documents match query (nil: all).
func (n realNode) count(t *testing.T, index string, query map[string]any) int {
	t.Helper()
	n.call(t, "POST", "/"+index+"/_refresh", nil, nil)
	var body any
	if query != nil {
		body = map[string]any{"query": query}
	}
	var resp struct{ Count int }
	n.call(t, "POST", "/"+index+"/_count", body, &resp)
	return resp.Count
}

// search returns the sources of the documents in index that match query.
func (n realNode) search(t *testing.T, index string, query map[string]any) []map[string]any {
	t.Helper()
	n.call(t, "POST", "/"+index+"/_refresh", nil, nil)
	var resp struct {
		Hits struct {
			Hits []struct {
				ID     string         `json:"_id"`
				Source map[string]any `json:"_source"`
			}
		}
	}
	n.call(t, "POST", "/"+index+"/_search", map[string]any{"query": query, "size": 100}, &resp)
	var out []map[string]any
	for _, h := range resp.Hits.Hits {
		out = append(out, h.Source)
	}
	return out
}

// mappingType returns the mapped type of a field (a dotted path) in the one index that
// matches index.
func (n realNode) mappingType(t *testing.T, index, field string) string {
	t.Helper()
	var resp map[string]struct {
		Mappings map[string]any
	}
	n.call(t, "GET", "/"+index+"/_mapping", nil, &resp)
	if len(resp) != 1 {
		t.Fatalf("%d indices match %s, want 1", len(resp), index)
	}
	for _, idx := range resp {
		cur := idx.Mappings
		for _, name := range strings.Split(field, ".") {
			props, _ := cur["properties"].(map[string]any)
			cur, _ = props[name].(map[string]any)
		}
		typ, _ := cur["type"].(string)
		if typ == "" && cur != nil {
			typ = "object"
		}
		return typ
	}
	return ""
}

// testRun names what one test makes on a node, and removes the indices and data stream of
// that name when the test ends, so that tests and runs on a shared node never meet.
func testRun(t *testing.T, n realNode) string {
	run := fmt.Sprintf("e2e-%x", time.Now().UnixNano())
	t.Cleanup(func() {
		n.remove("/_data_stream/logs-" + run)
		// By name: Elasticsearch 8 refuses to delete indices by a wildcard.
		var indices map[string]any
		if n.get("/"+run+"-*/_settings", &indices) == nil && len(indices) > 0 {
			names := make([]string, 0, len(indices))
			for name := range indices {
				names = append(names, name)
			}
			n.remove("/" + strings.Join(names, ","))
		}
	})
	return run
}

// get and remove are call for cleanups, which must not fail a test.
func (n realNode) get(path string, out any) error {
	resp, err := nodeClient.Get(n.url + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

func (n realNode) remove(path string) {
	req, _ := http.NewRequest("DELETE", n.url+path, nil)
	if resp, err := nodeClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// installed installs the Sink's template, named name, and removes it when the test ends.
func installed(t *testing.T, n realNode, s *elasticsearch.Sink, name string) error {
	t.Cleanup(func() { n.remove("/_index_template/" + name) })
	return s.Install(context.Background())
}

// realSink is a Sink writing the run's dated indices on the node, with its template.
func realSink(t *testing.T, n realNode, run string) *elasticsearch.Sink {
	s := newSink(t, elasticsearch.Config{
		URLs:  []string{n.url},
		Index: run + "-{2006.01.02}", DeadLetterIndex: run + "-dlq-{2006.01.02}",
		InstallTemplate: true, TemplateName: run,
	})
	if err := installed(t, n, s, run); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Engine.Distribution != n.engine || st.TemplateError != "" {
		t.Fatalf("after Install: engine %v, template error %q; want %s", st.Engine, st.TemplateError, n.engine)
	}
	return s
}

func writeBatches(t *testing.T, s *elasticsearch.Sink, msgs []message.Message, size int) {
	t.Helper()
	for i := 0; i < len(msgs); i += size {
		if err := s.Write(context.Background(), msgs[i:min(i+size, len(msgs))]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRealNodeSearch: documents written through the Sink are found by their message, container
// name, level and free-form fields, counted exactly, and mapped as the template says; sent
// again under the same IDs they are stored once.
func TestRealNodeSearch(t *testing.T) {
	for _, n := range realNodes(t) {
		t.Run(n.engine, func(t *testing.T) {
			run := testRun(t, n)
			s := realSink(t, n, run)
			msgs := qwatchtest.SampleMessages(600)
			for i := range msgs {
				// 30 hours: three daily indices.
				msgs[i].Time = msgs[i].Time.Add(time.Duration(i) * 3 * time.Minute)
			}
			writeBatches(t, s, msgs, 100)

			all := run + "-2*" // the dated indices, not the dead letters
			if got := n.count(t, all, nil); got != len(msgs) {
				t.Errorf("_count %d, want %d", got, len(msgs))
			}
			web, errs := 0, 0
			for _, m := range msgs {
				if m.Container.Name == "web-1" {
					web++
				}
				if m.Level == message.LevelErr {
					errs++
				}
			}
			for _, q := range []struct {
				query map[string]any
				want  int
			}{
				{map[string]any{"term": map[string]any{"container.name": "web-1"}}, web},
				{map[string]any{"term": map[string]any{"log.level": "err"}}, errs},
				{map[string]any{"match_phrase": map[string]any{"message": "line 16"}}, 1},
				{map[string]any{"match": map[string]any{"message": "ünïcödé"}}, 400},
				{map[string]any{"term": map[string]any{"fields.request_id": "r3"}}, 1},
				{map[string]any{"term": map[string]any{"container.labels.com.docker.compose.service": "web"}}, 200},
			} {
				if got := n.count(t, all, q.query); got != q.want {
					t.Errorf("_count %v: %d, want %d", q.query, got, q.want)
				}
			}
			if hits := n.search(t, all, map[string]any{"match_phrase": map[string]any{"message": "line 16"}}); len(hits) != 1 ||
				hits[0]["qwatch"].(map[string]any)["id"] != msgs[16].ID {
				t.Errorf("search for line 16: %v, want message %s", hits, msgs[16].ID)
			}

			free := map[string]string{"opensearch": "flat_object", "elasticsearch": "flattened"}[n.engine]
			day := run + "-" + msgs[0].Time.UTC().Format("2006.01.02")
			for field, want := range map[string]string{
				"@timestamp": "date_nanos", "message": "text", "container.name": "keyword", "log.level": "keyword",
				"qwatch.id": "keyword", "fields": free, "container.labels": free, "docker.container.created": "date_nanos",
			} {
				if got := n.mappingType(t, day, field); got != want {
					t.Errorf("%s mapped as %q, want %q", field, got, want)
				}
			}

			writeBatches(t, s, msgs, 100)
			if got := n.count(t, all, nil); got != len(msgs) {
				t.Errorf("_count %d after sending again, want %d", got, len(msgs))
			}
			st := s.Stats()
			if st.Indexed != uint64(len(msgs)) || st.AlreadyPresent != uint64(len(msgs)) || st.Failed != 0 || st.DeadLettered != 0 {
				t.Errorf("stats %+v: want %d indexed, then as many already present", st, len(msgs))
			}
		})
	}
}

// TestRealNodeDeadLetter: a document the engine refuses goes to the dead-letter index with
// the engine's reason; the others of its batch are indexed.
func TestRealNodeDeadLetter(t *testing.T) {
	for _, n := range realNodes(t) {
		t.Run(n.engine, func(t *testing.T) {
			run := testRun(t, n)
			msgs := qwatchtest.SampleMessages(4)
			tests := []struct {
				name     string
				template bool
				conflict func(m *message.Message)
				reason   string
			}{
				// Without the template the first document fixes fields.code as a number.
				{"dynamic mapping", false, func(m *message.Message) { m.Fields = map[string]any{"code": "not a number"} }, "fields.code"},
				// date_nanos holds nothing before 1970.
				{"date_nanos", true, func(m *message.Message) { m.Time = time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC) }, "[@timestamp] of type [date_nanos]"},
			}
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					sub := fmt.Sprintf("%s-%d", run, i)
					var s *elasticsearch.Sink
					if tt.template {
						s = realSink(t, n, sub)
					} else {
						s = newSink(t, elasticsearch.Config{URLs: []string{n.url}, Index: sub + "-{2006.01.02}", DeadLetterIndex: sub + "-dlq-{2006.01.02}"})
					}
					first := msgs[0]
					first.Fields = map[string]any{"code": 200.0}
					if err := s.Write(context.Background(), []message.Message{first}); err != nil {
						t.Fatal(err)
					}
					refused := msgs[1]
					tt.conflict(&refused)
					if err := s.Write(context.Background(), []message.Message{refused, msgs[2], msgs[3]}); err != nil {
						t.Fatal(err)
					}
					if st := s.Stats(); st.Indexed != 3 || st.DeadLettered != 1 || st.Failed != 0 {
						t.Errorf("stats %+v: want 3 indexed, 1 dead-lettered", st)
					}
					if got := n.count(t, sub+"-1*,"+sub+"-2*", nil); got != 3 {
						t.Errorf("%d documents indexed, want 3", got)
					}
					letters := n.search(t, sub+"-dlq-*", map[string]any{"term": map[string]any{"qwatch.id": refused.ID}})
					if len(letters) != 1 {
						t.Fatalf("%d dead letters for %s, want 1", len(letters), refused.ID)
					}
					reason, _ := letters[0]["error"].(map[string]any)["message"].(string)
					original, _ := letters[0]["message"].(string)
					if !strings.Contains(reason, tt.reason) || !strings.Contains(original, refused.ID) {
						t.Errorf("dead letter %v: want the reason (with %q) and the original document", letters[0], tt.reason)
					}
					t.Logf("%s refused: %s", n.engine, reason)
				})
			}
		})
	}
}

// TestRealNodeDataStream: into a data stream where the engine has them (OpenSearch, or
// Elasticsearch with x-pack); where it has not, Install says so and Stats keeps it.
func TestRealNodeDataStream(t *testing.T) {
	for _, n := range realNodes(t) {
		t.Run(n.engine, func(t *testing.T) {
			run := testRun(t, n)
			stream := "logs-" + run
			s := newSink(t, elasticsearch.Config{URLs: []string{n.url}, DataStream: true, Index: stream,
				DeadLetterIndex: run + "-dlq-{2006.01.02}", InstallTemplate: true, TemplateName: run})
			if err := installed(t, n, s, run); err != nil {
				st := s.Stats()
				if n.engine == "elasticsearch" && strings.Contains(err.Error(), "data_stream") && st.TemplateError == err.Error() {
					t.Skipf("this Elasticsearch has no data streams (no x-pack), as Install says: %v", err)
				}
				t.Fatalf("Install() = %v, Stats.TemplateError %q", err, st.TemplateError)
			}
			msgs := qwatchtest.SampleMessages(300)
			writeBatches(t, s, msgs, 100)
			writeBatches(t, s, msgs[:50], 50)
			if got := n.count(t, stream, nil); got != len(msgs) {
				t.Errorf("_count %d, want %d", got, len(msgs))
			}
			var ds struct {
				DataStreams []struct {
					Name    string
					Indices []struct {
						IndexName string `json:"index_name"`
					}
				} `json:"data_streams"`
			}
			n.call(t, "GET", "/_data_stream/"+stream, nil, &ds)
			if len(ds.DataStreams) != 1 || ds.DataStreams[0].Name != stream || len(ds.DataStreams[0].Indices) == 0 {
				t.Fatalf("data stream %s: %+v", stream, ds)
			}
			backing := ds.DataStreams[0].Indices[0].IndexName
			if got := n.mappingType(t, backing, "@timestamp"); got != "date_nanos" {
				t.Errorf("@timestamp mapped as %q", got)
			}
			if st := s.Stats(); st.Indexed != 300 || st.AlreadyPresent != 50 || st.Failed != 0 {
				t.Errorf("stats %+v: want 300 indexed, 50 already present", st)
			}
		})
	}
}

// startNode starts a node of its own for a test that kills it, with the launcher CI uses.
// It returns the node's URL; the node is stopped when the test ends.
func startNode(t *testing.T, dir string) string {
	t.Helper()
	script, err := filepath.Abs("../../.ci/start-opensearch")
	if err != nil {
		t.Fatal(err)
	}
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
	return url
}

// nodePID returns the pid the launcher wrote to dir.
func nodePID(t *testing.T, dir string) int {
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

// stopNode ends the node with sig and waits until the process is gone.
func stopNode(t *testing.T, pid int, sig syscall.Signal) {
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

// TestRealNodeKilled: an OpenSearch node killed with kill -9 in the middle of a load and
// started again on its data loses nothing and stores nothing twice: the Sink behind a Hub
// with a spool, as qwatchd runs it, retries what was not acknowledged, and what was
// acknowledged comes back as 409.
func TestRealNodeKilled(t *testing.T) {
	if os.Getenv("QWATCH_OPENSEARCH_URL") == "" {
		t.Skip("QWATCH_OPENSEARCH_URL is not set: this machine is not known to run a node (.ci/start-opensearch starts one)")
	}
	if testing.Short() {
		t.Skip("starts a node of its own twice")
	}
	dir := t.TempDir()
	url := startNode(t, dir)
	t.Cleanup(func() { stopNode(t, nodePID(t, dir), syscall.SIGTERM) })

	s := newSink(t, elasticsearch.Config{URLs: []string{url}, Index: "killed-{2006.01.02}",
		RetryInitial: 50 * time.Millisecond, RetryMax: time.Second, RequestTimeout: 10 * time.Second})
	h := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)))
	if err := h.AddSink("es", s, qwatch.WithSpool(qwatch.SpoolConfig{Dir: t.TempDir()}), qwatch.WithBatch(500, 20*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()

	// About 5,000 documents a second for 8 s: the node is killed early and is down for the
	// rest of it, so documents arrive before, during and after the outage.
	const total = 40000
	msgs := qwatchtest.SampleMessages(total)
	published := make(chan struct{})
	go func() {
		defer close(published)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < total; i += 100 {
			<-tick.C
			for _, m := range msgs[i : i+100] {
				if err := h.Publish(ctx, m); err != nil {
					return
				}
			}
		}
	}()
	waitFor(t, 60*time.Second, "8,000 documents indexed before the kill", func() bool { return s.Stats().Indexed >= 8000 })
	stopNode(t, nodePID(t, dir), syscall.SIGKILL)
	atKill := s.Stats().Indexed
	if atKill >= total {
		t.Fatalf("all %d documents were indexed before the kill", total)
	}
	startNode(t, dir)
	<-published
	waitFor(t, 3*time.Minute, "every document written", func() bool { return h.Stats().Sinks["es"].Written == total })

	n := realNode{"opensearch", url}
	if got := n.count(t, "killed-*", nil); got != total {
		t.Errorf("_count %d, want %d", got, total)
	}
	st, hs := s.Stats(), h.Stats().Sinks["es"]
	if st.Indexed+st.AlreadyPresent != total || st.Failed != 0 || st.DeadLettered != 0 || hs.Failed != 0 || hs.Dropped != 0 || hs.Lost != 0 {
		t.Errorf("sink %+v, hub %+v", st, hs)
	}
	t.Logf("killed at %d indexed; %d retried, %d already present after the restart", atKill, st.Retried, st.AlreadyPresent)
}

// waitFor polls cond until it holds, or fails the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
