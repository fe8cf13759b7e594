package dockerevents_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/qwatchtest"
)

func texts3(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, "container start "+n+" (nginx:1.27)")
	}
	return out
}

// The live stream is not in time order; no event of it is dropped for its time.
func TestLiveOutOfOrderEventsAllEmitted(t *testing.T) {
	f := dockertest.NewFake(t)
	c := &qwatchtest.Collector{}
	src, _ := run(t, f, c, dockerevents.Config{})
	waitConnected(t, src)
	base := f.Clock()
	ms := int64(time.Millisecond)
	f.EventAt("start", web("third"), base+3*ms, true)
	f.EventAt("start", web("first"), base+1*ms, true)
	f.EventAt("start", web("second"), base+2*ms, true)
	got, gaps := split(waitN(t, c, 3))
	checkOnce(t, got, texts3("third", "first", "second"))
	if len(gaps) != 0 || src.Stats().Duplicates != 0 {
		t.Errorf("gaps %v, duplicates %d; want none", gaps, src.Stats().Duplicates)
	}
}

// After a break, the replay brings back an event stamped before the newest one seen that the
// broken stream never delivered; it is emitted, and the replayed ones already seen are not.
func TestReplayRecoversEventMissedAtBreak(t *testing.T) {
	f := dockertest.NewFake(t)
	c := &qwatchtest.Collector{}
	src, _ := run(t, f, c, dockerevents.Config{})
	waitConnected(t, src)
	base := f.Clock()
	ms := int64(time.Millisecond)
	f.EventAt("start", web("a"), base+1*ms, true)
	f.EventAt("start", web("b"), base+3*ms, true)
	waitN(t, c, 2)
	f.CutStreams()
	f.EventAt("start", web("missed"), base+2*ms, false) // stamped before b, published after the break
	f.EventAt("start", web("d"), base+4*ms, false)
	got, gaps := split(waitN(t, c, 4))
	checkOnce(t, got, texts3("a", "b", "missed", "d"))
	if len(gaps) != 0 {
		t.Errorf("gaps reported: %v", gaps)
	}
	if d := src.Stats().Duplicates; d != 2 {
		t.Errorf("Duplicates = %d, want 2 (a and b replayed)", d)
	}
}

// With a state file, a new Source resumes where the last one stopped: the events in between
// are emitted once, none twice; beyond the engine's replay buffer a gap is reported.
func TestStateFileResumesAfterRestart(t *testing.T) {
	for _, tt := range []struct {
		name    string
		between int
		wantGap bool
	}{{"within the replay buffer", 5, false}, {"beyond it", 300, true}} {
		t.Run(tt.name, func(t *testing.T) {
			f := dockertest.NewFake(t)
			state := filepath.Join(t.TempDir(), "events.json")
			c1 := &qwatchtest.Collector{}
			src1, stop1 := run(t, f, c1, dockerevents.Config{StateFile: state})
			waitConnected(t, src1)
			for _, n := range []string{"a", "b", "c"} {
				f.Event("start", web(n))
			}
			waitN(t, c1, 3)
			stop1()
			if _, err := os.Stat(state); err != nil {
				t.Fatalf("no state file after Run returned: %v", err)
			}
			for i := range tt.between {
				f.Event("start", web("down-"+string(rune('A'+i%26))))
			}
			c2 := &qwatchtest.Collector{}
			src2, _ := run(t, f, c2, dockerevents.Config{StateFile: state})
			waitConnected(t, src2)
			f.Event("start", web("after"))
			want := min(tt.between, 256) + 1
			if tt.wantGap {
				want++ // the gap message
			}
			got, gaps := split(waitN(t, c2, want))
			if len(got) != min(tt.between, 256)+1 || got[len(got)-1] != texts3("after")[0] {
				t.Errorf("got %d events (last %q), want %d ending with after", len(got), got[len(got)-1], min(tt.between, 256)+1)
			}
			if (len(gaps) > 0) != tt.wantGap {
				t.Errorf("gaps = %v, want a gap: %v", gaps, tt.wantGap)
			}
			for _, g := range gaps {
				if g.Event.Attributes["from"] == "" || g.Event.Attributes["to"] == "" {
					t.Errorf("gap without its window: %v", g.Event.Attributes)
				}
			}
		})
	}
}

// A state file that cannot be read is reported as a gap of unknown start, and counted.
func TestCorruptStateFileReportsGap(t *testing.T) {
	f := dockertest.NewFake(t)
	state := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &qwatchtest.Collector{}
	src, _ := run(t, f, c, dockerevents.Config{StateFile: state})
	_, gaps := split(waitN(t, c, 1))
	if len(gaps) != 1 || gaps[0].Event.Attributes["from"] != "unknown" {
		t.Errorf("gaps = %v, want one from an unknown start", gaps)
	}
	if st := src.Stats(); st.StateErrors != 1 {
		t.Errorf("StateErrors = %d, want 1", st.StateErrors)
	}
}

// A saved position that holds no event (none came while the first Source ran) leaves the
// engine nothing to replay that would prove the seam: that is no gap, and none is reported.
// The event that comes after the restart is emitted, and later than the seam timeout, so a
// gap wrongly reported at the timeout would come before it.
func TestRestartWithNothingSeenReportsNoGap(t *testing.T) {
	const seam = 100 * time.Millisecond
	f := dockertest.NewFake(t)
	state := filepath.Join(t.TempDir(), "events.json")
	src1, stop1 := run(t, f, &qwatchtest.Collector{}, dockerevents.Config{StateFile: state, SeamTimeout: seam})
	waitConnected(t, src1)
	stop1()
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("no state file after Run returned: %v", err)
	}
	c2 := &qwatchtest.Collector{}
	src2, stop2 := run(t, f, c2, dockerevents.Config{StateFile: state, SeamTimeout: seam})
	waitConnected(t, src2)
	for past := time.Now().Add(3 * seam); time.Now().Before(past); {
		time.Sleep(seam / 10)
	}
	f.Event("start", web("after"))
	got, gaps := split(waitN(t, c2, 1))
	stop2()
	if len(gaps) != 0 || len(got) != 1 || src2.Stats().Gaps != 0 {
		t.Errorf("events %v, gaps %v, stats %+v; want the event alone", got, gaps, src2.Stats())
	}
}
