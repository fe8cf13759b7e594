//go:build unix

package multiline

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used, user and system: on a machine shared
// with other work, benchmarks report it per operation beside the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
