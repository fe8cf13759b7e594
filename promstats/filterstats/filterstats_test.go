package filterstats_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch/filter"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/promstats/filterstats"
	"github.com/qnib/qwatch/promstats/internal/promtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFollowsConventions(t *testing.T) {
	promtest.Lint(t, filterstats.Stage(promtest.Fixed[filter.Stats]{}))
}

// A real stage: what it parsed and the levels it read show up as metrics.
func TestRealStage(t *testing.T) {
	stage := filter.New(filter.Config{})
	for _, text := range []string{
		`{"level":"warn","msg":"disk almost full","disk":{"free_mb":512}}`,
		`time=2026-11-29T18:00:00Z level=error msg="no route"`,
		`{"broken":`,
		`INFO:root:started`,
		`plain words`,
	} {
		m := message.Message{Kind: message.KindLog, Level: message.LevelErr, Text: text}
		stage.Process(&m)
	}
	want := `
# HELP qwatch_filter_json_total Lines parsed as JSON objects into fields.
# TYPE qwatch_filter_json_total counter
qwatch_filter_json_total 1
# HELP qwatch_filter_logfmt_total Lines parsed as logfmt into fields.
# TYPE qwatch_filter_logfmt_total counter
qwatch_filter_logfmt_total 1
# HELP qwatch_filter_parse_failures_total Lines that looked structured, or had to be, left unchanged.
# TYPE qwatch_filter_parse_failures_total counter
qwatch_filter_parse_failures_total 1
`
	names := []string{"qwatch_filter_json_total", "qwatch_filter_logfmt_total", "qwatch_filter_parse_failures_total"}
	if err := testutil.CollectAndCompare(filterstats.Stage(stage), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	c := filterstats.Stage(stage)
	if n := testutil.CollectAndCount(c, "qwatch_filter_levels_total"); n != int(message.LevelDebug)+1 {
		t.Errorf("qwatch_filter_levels_total has %d samples, want one per level", n)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP qwatch_filter_levels_total Levels read from the lines, by level.
# TYPE qwatch_filter_levels_total counter
qwatch_filter_levels_total{level="alert"} 0
qwatch_filter_levels_total{level="crit"} 0
qwatch_filter_levels_total{level="debug"} 0
qwatch_filter_levels_total{level="emerg"} 0
qwatch_filter_levels_total{level="err"} 1
qwatch_filter_levels_total{level="info"} 1
qwatch_filter_levels_total{level="notice"} 0
qwatch_filter_levels_total{level="warning"} 1
`), "qwatch_filter_levels_total"); err != nil {
		t.Error(err)
	}
}
