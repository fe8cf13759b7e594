package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
	"github.com/opensearch-project/opensearch-go/v4/opensearchutil"

	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

// osContender indexes msgs into the indices named by prefix on the node at url, 500
// documents a request, one request at a time.
type osContender struct {
	name string
	run  func(url, prefix string, msgs []message.Message) error
}

// osRun is what one run of a contender cost.
type osRun struct {
	took               time.Duration
	clientCPU, nodeCPU time.Duration
}

// benchOpenSearch indexes the same documents into a real OpenSearch node with the sink and
// with opensearch-go's BulkIndexer, in interleaved runs, each into fresh indices (deleted
// after the run, so that every document is new and the node does the same work each time).
func benchOpenSearch(out io.Writer, url string, docs, runs int) error {
	msgs := qwatchtest.SampleMessages(docs)
	contenders := []osContender{
		{"qwatch sink/elasticsearch", qwatchSinkInto},
		{"opensearch-go opensearchutil.BulkIndexer", openSearchIndexer},
	}
	version, err := nodeVersion(url)
	if err != nil {
		return err
	}
	results := make([][]osRun, len(contenders))
	for r := range runs {
		// Each goes first in every other round, so that neither always meets the node's
		// work left over from the other.
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			c := contenders[i]
			if err := waitQuiet(url); err != nil {
				return err
			}
			prefix := fmt.Sprintf("bench-%d-%d-%d", time.Now().UnixNano(), r, i)
			res, err := measureNode(url, func() error { return c.run(url, prefix, msgs) })
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if n, err := countDocs(url, prefix+"-*"); err != nil || n != docs {
				return fmt.Errorf("%s: the node holds %d documents of %d (%v)", c.name, n, docs, err)
			}
			if err := deleteIndices(url, prefix+"-*"); err != nil {
				return err
			}
			results[i] = append(results[i], res)
		}
	}
	fmt.Fprintf(out, "### OpenSearch %s: %d documents, 500 a request, one request at a time, into a real node on the same machine\n\n", version, docs)
	fmt.Fprintln(out, "| writer | docs/s (median) | ratio to the sink | docs/s, every run | client CPU µs/doc | node CPU µs/doc |")
	fmt.Fprintln(out, "| --- | ---: | ---: | --- | ---: | ---: |")
	var sink float64
	for i, c := range contenders {
		res := results[i]
		every := make([]string, len(res))
		for j, r := range res {
			every[j] = fmt.Sprintf("%.0f", float64(docs)/r.took.Seconds())
		}
		slices.SortFunc(res, func(a, b osRun) int { return int(a.took - b.took) })
		med := res[len(res)/2]
		rate := float64(docs) / med.took.Seconds()
		if i == 0 {
			sink = rate
		}
		fmt.Fprintf(out, "| %s | %.0f | %.2f | %s | %.1f | %.1f |\n", c.name, rate, rate/sink, strings.Join(every, ", "),
			float64(med.clientCPU.Microseconds())/float64(docs), float64(med.nodeCPU.Microseconds())/float64(docs))
	}
	fmt.Fprintln(out)
	return nil
}

// waitQuiet waits until the node's background work (merges, refreshes, the deletion of the
// last run's indices) is done: until it uses less than a tenth of a core over half a second,
// or 30 s have passed.
func waitQuiet(url string) error {
	deadline := time.Now().Add(30 * time.Second)
	last, err := nodeCPU(url)
	if err != nil {
		return err
	}
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		now, err := nodeCPU(url)
		if err != nil {
			return err
		}
		if now-last < 50*time.Millisecond {
			return nil
		}
		last = now
	}
	return nil
}

// measureNode runs f and returns its wall time, this process's CPU time and the node's.
func measureNode(url string, f func() error) (osRun, error) {
	node0, err := nodeCPU(url)
	if err != nil {
		return osRun{}, err
	}
	self0 := selfCPU()
	start := time.Now()
	if err := f(); err != nil {
		return osRun{}, err
	}
	took := time.Since(start)
	self1 := selfCPU()
	node1, err := nodeCPU(url)
	if err != nil {
		return osRun{}, err
	}
	return osRun{took: took, clientCPU: self1 - self0, nodeCPU: node1 - node0}, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// nodeCPU is the CPU time the node's process has used, from its own statistics.
func nodeCPU(url string) (time.Duration, error) {
	var st struct {
		Nodes map[string]struct {
			Process struct {
				CPU struct {
					TotalInMillis int64 `json:"total_in_millis"`
				}
			}
		}
	}
	if err := getJSON(url+"/_nodes/_local/stats/process", &st); err != nil {
		return 0, err
	}
	for _, n := range st.Nodes {
		return time.Duration(n.Process.CPU.TotalInMillis) * time.Millisecond, nil
	}
	return 0, fmt.Errorf("no node in %s's statistics", url)
}

func nodeVersion(url string) (string, error) {
	var root struct {
		Version struct {
			Distribution, Number string
		}
	}
	if err := getJSON(url+"/", &root); err != nil {
		return "", err
	}
	if root.Version.Distribution != "opensearch" {
		return "", fmt.Errorf("%s runs %q %s, not OpenSearch", url, root.Version.Distribution, root.Version.Number)
	}
	return root.Version.Number, nil
}

func countDocs(url, index string) (int, error) {
	if err := postJSON(url+"/"+index+"/_refresh", nil); err != nil {
		return 0, err
	}
	var c struct{ Count int }
	err := getJSON(url+"/"+index+"/_count", &c)
	return c.Count, err
}

func deleteIndices(url, pattern string) error {
	var settings map[string]any
	if err := getJSON(url+"/"+pattern+"/_settings", &settings); err != nil {
		return err
	}
	names := make([]string, 0, len(settings))
	for name := range settings {
		names = append(names, name)
	}
	req, _ := http.NewRequest(http.MethodDelete, url+"/"+strings.Join(names, ","), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func postJSON(url string, out any) error {
	resp, err := http.Post(url, "application/json", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: status %d", url, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func qwatchSinkInto(url, prefix string, msgs []message.Message) error {
	s, err := elasticsearch.New(elasticsearch.Config{URLs: []string{url}, Index: prefix + "-{2006.01.02}"})
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	for batch := range slices.Chunk(msgs, bulkBatch) {
		if err := s.Write(context.Background(), batch); err != nil {
			return err
		}
	}
	if st := s.Stats(); st.Indexed != uint64(len(msgs)) {
		return fmt.Errorf("sink stats %+v", st)
	}
	return nil
}

func openSearchIndexer(url, prefix string, msgs []message.Message) error {
	client, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearch.Config{Addresses: []string{url}}})
	if err != nil {
		return err
	}
	bi, err := opensearchutil.NewBulkIndexer(opensearchutil.BulkIndexerConfig{Client: client, NumWorkers: 1,
		FlushBytes: flushBytes(msgs), FlushInterval: time.Minute})
	if err != nil {
		return err
	}
	for _, m := range msgs {
		err := bi.Add(context.Background(), opensearchutil.BulkIndexerItem{Action: "create",
			Index: prefix + "-" + m.Time.UTC().Format("2006.01.02"), DocumentID: m.ID, Body: bytes.NewReader(m.AppendJSON(nil))})
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
