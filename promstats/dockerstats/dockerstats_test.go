package dockerstats_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/promstats/dockerstats"
	"github.com/qnib/qwatch/promstats/internal/promtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Each source's metrics pass the linter and carry its own prefix, so that the events
// source's can never be taken for the logs source's.
func TestFollowConventions(t *testing.T) {
	for _, tt := range []struct {
		name, prefix string
		c            prometheus.Collector
	}{
		{"events", "qwatch_docker_events_", dockerstats.Events(promtest.Fixed[dockerevents.Stats]{})},
		{"logs", "qwatch_docker_logs_", dockerstats.Logs(promtest.Fixed[dockerlogs.Stats]{St: dockerlogs.Stats{Skipped: map[string]uint64{"label": 1}}})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			promtest.Lint(t, tt.c)
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(tt.c)
			families, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range families {
				if !strings.HasPrefix(mf.GetName(), tt.prefix) {
					t.Errorf("%s does not start with %s", mf.GetName(), tt.prefix)
				}
			}
		})
	}
}
