//go:build unix

package audit_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used. On a shared machine the
// wall clock of a benchmark counts the time other processes held the CPU;
// CPU time per operation does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
