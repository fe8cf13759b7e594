package promstats_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/promstats"
	"github.com/qnib/qwatch/promstats/internal/promtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The Hub's metrics pass the Prometheus linter (names, _total, units, help).
func TestHubFollowsConventions(t *testing.T) {
	promtest.Lint(t, promstats.Hub(promtest.Fixed[qwatch.Stats]{St: qwatch.Stats{
		Sources: map[string]qwatch.SourceStats{"gelf": {}}, Sinks: map[string]qwatch.SinkStats{"es": {}}}}))
}

// The values are the stats', with their labels.
func TestHubValues(t *testing.T) {
	c := promstats.Hub(promtest.Fixed[qwatch.Stats]{St: qwatch.Stats{
		Sources:   map[string]qwatch.SourceStats{"gelf": {Emitted: 7}},
		Sinks:     map[string]qwatch.SinkStats{"es": {Offered: 7, Written: 5, Failed: 1, Dropped: 1, SpooledBytes: 512, SpoolMaxBytes: 1024, SpoolError: "disk full", Retrying: true}},
		Published: 2,
	}})
	want := `
# HELP qwatch_sink_written_total Messages a sink wrote.
# TYPE qwatch_sink_written_total counter
qwatch_sink_written_total{sink="es"} 5
# HELP qwatch_sink_spool_bytes Bytes of a sink's spool files on disk.
# TYPE qwatch_sink_spool_bytes gauge
qwatch_sink_spool_bytes{sink="es"} 512
# HELP qwatch_sink_spool_max_bytes The bound on a sink's spool files; 0 without a spool.
# TYPE qwatch_sink_spool_max_bytes gauge
qwatch_sink_spool_max_bytes{sink="es"} 1024
# HELP qwatch_sink_spool_healthy Whether a sink's spool takes messages (0 on a disk error such as a full disk).
# TYPE qwatch_sink_spool_healthy gauge
qwatch_sink_spool_healthy{sink="es"} 0
# HELP qwatch_sink_retrying Whether a sink's writes fail and are being retried from its spool.
# TYPE qwatch_sink_retrying gauge
qwatch_sink_retrying{sink="es"} 1
# HELP qwatch_source_emitted_total Messages a source emitted.
# TYPE qwatch_source_emitted_total counter
qwatch_source_emitted_total{source="gelf"} 7
# HELP qwatch_published_total Messages the program published into the hub.
# TYPE qwatch_published_total counter
qwatch_published_total 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "qwatch_sink_written_total", "qwatch_sink_spool_bytes",
		"qwatch_sink_spool_max_bytes", "qwatch_sink_spool_healthy", "qwatch_sink_retrying", "qwatch_source_emitted_total", "qwatch_published_total"); err != nil {
		t.Error(err)
	}
}

// A program links only the clients of what it collects the metrics of: promstats for the Hub
// alone links neither the Docker nor the Elasticsearch client, and each collector package
// only its own.
func TestLinksOnlyWhatItUses(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to list dependencies with: %v", err)
	}
	const docker, olivere, gelf = "github.com/docker/docker/", "github.com/olivere/", "github.com/qnib/qwatch/gelf"
	for _, tt := range []struct {
		pkg     string
		without []string
	}{
		{"github.com/qnib/qwatch/promstats", []string{docker, olivere, gelf}},
		{"github.com/qnib/qwatch/promstats/gelfstats", []string{docker, olivere}},
		{"github.com/qnib/qwatch/promstats/dockerstats", []string{olivere, gelf}},
		{"github.com/qnib/qwatch/promstats/esstats", []string{docker, gelf}},
	} {
		t.Run(tt.pkg[strings.LastIndex(tt.pkg, "/")+1:], func(t *testing.T) {
			out, err := exec.Command(goTool, "list", "-deps", tt.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tt.pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 10 {
				t.Fatalf("go list -deps %s listed only %q", tt.pkg, deps)
			}
			for _, dep := range deps {
				for _, w := range tt.without {
					if strings.HasPrefix(dep, w) {
						t.Errorf("%s links %s", tt.pkg, dep)
					}
				}
			}
		})
	}
}
