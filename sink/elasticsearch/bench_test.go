package elasticsearch_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/qnib/qwatch/qwatchtest"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

const benchBatch = 500

// countingBulk is a minimal local bulk server: it reads the body, counts the actions and
// answers 201 for each, the same work for the Sink and for the baseline.
func countingBulk(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := bytes.Count(body, []byte("\n")) / 2
		w.Header().Set("Content-Type", "application/json")
		var out strings.Builder
		out.WriteString(`{"took":1,"errors":false,"items":[`)
		for i := range n {
			if i > 0 {
				out.WriteByte(',')
			}
			out.WriteString(`{"create":{"status":201}}`)
		}
		out.WriteString("]}")
		io.WriteString(w, out.String())
	}))
	b.Cleanup(srv.Close)
	return srv
}

// bulkTargets are the servers the benchmarks run against: the minimal one always, and
// VictoriaLogs, a real bulk server, when QWATCH_VICTORIALOGS_URL names one.
func bulkTargets(b *testing.B) map[string]elasticsearch.Config {
	targets := map[string]elasticsearch.Config{"server=minimal": {URLs: []string{countingBulk(b).URL}}}
	if vl := os.Getenv("QWATCH_VICTORIALOGS_URL"); vl != "" {
		targets["server=victorialogs"] = vlConfig(vl)
	}
	return targets
}

// BenchmarkSinkWrite measures Write of 500-message batches; docs/s is the figure to compare
// with BenchmarkBaselineRawBulk, the ceiling.
func BenchmarkSinkWrite(b *testing.B) {
	for name, cfg := range bulkTargets(b) {
		b.Run(name, func(b *testing.B) { benchSink(b, cfg) })
	}
}

func benchSink(b *testing.B, cfg elasticsearch.Config) {
	s, err := elasticsearch.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	msgs := qwatchtest.SampleMessages(benchBatch)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(context.Background(), msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkBaselineRawBulk is the ceiling: what the sink cannot avoid. It encodes the same
// documents with message.AppendJSON into a 500-document NDJSON body and posts it with a
// plain net/http client.
func BenchmarkBaselineRawBulk(b *testing.B) {
	for name, cfg := range bulkTargets(b) {
		b.Run(name, func(b *testing.B) { benchRaw(b, cfg) })
	}
}

func benchRaw(b *testing.B, cfg elasticsearch.Config) {
	msgs := qwatchtest.SampleMessages(benchBatch)
	client := &http.Client{}
	var body []byte
	b.ReportAllocs()
	for b.Loop() {
		body = body[:0]
		for _, m := range msgs {
			body = append(body, `{"create":{"_index":"qwatch-2026.11.23","_id":`...)
			body = strconv.AppendQuote(body, m.ID)
			body = append(body, "}}\n"...)
			body = m.AppendJSON(body)
			body = append(body, '\n')
		}
		req, err := http.NewRequest(http.MethodPost, cfg.URLs[0]+"/_bulk", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header = cfg.Headers.Clone()
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "docs/s")
	client.CloseIdleConnections()
}
