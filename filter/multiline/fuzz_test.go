package multiline

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qnib/qwatch/message"
)

// FuzzStream feeds arbitrary lines, with timestamps and ticks drawn from seed, to a stream
// under small bounds and a small budget shared with another stream, and checks that every
// line comes out exactly once, in order, in events within the bounds, and that the positions
// handed back only grow.
func FuzzStream(f *testing.F) {
	for _, tr := range traces(f) {
		f.Add(strings.Join(tr.lines, "\n"), uint64(len(tr.lines)))
		f.Add("INFO a\n"+strings.Join(tr.lines, "\n")+"\n"+strings.Join(tr.lines, "\n")+"\nINFO b", uint64(7))
		f.Add(strings.Join(withoutEmpty(tr.lines), "\n"), uint64(3))
	}
	f.Add("a\n\tb\n  c\nd", uint64(2))
	f.Fuzz(func(t *testing.T, data string, seed uint64) {
		lines := strings.Split(data, "\n")
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		cfg := Config{MaxLines: 1 + rng.IntN(12), MaxBytes: 1 + rng.IntN(400)}
		rules := []Rule{Auto, Off, Start(regexp.MustCompile(`^\S`)), Continue(regexp.MustCompile(`^\s`))}
		rule := rules[rng.IntN(len(rules))]
		budget := NewBudget(int64(1 + rng.IntN(600)))
		clk := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

		var events []event
		s := NewStream(cfg, rule, budget, func(m message.Message, last int, partial bool) { events = append(events, event{m, last, partial}) })
		other := NewStream(cfg, rule, budget, func(message.Message, int, bool) {})
		stamp := time.Duration(0)
		for i, l := range lines {
			switch rng.IntN(10) {
			case 0:
				stamp += time.Duration(rng.IntN(2000)) * time.Millisecond
			case 1:
				stamp -= time.Duration(rng.IntN(500)) * time.Millisecond
			default:
				stamp += time.Duration(rng.IntN(3000)) * time.Microsecond
			}
			clk = clk.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
			if rng.IntN(4) == 0 {
				s.Tick(clk)
			}
			if rng.IntN(3) == 0 {
				other.Add(at(i, stamp, l), i)
			}
			s.Add(at(i, stamp, l), i)
		}
		s.Flush()
		other.Flush()

		next := 0
		for j, e := range events {
			if e.last < next || e.last >= len(lines) {
				t.Fatalf("event %d: last position %d after %d", j, e.last, next-1)
			}
			want := strings.Join(lines[next:e.last+1], "\n")
			if e.m.Text != want {
				t.Fatalf("event %d holds %q, want lines %d..%d %q", j, e.m.Text, next, e.last, want)
			}
			if e.m.ID != at(next, 0, "").ID {
				t.Fatalf("event %d has ID %s, want its first line's", j, e.m.ID)
			}
			n := e.last - next + 1
			if n > cfg.MaxLines || (n > 1 && len(e.m.Text) > cfg.MaxBytes) {
				t.Fatalf("event %d is over the bounds: %d lines, %d bytes; %+v", j, n, len(e.m.Text), cfg)
			}
			if n == 1 && e.m.Fields[FieldPart] == nil && len(e.m.Fields) != 1 {
				t.Fatalf("single line %d got fields %v", j, e.m.Fields)
			}
			next = e.last + 1
		}
		if next != len(lines) {
			t.Fatalf("after Flush, %d of %d lines emitted", next, len(lines))
		}
		if held := budget.Stats().Held; held != 0 {
			t.Fatalf("after Flush the budget holds %d bytes", held)
		}
	})
}
