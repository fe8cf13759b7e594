package rfc3339

import (
	"math/rand/v2"
	"testing"
	"time"
)

// AppendUTC writes what time.Format writes with the same layout, for times in every zone,
// years in and out of four digits, and every length of fraction.
func TestAppendUTCIsTimeFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	zone := time.FixedZone("x", -7*3600-30*60)
	times := []time.Time{{}, time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	for range 20000 {
		times = append(times, time.Unix(r.Int64N(400_000_000_000)-100_000_000_000, r.Int64N(1e9)).In(zone))
	}
	for _, at := range times {
		for digits, layout := range layouts {
			want := at.UTC().Format(layout)
			if got := string(AppendUTC([]byte("x"), at, digits)); got != "x"+want {
				t.Fatalf("AppendUTC(%v, %d) = %q, want %q", at, digits, got[1:], want)
			}
		}
	}
}
