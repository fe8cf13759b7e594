package qwatch_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch"
)

func TestSinkStatsProblems(t *testing.T) {
	for _, tt := range []struct {
		name string
		st   qwatch.SinkStats
		want []string
	}{
		{"healthy", qwatch.SinkStats{Offered: 10, Written: 9, Failed: 1, Dropped: 0}, nil},
		{"failed and dropped are counted, not problems", qwatch.SinkStats{Failed: 5, Dropped: 5}, nil},
		{"a last error without retrying is history", qwatch.SinkStats{LastError: "503"}, nil},
		{"spool refuses", qwatch.SinkStats{SpoolError: "no space left on device"},
			[]string{"spool refuses messages: no space left on device"}},
		{"retrying", qwatch.SinkStats{Retrying: true, LastError: "connection refused"},
			[]string{"writes failing, retrying from the spool: connection refused"}},
		{"both", qwatch.SinkStats{SpoolError: "no space left on device", Retrying: true, LastError: "503"},
			[]string{"spool refuses messages: no space left on device", "writes failing, retrying from the spool: 503"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.st.Problems()); diff != "" {
				t.Errorf("Problems (-want +got):\n%s", diff)
			}
		})
	}
}
