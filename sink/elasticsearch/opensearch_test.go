package elasticsearch_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/internal/searchtest"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

// installed installs the Sink's template, named name, and removes it when the test ends.
func installed(t *testing.T, n searchtest.Node, s *elasticsearch.Sink, name string) error {
	t.Cleanup(func() { n.Remove("/_index_template/" + name) })
	return s.Install(context.Background())
}

// realSink is a Sink writing the run's dated indices on the node, with its template.
func realSink(t *testing.T, n searchtest.Node, run string) *elasticsearch.Sink {
	s := newSink(t, elasticsearch.Config{
		URLs:  []string{n.URL},
		Index: run + "-{2006.01.02}", DeadLetterIndex: run + "-dlq-{2006.01.02}",
		InstallTemplate: true, TemplateName: run,
	})
	if err := installed(t, n, s, run); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Engine.Distribution != n.Engine || st.TemplateError != "" {
		t.Fatalf("after Install: engine %v, template error %q; want %s", st.Engine, st.TemplateError, n.Engine)
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
	for _, n := range searchtest.Nodes(t) {
		t.Run(n.Engine, func(t *testing.T) {
			run := n.Run(t)
			s := realSink(t, n, run)
			msgs := qwatchtest.SampleMessages(600)
			for i := range msgs {
				// 30 hours: three daily indices.
				msgs[i].Time = msgs[i].Time.Add(time.Duration(i) * 3 * time.Minute)
			}
			writeBatches(t, s, msgs, 100)

			all := run + "-2*" // the dated indices, not the dead letters
			if got := n.Count(t, all, nil); got != len(msgs) {
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
				if got := n.Count(t, all, q.query); got != q.want {
					t.Errorf("_count %v: %d, want %d", q.query, got, q.want)
				}
			}
			if hits := n.Search(t, all, map[string]any{"match_phrase": map[string]any{"message": "line 16"}}); len(hits) != 1 ||
				hits[0]["qwatch"].(map[string]any)["id"] != msgs[16].ID {
				t.Errorf("search for line 16: %v, want message %s", hits, msgs[16].ID)
			}

			free := map[string]string{"opensearch": "flat_object", "elasticsearch": "flattened"}[n.Engine]
			day := run + "-" + msgs[0].Time.UTC().Format("2006.01.02")
			for field, want := range map[string]string{
				"@timestamp": "date_nanos", "message": "text", "container.name": "keyword", "log.level": "keyword",
				"qwatch.id": "keyword", "fields": free, "container.labels": free, "docker.container.created": "date_nanos",
			} {
				if got := n.MappingType(t, day, field); got != want {
					t.Errorf("%s mapped as %q, want %q", field, got, want)
				}
			}

			writeBatches(t, s, msgs, 100)
			if got := n.Count(t, all, nil); got != len(msgs) {
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
	for _, n := range searchtest.Nodes(t) {
		t.Run(n.Engine, func(t *testing.T) {
			run := n.Run(t)
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
						s = newSink(t, elasticsearch.Config{URLs: []string{n.URL}, Index: sub + "-{2006.01.02}", DeadLetterIndex: sub + "-dlq-{2006.01.02}"})
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
					if got := n.Count(t, sub+"-1*,"+sub+"-2*", nil); got != 3 {
						t.Errorf("%d documents indexed, want 3", got)
					}
					letters := n.Search(t, sub+"-dlq-*", map[string]any{"term": map[string]any{"qwatch.id": refused.ID}})
					if len(letters) != 1 {
						t.Fatalf("%d dead letters for %s, want 1", len(letters), refused.ID)
					}
					reason, _ := letters[0]["error"].(map[string]any)["message"].(string)
					original, _ := letters[0]["message"].(string)
					if !strings.Contains(reason, tt.reason) || !strings.Contains(original, refused.ID) {
						t.Errorf("dead letter %v: want the reason (with %q) and the original document", letters[0], tt.reason)
					}
					t.Logf("%s refused: %s", n.Engine, reason)
				})
			}
		})
	}
}

// TestRealNodeDataStream: into a data stream where the engine has them (OpenSearch, or
// Elasticsearch with x-pack); where it has not, Install says so and Stats keeps it.
func TestRealNodeDataStream(t *testing.T) {
	for _, n := range searchtest.Nodes(t) {
		t.Run(n.Engine, func(t *testing.T) {
			run := n.Run(t)
			stream := "logs-" + run
			s := newSink(t, elasticsearch.Config{URLs: []string{n.URL}, DataStream: true, Index: stream,
				DeadLetterIndex: run + "-dlq-{2006.01.02}", InstallTemplate: true, TemplateName: run})
			if err := installed(t, n, s, run); err != nil {
				st := s.Stats()
				if n.Engine == "elasticsearch" && strings.Contains(err.Error(), "data_stream") && st.TemplateError == err.Error() {
					t.Skipf("this Elasticsearch has no data streams (no x-pack), as Install says: %v", err)
				}
				t.Fatalf("Install() = %v, Stats.TemplateError %q", err, st.TemplateError)
			}
			msgs := qwatchtest.SampleMessages(300)
			writeBatches(t, s, msgs, 100)
			writeBatches(t, s, msgs[:50], 50)
			if got := n.Count(t, stream, nil); got != len(msgs) {
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
			n.Call(t, "GET", "/_data_stream/"+stream, nil, &ds)
			if len(ds.DataStreams) != 1 || ds.DataStreams[0].Name != stream || len(ds.DataStreams[0].Indices) == 0 {
				t.Fatalf("data stream %s: %+v", stream, ds)
			}
			backing := ds.DataStreams[0].Indices[0].IndexName
			if got := n.MappingType(t, backing, "@timestamp"); got != "date_nanos" {
				t.Errorf("@timestamp mapped as %q", got)
			}
			if st := s.Stats(); st.Indexed != 300 || st.AlreadyPresent != 50 || st.Failed != 0 {
				t.Errorf("stats %+v: want 300 indexed, 50 already present", st)
			}
		})
	}
}

// TestRealNodeKilled: an OpenSearch node killed with kill -9 in the middle of a load and
// started again on its data loses nothing and stores nothing twice: the Sink behind a Hub
// with a spool, as qwatchd runs it, retries what was not acknowledged, and what was
// acknowledged comes back as 409.
func TestRealNodeKilled(t *testing.T) {
	searchtest.OpenSearch(t)
	if testing.Short() {
		t.Skip("starts a node of its own twice")
	}
	dir := t.TempDir()
	n := searchtest.Start(t, dir)

	s := newSink(t, elasticsearch.Config{URLs: []string{n.URL}, Index: "killed-{2006.01.02}",
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
	searchtest.Stop(t, searchtest.PID(t, dir), syscall.SIGKILL)
	atKill := s.Stats().Indexed
	if atKill >= total {
		t.Fatalf("all %d documents were indexed before the kill", total)
	}
	searchtest.Start(t, dir)
	<-published
	waitFor(t, 3*time.Minute, "every document written", func() bool { return h.Stats().Sinks["es"].Written == total })

	if got := n.Count(t, "killed-*", nil); got != total {
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
