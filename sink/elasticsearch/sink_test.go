package elasticsearch_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

var _ qwatch.Sink = (*elasticsearch.Sink)(nil)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newSink(t *testing.T, cfg elasticsearch.Config) *elasticsearch.Sink {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryInitial == 0 {
		cfg.RetryInitial, cfg.RetryMax = 5*time.Millisecond, 50*time.Millisecond
	}
	s, err := elasticsearch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// messages reads the stored documents of the message indices (not the dead letters) back
// into messages, sorted by ID.
func messages(t *testing.T, docs []storedDoc) []message.Message {
	t.Helper()
	var out []message.Message
	for _, d := range docs {
		if strings.HasPrefix(d.Index, "qwatch-deadletter-") {
			continue
		}
		var m message.Message
		if err := json.Unmarshal(d.Doc, &m); err != nil {
			t.Fatalf("stored document %s: %v", d.Doc, err)
		}
		if m.ID != d.ID {
			t.Errorf("document stored under _id %q has qwatch.id %q", d.ID, m.ID)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b message.Message) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func TestConformance(t *testing.T) {
	var srv *bulkServer
	qwatchtest.TestSink(t,
		func(t *testing.T) qwatch.Sink {
			srv = newBulkServer(t)
			return newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}})
		},
		func(t *testing.T) []message.Message { return messages(t, srv.stored()) })
}

// write runs Write on a fresh copy of msgs and checks the server holds exactly msgs.
func writeAndCheck(t *testing.T, s *elasticsearch.Sink, srv *bulkServer, msgs []message.Message, wantErr bool) {
	t.Helper()
	err := s.Write(context.Background(), slices.Clone(msgs))
	if (err != nil) != wantErr {
		t.Fatalf("Write = %v, want error: %v", err, wantErr)
	}
	if wantErr {
		return
	}
	if diff := cmp.Diff(msgs, messages(t, srv.stored())); diff != "" {
		t.Errorf("server contents differ from what was written (-written +stored):\n%s", diff)
	}
}

func TestPerItem429RetriesOnlyThoseItems(t *testing.T) {
	srv := newBulkServer(t)
	var mu sync.Mutex
	sent := map[int][]string{}
	srv.onItem = func(n int, _, id string, _ json.RawMessage) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		sent[n] = append(sent[n], id)
		if n == 1 && len(sent[n])%3 == 0 {
			return 429, "es_rejected_execution_exception"
		}
		return 0, ""
	}
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}})
	msgs := qwatchtest.SampleMessages(30)
	writeAndCheck(t, s, srv, msgs, false)
	mu.Lock()
	defer mu.Unlock()
	if len(sent[1]) != 30 || len(sent[2]) != 10 || len(sent) != 2 {
		t.Errorf("requests sent %d then %d items (%d requests), want 30 then only the 10 refused", len(sent[1]), len(sent[2]), len(sent))
	}
	for i, id := range sent[2] {
		if id != sent[1][3*i+2] {
			t.Errorf("retry %d is %s, want the refused %s", i, id, sent[1][3*i+2])
		}
	}
	if st := s.Stats(); st.Indexed != 30 || st.Retried != 10 || st.Failed != 0 || st.BulkRequests != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestMappingErrorsAreDeadLettered(t *testing.T) {
	srv := newBulkServer(t)
	msgs := qwatchtest.SampleMessages(10)
	bad := map[string]bool{msgs[2].ID: true, msgs[7].ID: true}
	srv.onItem = func(_ int, index, id string, _ json.RawMessage) (int, string) {
		if bad[id] && !strings.HasPrefix(index, "qwatch-deadletter-") {
			return 400, "mapper_parsing_exception"
		}
		return 0, ""
	}
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}})
	if err := s.Write(context.Background(), slices.Clone(msgs)); err != nil {
		t.Fatalf("Write = %v; dead-lettered documents are handled for good", err)
	}
	var letters []storedDoc
	for _, d := range srv.stored() {
		if strings.HasPrefix(d.Index, "qwatch-deadletter-") {
			letters = append(letters, d)
		}
	}
	if len(letters) != 2 {
		t.Fatalf("%d dead letters, want 2", len(letters))
	}
	for _, l := range letters {
		var dl struct {
			Message string `json:"message"`
			Error   struct{ Message string }
			Qwatch  struct{ ID, Index string }
		}
		json.Unmarshal(l.Doc, &dl)
		var orig message.Message
		if err := json.Unmarshal([]byte(dl.Message), &orig); err != nil || !bad[orig.ID] || orig.ID != l.ID || dl.Qwatch.ID != l.ID {
			t.Errorf("dead letter %s does not hold the refused document: %s", l.ID, l.Doc)
		}
		if !strings.Contains(dl.Error.Message, "status 400: mapper_parsing_exception") || !strings.HasPrefix(dl.Qwatch.Index, "qwatch-2026.11.23") {
			t.Errorf("dead letter reason %q, index %q", dl.Error.Message, dl.Qwatch.Index)
		}
	}
	if got := len(messages(t, srv.stored())); got != 8 {
		t.Errorf("%d documents indexed, want 8", got)
	}
	if st := s.Stats(); st.Indexed != 8 || st.DeadLettered != 2 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestConflictMeansAlreadyIndexed(t *testing.T) {
	srv := newBulkServer(t)
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}})
	msgs := qwatchtest.SampleMessages(5)
	writeAndCheck(t, s, srv, msgs[:3], false)
	writeAndCheck(t, s, srv, msgs, false) // the first three again: 409, counted as present
	if st := s.Stats(); st.Indexed != 5 || st.AlreadyPresent != 3 {
		t.Errorf("stats %+v", st)
	}
}

// IDs a program sets and index names may hold control characters, quotes or invalid UTF-8:
// each bulk line must still be valid JSON and valid UTF-8, or the node refuses the whole
// request and every document in it with it.
func TestOddIDsAndIndexKeepTheRequestValid(t *testing.T) {
	for _, tt := range []struct{ name, id, wantID string }{
		{"control character", "id\x01\x1f", "id\x01\x1f"},
		{"invalid UTF-8", "id\xff\xc3", "id\ufffd\ufffd"},
		{"quote and backslash", `id"\`, `id"\`},
		{"line separator", "id\u2028", "id\u2028"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBulkServer(t)
			s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}, Index: "odd-\x01\xff-{2006.01.02}"})
			msgs := qwatchtest.SampleMessages(3)
			msgs[1].ID = tt.id
			if err := s.Write(context.Background(), msgs); err != nil {
				t.Fatalf("Write = %v", err)
			}
			var ids []string
			for _, d := range srv.stored() {
				if d.Index != "odd-\x01\ufffd-2026.11.23" {
					t.Errorf("stored in index %q", d.Index)
				}
				ids = append(ids, d.ID)
			}
			if want := []string{msgs[0].ID, tt.wantID, msgs[2].ID}; !cmp.Equal(ids, want) {
				t.Errorf("stored IDs %q, want %q", ids, want)
			}
			messages(t, srv.stored()) // each document's qwatch.id is its _id
			if st := s.Stats(); st.Indexed != 3 || st.DeadLettered != 0 || st.Failed != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestWholeRequest503IsRetried(t *testing.T) {
	srv := newBulkServer(t)
	srv.onRequest = func(n int, w http.ResponseWriter, _ *http.Request) bool {
		if n <= 2 {
			http.Error(w, `{"error":{"type":"unavailable"},"status":503}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}})
	writeAndCheck(t, s, srv, qwatchtest.SampleMessages(20), false)
	if st := s.Stats(); st.BulkRequests != 3 || st.Retried != 40 {
		t.Errorf("stats %+v", st)
	}
}

func TestConnectionResetAfterIndexingDoesNotDuplicate(t *testing.T) {
	srv := newBulkServer(t)
	srv.afterStore = func(n int) bool { return n == 1 }
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}})
	msgs := qwatchtest.SampleMessages(25)
	writeAndCheck(t, s, srv, msgs, false)
	if got := len(srv.stored()); got != 25 {
		t.Errorf("server stored %d documents for 25 messages", got)
	}
	if st := s.Stats(); st.AlreadyPresent != 25 || st.Indexed != 0 {
		t.Errorf("stats %+v: the retry should find every document present", st)
	}
}

func TestServerDownThenBack(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here for now
	srv := newBulkServer(t)
	s := newSink(t, elasticsearch.Config{URLs: []string{"http://" + addr},
		RetryInitial: 50 * time.Millisecond, RetryMax: time.Second, RetryBudget: time.Minute})
	msgs := qwatchtest.SampleMessages(50)
	done := make(chan error)
	go func() { done <- s.Write(context.Background(), slices.Clone(msgs)) }()
	// Down until three attempts have failed (Retried counts each failed attempt's documents,
	// before the wait that follows it).
	for deadline := time.Now().Add(30 * time.Second); s.Stats().Retried < 3*50; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: fewer than three attempts failed against the downed server in 30s", s.Stats())
		}
	}
	back, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot take the address back: %v", err)
	}
	proxy := &http.Server{Handler: srv.srv.Config.Handler}
	go proxy.Serve(back)
	defer proxy.Close()
	if err := <-done; err != nil {
		t.Fatalf("Write = %v after the server came back", err)
	}
	if diff := cmp.Diff(msgs, messages(t, srv.stored())); diff != "" {
		t.Errorf("lost documents:\n%s", diff)
	}
	if st := s.Stats(); st.Indexed != 50 || st.Retried < 50*3 {
		t.Errorf("stats %+v", st)
	}
}

func TestLargeBatchIsSplit(t *testing.T) {
	srv := newBulkServer(t)
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}, MaxBulkBytes: 16 << 10})
	msgs := qwatchtest.SampleMessages(300)
	writeAndCheck(t, s, srv, msgs, false)
	if len(srv.bodies) < 5 {
		t.Errorf("%d bulk requests for about %d KiB with a 16 KiB limit", len(srv.bodies), s.Stats().Bytes>>10)
	}
	for i, n := range srv.bodies {
		if n > 16<<10 {
			t.Errorf("request %d has %d bytes, over the 16 KiB limit", i, n)
		}
	}
}

// A server that refuses requests over 8 KiB with 413: the sink halves them until they fit,
// and every document lands once.
func TestTooLargeRequestIsHalved(t *testing.T) {
	srv := newBulkServer(t)
	var mu sync.Mutex
	var refused, accepted []int64 // body sizes
	srv.onRequest = func(_ int, w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.ContentLength > 8<<10 {
			refused = append(refused, r.ContentLength)
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return true
		}
		accepted = append(accepted, r.ContentLength)
		return false
	}
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}})
	writeAndCheck(t, s, srv, qwatchtest.SampleMessages(100), false)
	mu.Lock()
	defer mu.Unlock()
	if len(refused) == 0 || refused[0] <= 8<<10 {
		t.Fatalf("no request was refused with 413 (refused %v, accepted %v): the test did not test halving", refused, accepted)
	}
	// Each refused request comes back as two halves: one more accepted request than refused.
	if len(accepted) != len(refused)+1 {
		t.Errorf("%d requests refused, %d accepted; halving makes one more accepted than refused", len(refused), len(accepted))
	}
	if st := s.Stats(); st.Indexed != 100 || st.DeadLettered != 0 || st.BulkRequests != uint64(len(refused)+len(accepted)) {
		t.Errorf("stats %+v", st)
	}
}

func TestRetryBudgetRunsOut(t *testing.T) {
	srv := newBulkServer(t)
	srv.onRequest = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
		return true
	}
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}, RetryBudget: 200 * time.Millisecond})
	start := time.Now()
	err := s.Write(context.Background(), qwatchtest.SampleMessages(7))
	if err == nil || !strings.Contains(err.Error(), "7 of 7 documents neither indexed nor dead-lettered") {
		t.Errorf("Write = %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("gave up after %v with a 200ms budget", took)
	}
	if st := s.Stats(); st.Failed != 7 {
		t.Errorf("stats %+v", st)
	}
	// The context ends retries too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	s2 := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}})
	if err := s2.Write(ctx, qwatchtest.SampleMessages(3)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Write with an expiring context = %v", err)
	}
}

// A rotated key is an outage, not a verdict on the documents: they wait and go out once the
// credentials work again, without burning the batch or hammering the node.
func TestUnauthorizedIsRetriedNotBurnt(t *testing.T) {
	srv := newBulkServer(t)
	var mu sync.Mutex
	until := time.Now().Add(1500 * time.Millisecond)
	refusals := 0
	srv.onRequest = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if time.Now().Before(until) {
			refusals++
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return true
		}
		return false
	}
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}, Username: "elastic", Password: "s3cret-pw",
		RetryInitial: 100 * time.Millisecond, RetryMax: time.Second})
	msgs := qwatchtest.SampleMessages(20)
	if err := s.Write(context.Background(), msgs); err != nil {
		t.Fatalf("Write = %v, want nil once the credentials work again", err)
	}
	st := s.Stats()
	if st.Indexed != 20 || st.DeadLettered != 0 || st.Failed != 0 || !st.Healthy {
		t.Errorf("stats = %+v, want 20 indexed, none dead-lettered or failed, healthy again", st)
	}
	mu.Lock()
	defer mu.Unlock()
	// Backoff from 100ms doubling: about 4 attempts in 1.5s; a tight loop would make hundreds.
	if refusals < 2 || refusals > 8 {
		t.Errorf("%d requests during the 1.5s of 401s, want a handful (backoff)", refusals)
	}
	if strings.Contains(st.LastError, "s3cret-pw") {
		t.Errorf("LastError shows the password: %s", st.LastError)
	}
}

// A 401 that outlasts the budget leaves the whole batch unwritten, and says so.
func TestUnauthorizedPastTheBudget(t *testing.T) {
	srv := newBulkServer(t)
	srv.onRequest = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return true
	}
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}, Username: "elastic", Password: "s3cret-pw",
		RetryBudget: 300 * time.Millisecond})
	err := s.Write(context.Background(), qwatchtest.SampleMessages(2))
	var be *elasticsearch.BulkError
	if !errors.As(err, &be) || len(be.Unwritten()) != 2 || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("Write = %v, want a BulkError with both documents unwritten, naming the 401 and not the password", err)
	}
	if st := s.Stats(); st.Healthy || st.DeadLettered != 0 {
		t.Errorf("stats = %+v, want unhealthy and nothing dead-lettered", st)
	}
}

// 99 documents indexed and one refused with 503 past the budget: the error names exactly the
// one, so the Hub counts 99 written and 1 failed.
func TestPartialFailureNamesTheUnwritten(t *testing.T) {
	srv := newBulkServer(t)
	msgs := qwatchtest.SampleMessages(100)
	const bad = 37
	srv.onItem = func(_ int, _, id string, _ json.RawMessage) (int, string) {
		if id == msgs[bad].ID {
			return http.StatusServiceUnavailable, "unavailable_shards_exception"
		}
		return 0, ""
	}
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}, RetryBudget: 300 * time.Millisecond})
	err := s.Write(context.Background(), msgs)
	var unwritten interface{ Unwritten() []int }
	if !errors.As(err, &unwritten) {
		t.Fatalf("Write = %v, want an error with Unwritten", err)
	}
	if got := unwritten.Unwritten(); len(got) != 1 || got[0] != bad {
		t.Errorf("Unwritten() = %v, want [%d]", got, bad)
	}
	if st := s.Stats(); st.Indexed != 99 || st.Failed != 1 {
		t.Errorf("stats = %+v, want 99 indexed and 1 failed", st)
	}
}

// A node that accepts the connection and never answers cannot hold Write past its budget.
func TestSilentNodeCannotHoldWrite(t *testing.T) {
	srv := newBulkServer(t)
	release := make(chan struct{})
	defer close(release)
	srv.onRequest = func(_ int, w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	}
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}, RequestTimeout: 200 * time.Millisecond,
		RetryBudget: time.Second})
	start := time.Now()
	err := s.Write(context.Background(), qwatchtest.SampleMessages(5))
	took := time.Since(start)
	var be *elasticsearch.BulkError
	if !errors.As(err, &be) || be.Failed != 5 {
		t.Errorf("Write = %v, want all 5 unwritten", err)
	}
	if took > 3*time.Second {
		t.Errorf("Write took %v with a 1s budget", took)
	}
	if st := s.Stats(); st.BulkRequests < 2 {
		t.Errorf("%d requests: a request that timed out should have been retried", st.BulkRequests)
	}
}

func TestGzipAndHeadersAndIndexNames(t *testing.T) {
	srv := newBulkServer(t)
	var auth, extra, encoding string
	srv.onRequest = func(_ int, _ http.ResponseWriter, r *http.Request) bool {
		auth, extra, encoding = r.Header.Get("Authorization"), r.Header.Get("VL-Msg-Field"), r.Header.Get("Content-Encoding")
		return false
	}
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}, Gzip: true, APIKey: "a2V5",
		Headers: http.Header{"VL-Msg-Field": {"message"}}, Index: "logs-{2006.01}-x"})
	at := time.Date(2026, 12, 31, 23, 59, 0, 0, time.FixedZone("X", 3*3600)) // 20:59 UTC
	writeAndCheck(t, s, srv, []message.Message{{ID: "a", Time: at, Text: "t"}}, false)
	if auth != "ApiKey a2V5" || extra != "message" || encoding != "gzip" {
		t.Errorf("headers: auth %q extra %q encoding %q", auth, extra, encoding)
	}
	if idx := srv.stored()[0].Index; idx != "logs-2026.12-x" {
		t.Errorf("index %q, want the message time in UTC in the layout", idx)
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	tests := []struct {
		cfg  elasticsearch.Config
		want string
	}{
		{elasticsearch.Config{URLs: []string{"ftp://x"}}, "scheme must be http or https"},
		{elasticsearch.Config{URLs: []string{"http://elastic:hunter2@x:9200"}}, "put credentials in Username and Password"},
		{elasticsearch.Config{URLs: []string{"http://"}}, "no host"},
		{elasticsearch.Config{APIKey: "k", Username: "u"}, "not both"},
		{elasticsearch.Config{Password: "p"}, "needs a username"},
		{elasticsearch.Config{CertFile: "c.pem"}, "needs both CertFile and KeyFile"},
		{elasticsearch.Config{Index: "a-{2006}-{01}"}, "at most one"},
		{elasticsearch.Config{Index: "Upper"}, "lower case"},
		{elasticsearch.Config{DataStream: true, Index: "logs-{2006}"}, "takes no date"},
		{elasticsearch.Config{RetryInitial: time.Second, RetryMax: time.Millisecond}, "less than RetryInitial"},
		{elasticsearch.Config{MaxBulkBytes: 10}, "at least 1024"},
		{elasticsearch.Config{CAFile: "/nonexistent/ca.pem"}, "reading CA file"},
	}
	for _, tt := range tests {
		_, err := elasticsearch.New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%+v) = %v, want an error containing %q and no password", tt.cfg, err, tt.want)
		}
	}
}

func TestDataStream(t *testing.T) {
	srv := newBulkServer(t)
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}, DataStream: true})
	writeAndCheck(t, s, srv, qwatchtest.SampleMessages(3), false)
	for _, d := range srv.stored() {
		if d.Index != elasticsearch.DefaultDataStream {
			t.Errorf("document went to %q, want the data stream %q", d.Index, elasticsearch.DefaultDataStream)
		}
	}
	tmpl, err := s.Template(elasticsearch.Engine{Distribution: "opensearch", Version: "2.19.6"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tmpl["data_stream"]; !ok || !cmp.Equal(tmpl["index_patterns"], []string{elasticsearch.DefaultDataStream}) {
		t.Errorf("data stream template %v", tmpl)
	}
}

// TestMisleadingErrorsFlag: a server that says "errors":false but refuses items is still
// read item by item.
func TestMisleadingErrorsFlag(t *testing.T) {
	srv := newBulkServer(t)
	n := 0
	srv.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.Write([]byte(`{"took":1,"errors":false,"items":[{"create":{"status":201}},{"create":{"status":503}}]}`))
			return
		}
		srv.serve(w, r)
	})
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}})
	if err := s.Write(context.Background(), qwatchtest.SampleMessages(2)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Indexed != 2 || st.Retried != 1 {
		t.Errorf("stats %+v: the 503 item must be retried", st)
	}
}

func TestTLSWithCAFile(t *testing.T) {
	srv := newBulkServer(t)
	tlsSrv := httptest.NewTLSServer(srv.srv.Config.Handler)
	defer tlsSrv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	msgs := qwatchtest.SampleMessages(4)
	s := newSink(t, elasticsearch.Config{URLs: []string{tlsSrv.URL}, CAFile: ca})
	writeAndCheck(t, s, srv, msgs, false)

	// A name the certificate does not carry is refused, CA or not.
	wrongName := newSink(t, elasticsearch.Config{URLs: []string{strings.Replace(tlsSrv.URL, "127.0.0.1", "localhost", 1)}, CAFile: ca})
	refusedForCertificate(t, wrongName)

	// Without the CA the server's certificate is not trusted: nothing is sent.
	untrusted := newSink(t, elasticsearch.Config{URLs: []string{tlsSrv.URL}})
	refusedForCertificate(t, untrusted)
	if got := len(srv.stored()); got != len(msgs) {
		t.Errorf("the server stored %d documents, want only the %d sent with the CA", got, len(msgs))
	}
}

// refusedForCertificate writes to s, whose server's certificate it must refuse: the sink
// retries, as after any transport error, so once it reports a certificate error the write is
// cancelled, and its error must name the certificate too.
func refusedForCertificate(t *testing.T, s *elasticsearch.Sink) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Write(ctx, qwatchtest.SampleMessages(1)) }()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(s.Stats().LastError, "certificate"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("no certificate error within 30s; last error %q", s.Stats().LastError)
			break
		}
	}
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Write = %v, want a certificate error", err)
	}
}
