// Package promtest holds what the tests of promstats and its subpackages share.
package promtest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Fixed stands in for a Hub, source or sink: its Stats method returns St.
type Fixed[S any] struct{ St S }

// Stats returns f.St.
func (f Fixed[S]) Stats() S { return f.St }

// Lint fails t for every problem the Prometheus linter finds in c's metrics (names, _total,
// units, help), and if c collects no metric at all.
func Lint(t *testing.T, c prometheus.Collector) {
	t.Helper()
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	if n := testutil.CollectAndCount(c); n == 0 {
		t.Error("no metrics")
	}
}
