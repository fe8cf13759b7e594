package dockerstats_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/filter/multiline"
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

// The logs source's grouping counters are exported, each under its own name.
func TestLogsMultiline(t *testing.T) {
	c := dockerstats.Logs(promtest.Fixed[dockerlogs.Stats]{St: dockerlogs.Stats{
		Multiline:            multiline.Stats{Groups: 1, Joined: 2, Continuations: 3, Overflows: 4, IdleClosed: 5, GapClosed: 6, Held: 7},
		MultilineLabelErrors: 8}})
	want := `
# HELP qwatch_docker_logs_multiline_continuations_total Parts after the first of multi-line events split at a bound.
# TYPE qwatch_docker_logs_multiline_continuations_total counter
qwatch_docker_logs_multiline_continuations_total 3
# HELP qwatch_docker_logs_multiline_gap_closed_total Times a gap between the lines' own time stamps closed what a stream held.
# TYPE qwatch_docker_logs_multiline_gap_closed_total counter
qwatch_docker_logs_multiline_gap_closed_total 6
# HELP qwatch_docker_logs_multiline_groups_total Messages that hold a multi-line event (a stack trace), or a part of one split at a bound.
# TYPE qwatch_docker_logs_multiline_groups_total counter
qwatch_docker_logs_multiline_groups_total 1
# HELP qwatch_docker_logs_multiline_held_bytes Bytes of the lines held now until it is known whether they begin or continue a multi-line event.
# TYPE qwatch_docker_logs_multiline_held_bytes gauge
qwatch_docker_logs_multiline_held_bytes 7
# HELP qwatch_docker_logs_multiline_idle_closed_total Times a stream let out what it held because no line followed for the idle time.
# TYPE qwatch_docker_logs_multiline_idle_closed_total counter
qwatch_docker_logs_multiline_idle_closed_total 5
# HELP qwatch_docker_logs_multiline_label_errors_total Containers whose qwatch.multiline or qwatch.multiline.start label is invalid; the default rule groups their lines.
# TYPE qwatch_docker_logs_multiline_label_errors_total counter
qwatch_docker_logs_multiline_label_errors_total 8
# HELP qwatch_docker_logs_multiline_joined_lines_total Lines in multi-line messages.
# TYPE qwatch_docker_logs_multiline_joined_lines_total counter
qwatch_docker_logs_multiline_joined_lines_total 2
# HELP qwatch_docker_logs_multiline_overflows_total Times a stream let out what it held because the bytes all streams hold were at their bound.
# TYPE qwatch_docker_logs_multiline_overflows_total counter
qwatch_docker_logs_multiline_overflows_total 4
`
	names := []string{"qwatch_docker_logs_multiline_continuations_total", "qwatch_docker_logs_multiline_gap_closed_total",
		"qwatch_docker_logs_multiline_groups_total", "qwatch_docker_logs_multiline_held_bytes",
		"qwatch_docker_logs_multiline_idle_closed_total", "qwatch_docker_logs_multiline_label_errors_total",
		"qwatch_docker_logs_multiline_joined_lines_total", "qwatch_docker_logs_multiline_overflows_total"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}
