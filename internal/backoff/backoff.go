// Package backoff spaces out retries: each wait doubles, from a minimum up to a maximum, and is
// spread at random by a jitter fraction so that many clients that failed together do not
// retry together.
//
//	b := backoff.New(100*time.Millisecond, 5*time.Second, 0.2)
//	for {
//		if err := try(); err == nil {
//			break
//		}
//		if err := b.Wait(ctx); err != nil {
//			return err
//		}
//	}
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff hands out the waits between attempts. It is not safe for concurrent use: each
// retry loop has its own.
type Backoff struct {
	min, max time.Duration
	jitter   float64
	step     time.Duration // the wait Next spreads next, before jitter
}

// New returns a Backoff whose first wait is minWait and whose waits double up to maxWait,
// each spread uniformly over ±jitter of itself (0.2 gives 80% to 120%). A minWait below 1 ns
// counts as 1 ns, a maxWait below minWait as minWait, and a jitter outside 0..1 as the
// nearest end of that range.
func New(minWait, maxWait time.Duration, jitter float64) *Backoff {
	minWait = max(minWait, 1)
	b := &Backoff{min: minWait, max: max(maxWait, minWait), jitter: clamp(jitter)}
	b.Reset()
	return b
}

// Next returns the wait before the next attempt, and doubles the step for the one after, up
// to max.
func (b *Backoff) Next() time.Duration {
	d := b.step
	if b.step > b.max/2 {
		b.step = b.max // doubling would pass max, or overflow
	} else {
		b.step *= 2
	}
	if b.jitter == 0 {
		return d
	}
	return time.Duration(float64(d) * (1 - b.jitter + 2*b.jitter*rand.Float64()))
}

// Reset starts over from min: for use after an attempt succeeded.
func (b *Backoff) Reset() { b.step = b.min }

// Wait sleeps for Next. It returns ctx's error, at once, if ctx ends first.
func (b *Backoff) Wait(ctx context.Context) error { return Sleep(ctx, b.Next()) }

// Sleep waits for d, or until ctx is done, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func clamp(f float64) float64 {
	switch {
	case !(f > 0): // also NaN
		return 0
	case f > 1:
		return 1
	}
	return f
}
