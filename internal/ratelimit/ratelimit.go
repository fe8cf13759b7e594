// Package ratelimit lets a repeated report through at most once a second, so that a flood
// of drops, failures or rejections is logged without flooding the log.
package ratelimit

import (
	"sync/atomic"
	"time"
)

// Limiter allows one event a second. The zero value is ready; it is safe for concurrent use.
type Limiter struct{ last atomic.Int64 }

// Allow reports whether an event may go through now.
func (r *Limiter) Allow() bool {
	now := time.Now().UnixNano()
	last := r.last.Load()
	return now-last >= int64(time.Second) && r.last.CompareAndSwap(last, now)
}
