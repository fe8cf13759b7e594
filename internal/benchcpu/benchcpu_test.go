package benchcpu

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Busy work shows up as CPU time: a benchmark that spins reports some per op.
func TestReportsTheCPUTimeSpent(t *testing.T) {
	r := testing.Benchmark(func(b *testing.B) {
		stop := Start(b)
		x := 0
		for i := range b.N * 1000 {
			x += i
		}
		stop()
		sink = x
	})
	if v := r.Extra["cpu-ns/op"]; v <= 0 {
		t.Errorf("cpu-ns/op = %v after a busy loop, want more than 0", v)
	}
}

var sink int
