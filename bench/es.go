package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"time"

	es8 "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

const bulkBatch = 500

// minimalBulk reads each body, counts its actions and answers 201 for each: the same work
// for every contender.
func minimalBulk() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch") // go-elasticsearch checks it
		w.Header().Set("Content-Type", "application/json")
		if !strings.HasSuffix(r.URL.Path, "/_bulk") {
			io.WriteString(w, `{"version":{"number":"8.15.0"},"tagline":"You Know, for Search"}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		n := bytes.Count(body, []byte("\n")) / 2
		var b strings.Builder
		b.WriteString(`{"took":1,"errors":false,"items":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"create":{"status":201}}`)
		}
		b.WriteString("]}")
		io.WriteString(w, b.String())
	}))
}

// esContender indexes msgs into the server at url, 500 documents a request.
type esContender struct {
	name string
	run  func(url string, msgs []message.Message) error
}

func benchES(out io.Writer, docs, runs int) error {
	srv := minimalBulk()
	defer srv.Close()
	msgs := qwatchtest.SampleMessages(docs)
	contenders := []esContender{
		{"NDJSON POST, message.AppendJSON (ceiling)", rawBulk},
		{"qwatch sink/elasticsearch", qwatchSink},
		{"go-elasticsearch esutil.BulkIndexer", bulkIndexer},
	}
	// Interleaved runs, so that a noisy moment of the machine falls on every contender.
	took := make([][]time.Duration, len(contenders))
	for range runs {
		for i, c := range contenders {
			start := time.Now()
			if err := c.run(srv.URL, msgs); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			took[i] = append(took[i], time.Since(start))
		}
	}
	fmt.Fprintf(out, "### Elasticsearch: %d documents, 500 a request, to a minimal local bulk server\n\n", docs)
	fmt.Fprintln(out, "| writer | docs/s | ratio to ceiling |")
	fmt.Fprintln(out, "| --- | ---: | ---: |")
	var ceiling float64
	for i, c := range contenders {
		slices.Sort(took[i])
		rate := float64(docs) / took[i][len(took[i])/2].Seconds()
		if i == 0 {
			ceiling = rate
		}
		fmt.Fprintf(out, "| %s | %.0f | %.2f |\n", c.name, rate, rate/ceiling)
	}
	fmt.Fprintln(out)
	return nil
}

func rawBulk(url string, msgs []message.Message) error {
	client := &http.Client{}
	defer client.CloseIdleConnections()
	var body []byte
	for batch := range slices.Chunk(msgs, bulkBatch) {
		body = body[:0]
		for _, m := range batch {
			body = append(body, `{"create":{"_index":"qwatch-`...)
			body = m.Time.UTC().AppendFormat(body, "2006.01.02")
			body = append(body, `","_id":`...)
			body = strconv.AppendQuote(body, m.ID)
			body = append(body, "}}\n"...)
			body = m.AppendJSON(body)
			body = append(body, '\n')
		}
		resp, err := client.Post(url+"/_bulk", "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return nil
}

func qwatchSink(url string, msgs []message.Message) error {
	s, err := elasticsearch.New(elasticsearch.Config{URLs: []string{url}})
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	for batch := range slices.Chunk(msgs, bulkBatch) {
		if err := s.Write(context.Background(), batch); err != nil {
			return err
		}
	}
	return nil
}

func bulkIndexer(url string, msgs []message.Message) error {
	client, err := es8.NewClient(es8.Config{Addresses: []string{url}})
	if err != nil {
		return err
	}
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: client, NumWorkers: 1, FlushBytes: flushBytes(msgs), FlushInterval: time.Minute})
	if err != nil {
		return err
	}
	for _, m := range msgs {
		err := bi.Add(context.Background(), esutil.BulkIndexerItem{Action: "create",
			Index: "qwatch-" + m.Time.UTC().Format("2006.01.02"), DocumentID: m.ID, Body: bytes.NewReader(m.AppendJSON(nil))})
		if err != nil {
			return err
		}
	}
	if err := bi.Close(context.Background()); err != nil {
		return err
	}
	if st := bi.Stats(); st.NumFailed > 0 || int(st.NumIndexed+st.NumCreated) != len(msgs) {
		return fmt.Errorf("indexer stats %+v", st)
	}
	return nil
}

// flushBytes is the flush size, in bytes, of the peers' bulk indexers that matches the sink's
// 500 documents a request: the size of the first 500, encoded, with their actions.
func flushBytes(msgs []message.Message) int {
	flush := 0
	for _, m := range msgs[:min(bulkBatch, len(msgs))] {
		flush += len(m.AppendJSON(nil)) + 80
	}
	return flush
}
