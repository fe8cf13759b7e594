package main

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// /metrics of the real binary: the library's collectors, and the Go and process metrics every
// Prometheus user expects, in the exposition format Prometheus parses.
func TestMetricsExposition(t *testing.T) {
	d := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "json", "-http", "127.0.0.1:0")
	conn, err := net.Dial("udp", d.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, `{"version":"1.1","host":"h","short_message":"counted"}`)
	d.waitMetric(`qwatch_sink_written_total{sink="stdout"}`, 1, 10*time.Second)

	resp, err := http.Get("http://" + d.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("not the Prometheus text format: %v", err)
	}
	value := func(name string, labels ...string) float64 {
		mf, ok := families[name]
		if !ok {
			t.Errorf("no %s", name)
			return -1
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels...) {
				switch mf.GetType() {
				case dto.MetricType_COUNTER:
					return m.GetCounter().GetValue()
				case dto.MetricType_GAUGE:
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Errorf("no %s%v", name, labels)
		return -1
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"qwatch_gelf_messages_total", nil, 1},
		{"qwatch_source_emitted_total", []string{"source", "gelf"}, 1},
		{"qwatch_sink_offered_total", []string{"sink", "stdout"}, 1},
		{"qwatch_sink_written_total", []string{"sink", "stdout"}, 1},
		{"qwatch_sink_dropped_total", []string{"sink", "stdout"}, 0},
		{"qwatch_gelf_kernel_drops_total", nil, 0},
	} {
		if got := value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "qwatch_gelf_rejected_total"} {
		if _, ok := families[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
}

// matches reports whether m has the label pairs given.
func matches(m *dto.Metric, pairs ...string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
