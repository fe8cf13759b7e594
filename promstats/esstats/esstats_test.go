package esstats_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch/promstats/esstats"
	"github.com/qnib/qwatch/promstats/internal/promtest"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFollowsConventions(t *testing.T) {
	promtest.Lint(t, esstats.Sink(promtest.Fixed[elasticsearch.Stats]{}, "es"))
}

// The sink's metrics carry the name it was added to the Hub under.
func TestLabelledWithTheSinkName(t *testing.T) {
	c := esstats.Sink(promtest.Fixed[elasticsearch.Stats]{St: elasticsearch.Stats{Indexed: 3, Healthy: true}}, "logs")
	want := `
# HELP qwatch_elasticsearch_indexed_total Documents created.
# TYPE qwatch_elasticsearch_indexed_total counter
qwatch_elasticsearch_indexed_total{sink="logs"} 3
# HELP qwatch_elasticsearch_healthy Whether the last bulk request succeeded as a whole.
# TYPE qwatch_elasticsearch_healthy gauge
qwatch_elasticsearch_healthy{sink="logs"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "qwatch_elasticsearch_indexed_total", "qwatch_elasticsearch_healthy"); err != nil {
		t.Error(err)
	}
}
