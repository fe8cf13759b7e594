package main

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/qnib/qwatch"
)

func TestMetricsExposition(t *testing.T) {
	st := qwatch.Stats{
		Sources:   map[string]qwatch.SourceStats{"gelf": {Emitted: 7}},
		Sinks:     map[string]qwatch.SinkStats{"stdout": {Offered: 7, Written: 5, Failed: 1, Dropped: 1, Queued: 0}, `we"ird`: {}},
		Published: 2,
	}
	srv := httptest.NewServer(metricsHandler(func(e expo) { writeHubMetrics(e, st) }))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{
		"# TYPE qwatch_sink_written_total counter\n",
		`qwatch_source_emitted_total{source="gelf"} 7` + "\n",
		`qwatch_sink_offered_total{sink="stdout"} 7` + "\n",
		`qwatch_sink_written_total{sink="stdout"} 5` + "\n",
		`qwatch_sink_failed_total{sink="stdout"} 1` + "\n",
		`qwatch_sink_dropped_total{sink="stdout"} 1` + "\n",
		`qwatch_sink_queue_depth{sink="stdout"} 0` + "\n",
		`qwatch_sink_offered_total{sink="we\"ird"} 0` + "\n",
		"qwatch_published_total 2\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}
