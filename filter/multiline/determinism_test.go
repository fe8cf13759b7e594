package multiline

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/qnib/qwatch/message"
)

// TestReplayFormsTheSameGroups checks what exactly-once delivery after a restart rests on:
// a stream fed live, closed on idle by Tick as a timer calls it, emits the same events as
// the same lines replayed without any Tick from the first line of any of those events (where
// a checkpoint taken at the event before leaves off). The lines are stamped as an engine
// stamps them: a trace (as printed, or without its empty lines as Docker's GELF driver sends
// it) or a log record in a burst, microseconds apart; the gaps between
// writes anywhere from a millisecond to seconds; and they arrive up to 50 ms after their
// stamp, in order.
func TestReplayFormsTheSameGroups(t *testing.T) {
	trs := traces(t)
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var texts []string
		var stamps []time.Duration
		var stamp time.Duration
		pauses := []time.Duration{time.Millisecond, 5 * time.Millisecond, 30 * time.Millisecond,
			100 * time.Millisecond, 400 * time.Millisecond, time.Second, 3 * time.Second}
		for len(texts) < 400 {
			stamp += pauses[rng.IntN(len(pauses))]
			var burst []string
			switch rng.IntN(3) {
			case 0:
				burst = forms[rng.IntN(len(forms))].of(trs[rng.IntN(len(trs))].lines)
			default:
				i := rng.IntN(len(plain))
				burst = plain[i : i+1]
			}
			for _, l := range burst {
				texts = append(texts, l)
				stamps = append(stamps, stamp)
				stamp += time.Duration(rng.IntN(200)) * time.Microsecond
			}
		}
		cfg := Config{MaxLines: 10} // some traces are split: their parts must come again the same
		live, st := replay(cfg, texts, stamps, 0, rng)
		if st.IdleClosed == 0 || st.Continuations == 0 || st.GapClosed == 0 {
			t.Fatalf("seed %d: the live run had no idle close, split or gap: %+v", seed, st)
		}
		first := 0
		for j, e := range live {
			if e.partial {
				continue // a checkpoint stays before the group that goes on
			}
			again, _ := replay(cfg, texts, stamps, first, nil)
			from := j
			for from > 0 && live[from-1].partial {
				from--
			}
			if diff := cmp.Diff(live[from:], again, cmp.AllowUnexported(event{})); diff != "" {
				t.Fatalf("seed %d: replay from line %d (event %d, %q) differs (-live +replay):\n%s", seed, first, j, e.m.Text, diff)
			}
			first = e.last + 1
		}
	}
}

// replay feeds lines from first on to a new stream and returns what it emitted and its
// stats. With rng it feeds them live: each arrives up to 50 ms after its stamp, and Tick is
// called every Config.TickEvery, as a ticker would.
func replay(cfg Config, texts []string, stamps []time.Duration, first int, rng *rand.Rand) ([]event, Stats) {
	var out []event
	s := NewStream(cfg, Auto, nil, func(m message.Message, last int, partial bool) { out = append(out, event{m, last, partial}) })
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tick := start
	for i := first; i < len(texts); i++ {
		if rng != nil {
			arrive := start.Add(stamps[i] + time.Duration(rng.IntN(50))*time.Millisecond)
			for !tick.After(arrive) {
				s.Tick(tick)
				tick = tick.Add(cfg.TickEvery())
			}
		}
		s.Add(at(i, stamps[i], texts[i]), i)
	}
	s.Flush()
	return out, s.Stats()
}
