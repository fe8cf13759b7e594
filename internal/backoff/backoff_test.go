package backoff

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStepsDoubleUpToMax(t *testing.T) {
	for _, tt := range []struct {
		name     string
		min, max time.Duration
		want     []time.Duration
	}{
		{"doubles then holds", 100 * time.Millisecond, time.Second,
			[]time.Duration{100e6, 200e6, 400e6, 800e6, 1e9, 1e9}},
		{"max below min is min", time.Second, time.Millisecond, []time.Duration{1e9, 1e9}},
		{"zero min is 1ns", 0, 4, []time.Duration{1, 2, 4, 4}},
		{"no overflow near the largest duration", math.MaxInt64 / 2, math.MaxInt64,
			[]time.Duration{math.MaxInt64 / 2, math.MaxInt64 - 1, math.MaxInt64, math.MaxInt64}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := New(tt.min, tt.max, 0)
			var got []time.Duration
			for range tt.want {
				got = append(got, b.Next())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			b.Reset()
			if d := b.Next(); d != tt.want[0] {
				t.Errorf("after Reset: %v, want %v", d, tt.want[0])
			}
		})
	}
}

func TestJitterSpreadsWithinTheFraction(t *testing.T) {
	for _, tt := range []struct {
		name   string
		jitter float64
		lo, hi time.Duration // of a 1 s step
	}{
		{"20%", 0.2, 800 * time.Millisecond, 1200 * time.Millisecond},
		{"50%", 0.5, 500 * time.Millisecond, 1500 * time.Millisecond},
		{"above 1 is 1", 7, 0, 2 * time.Second},
		{"negative is none", -0.3, time.Second, time.Second},
		{"NaN is none", math.NaN(), time.Second, time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := New(time.Second, time.Second, tt.jitter)
			seen := map[time.Duration]bool{}
			for range 1000 {
				d := b.Next()
				if d < tt.lo || d > tt.hi {
					t.Fatalf("wait %v outside %v..%v", d, tt.lo, tt.hi)
				}
				seen[d] = true
			}
			if spread := tt.hi > tt.lo; spread != (len(seen) > 1) {
				t.Errorf("%d distinct waits in 1000; want spread %v", len(seen), spread)
			}
		})
	}
}

func TestWaitEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := New(time.Hour, time.Hour, 0)
	if err := b.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a cancelled context = %v, want context.Canceled", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep = %v, want nil once the time has passed", err)
	}
}
