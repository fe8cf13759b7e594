// Package benchcpu reports, next to a benchmark's wall-clock ns/op, the CPU time the whole
// process spent per op (user and system, every goroutine and the collector included). On a
// machine shared with other work the wall clock also counts the time a benchmark waited for
// a core; its CPU time does not, so ratios of it stay put when the machine is busy.
package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// Start begins measuring; the function it returns ends it and reports "cpu-ns/op" on b. Call
// it where b.StopTimer would go: after the work of b.N ops, before checks.
func Start(b *testing.B) (stop func()) {
	start := usage(b)
	return func() {
		b.ReportMetric(float64(usage(b)-start)/float64(b.N), "cpu-ns/op")
	}
}

// usage returns the CPU time the process has used.
func usage(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
