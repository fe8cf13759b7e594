package check

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/promstats"
	"github.com/qnib/qwatch/promstats/dockerstats"
	"github.com/qnib/qwatch/promstats/esstats"
	"github.com/qnib/qwatch/promstats/gelfstats"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

type fixed[S any] struct{ st S }

func (f fixed[S]) Stats() S { return f.st }

// exposed is every metric name the collectors qwatchd registers expose.
func exposed(t *testing.T) map[string]bool {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		promstats.Hub(fixed[qwatch.Stats]{qwatch.Stats{Sources: map[string]qwatch.SourceStats{"s": {}}, Sinks: map[string]qwatch.SinkStats{"s": {}}}}),
		gelfstats.Source(fixed[gelf.Stats]{gelf.Stats{Rejected: map[gelf.Reason]uint64{gelf.ReasonJSON: 0}, Discarded: map[string]uint64{"x": 0}}}),
		dockerstats.Events(fixed[dockerevents.Stats]{}),
		dockerstats.Logs(fixed[dockerlogs.Stats]{dockerlogs.Stats{Skipped: map[string]uint64{"x": 0}}}),
		esstats.Sink(fixed[elasticsearch.Stats]{}, "s"),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range families {
		names[mf.GetName()] = true
	}
	return names
}

// metricNames returns the metric names an expression selects, after putting in values for
// Grafana's variables.
func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	expr = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$instance", ".*").Replace(expr)
	e, err := parser.ParseExpr(expr)
	if err != nil {
		t.Errorf("%q: %v", expr, err)
		return nil
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	if len(names) == 0 {
		t.Errorf("%q selects no metric", expr)
	}
	return names
}

func TestAlertRules(t *testing.T) {
	groups, errs := rulefmt.ParseFile("../alerts.yml", false, model.UTF8Validation)
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	known := exposed(t)
	alerts := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts++
			if r.Alert == "" || r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("rule %q needs a name, a summary and a severity", r.Alert)
			}
			for _, name := range metricNames(t, r.Expr) {
				if !known[name] {
					t.Errorf("alert %s uses %s, which nothing exposes", r.Alert, name)
				}
			}
		}
	}
	if alerts < 10 {
		t.Errorf("%d alerts", alerts)
	}
}

func TestDashboard(t *testing.T) {
	data, err := os.ReadFile("../dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title, UID string
		Panels     []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard %q (%q) with %d panels", dash.Title, dash.UID, len(dash.Panels))
	}
	known := exposed(t)
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, name := range metricNames(t, q.Expr) {
				used[name] = true
				if !known[name] {
					t.Errorf("panel %q uses %s, which nothing exposes", p.Title, name)
				}
			}
		}
	}
	// The metrics an operator looks at first are on the dashboard.
	for _, name := range []string{"qwatch_sink_dropped_total", "qwatch_sink_spool_bytes", "qwatch_gelf_rejected_total", "qwatch_gelf_kernel_drops_total"} {
		if !used[name] {
			t.Errorf("the dashboard does not show %s", name)
		}
	}
	if names := slices.Sorted(func(yield func(string) bool) {
		for n := range used {
			if !yield(n) {
				return
			}
		}
	}); len(names) < 10 {
		t.Errorf("the dashboard shows only %v", names)
	}
}
