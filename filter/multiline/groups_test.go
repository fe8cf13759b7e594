package multiline

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/qnib/qwatch/message"
)

// key is a test stream's key: a container and its stream, as a GELF source keys them.
type key struct {
	container string
	stderr    bool
}

type keyed struct {
	key  key
	text string
	last int
}

// TestGroupsKeepsStreamsApart checks that the lines of two streams that come interleaved
// through one reader are grouped each in its own stream, and that the rule is chosen by key.
func TestGroupsKeepsStreamsApart(t *testing.T) {
	lines := javaTrace(t)
	var got []keyed
	rules := map[key]Rule{{"b", true}: Off}
	g := NewGroups(Config{}, func(k key) Rule { return rules[k] }, nil, func(k key, m message.Message, last int, _ bool) {
		got = append(got, keyed{k, m.Text, last})
	})
	a, aOut, b := key{"a", true}, key{"a", false}, key{"b", true}
	for i, l := range lines {
		d := time.Duration(i) * time.Microsecond
		g.Add(a, at(i, d, l), i)
		g.Add(aOut, at(i, d, "INFO out "+l), i)
		g.Add(b, at(i, d, l), i)
	}
	g.Flush()
	var want []keyed
	want = append(want, keyed{a, strings.Join(lines, "\n"), len(lines) - 1})
	for i, l := range lines {
		want = append(want, keyed{aOut, "INFO out " + l, i})
		want = append(want, keyed{b, l, i})
	}
	sortKeyed := func(s []keyed) []keyed {
		out := append([]keyed{}, s...)
		order := map[key]int{a: 0, aOut: 1, b: 2}
		for i := 1; i < len(out); i++ { // stable insertion sort by key: keeps each stream's order
			for j := i; j > 0 && order[out[j].key] < order[out[j-1].key]; j-- {
				out[j], out[j-1] = out[j-1], out[j]
			}
		}
		return out
	}
	if diff := cmp.Diff(sortKeyed(want), sortKeyed(got), cmp.AllowUnexported(keyed{}, key{})); diff != "" {
		t.Errorf("events by stream (-want +got):\n%s", diff)
	}
	if g.Len() != 3 {
		t.Errorf("Len() = %d, want 3", g.Len())
	}
}

// TestGroupsForgets checks that Groups keeps at most MaxStreams streams, flushing the one
// quiet the longest when all hold something, and forgets quiet empty streams on Tick.
func TestGroupsForgets(t *testing.T) {
	var got []keyed
	g := NewGroups(Config{MaxStreams: 2}, nil, nil, func(k key, m message.Message, last int, _ bool) {
		got = append(got, keyed{k, m.Text, last})
	})
	for i, c := range []string{"a", "b", "c"} {
		g.Add(key{c, false}, at(i, 0, "INFO from "+c), i)
	}
	if want := []keyed{{key{"a", false}, "INFO from a", 0}}; !cmp.Equal(want, got, cmp.AllowUnexported(keyed{}, key{})) {
		t.Errorf("events when room was made: %v, want %v", got, want)
	}
	if st := g.Stats(); g.Len() != 2 || st.Evicted != 1 {
		t.Errorf("Len() = %d, stats %+v", g.Len(), st)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g.Tick(t0)
	g.Add(key{"c", false}, at(3, time.Millisecond, "INFO again from c"), 3) // lets c's first line go
	g.Tick(t0.Add(DefaultIdle))
	if len(got) != 3 || g.Len() != 2 {
		t.Errorf("after Idle: %d events, %d streams; want b's line out too", len(got), g.Len())
	}
	g.Tick(t0.Add(DefaultIdle + time.Millisecond)) // c's quiet time starts
	g.Tick(t0.Add(forgetAfter))
	if len(got) != 4 || g.Len() != 1 {
		t.Errorf("after a minute: %d events, %d streams; want b forgotten", len(got), g.Len())
	}
	g.Tick(t0.Add(forgetAfter + DefaultIdle + time.Millisecond))
	if g.Len() != 0 {
		t.Errorf("after a minute of c's quiet: %d streams", g.Len())
	}
}

// TestConcurrent runs Add, Tick and Deadline from several goroutines, for the race detector,
// and checks that each stream's lines come out whole and in order.
func TestConcurrent(t *testing.T) {
	lines := javaTrace(t)
	var mu sync.Mutex
	got := map[key][]string{}
	g := NewGroups(Config{}, nil, nil, func(k key, m message.Message, last int, _ bool) {
		mu.Lock()
		got[k] = append(got[k], m.Text)
		mu.Unlock()
	})
	var s *Stream[int]
	var sGot []string
	s = NewStream(Config{}, Auto, nil, func(m message.Message, _ int, _ bool) { sGot = append(sGot, m.Text) })
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				g.Tick(time.Now())
				s.Tick(time.Now())
			}
		}
	}()
	var adders sync.WaitGroup
	for w := range 3 {
		adders.Add(1)
		go func() {
			defer adders.Done()
			k := key{"c" + string(rune('0'+w)), w%2 == 0}
			for rep := range 20 {
				for i, l := range lines {
					g.Add(k, at(i, time.Duration(rep)*time.Second+time.Duration(i)*time.Microsecond, l), i)
					if w == 0 {
						s.Add(at(i, time.Duration(rep)*time.Second+time.Duration(i)*time.Microsecond, l), i)
					}
				}
			}
		}()
	}
	adders.Wait()
	close(stop)
	wg.Wait()
	g.Flush()
	s.Flush()
	all := strings.Repeat(strings.Join(lines, "\n")+"\n", 20)
	for k, texts := range got {
		if j := strings.Join(texts, "\n") + "\n"; j != all {
			t.Errorf("stream %v: lines lost or out of order", k)
		}
	}
	if j := strings.Join(sGot, "\n") + "\n"; j != all {
		t.Error("Stream: lines lost or out of order")
	}
}
