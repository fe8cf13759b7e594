package multiline

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// plain are ordinary lines, as services write them, that must never be grouped.
var plain = []string{
	"2026-11-29T19:38:40.123Z INFO http: request served method=GET path=/api/v1/items status=200",
	"INFO server started on :8080",
	`{"level":"info","msg":"listening","port":8080}`,
	"",
	"level=warn msg=\"disk almost full\" free_mb=512",
	"Error: this is only a line that looks like a header",
}

// scene is lines with their timestamps, and the texts of the events they should become.
type scene struct {
	lines  []string
	stamps []time.Duration
	want   []string
}

// add appends lines, stamped step apart starting after the last line by gap, each its own event.
func (s *scene) alone(gap, step time.Duration, lines ...string) {
	for i, l := range lines {
		s.add(gap, step, i, l)
		s.want = append(s.want, l)
	}
}

// group appends lines, stamped step apart starting after the last line by gap, as one event.
func (s *scene) group(gap, step time.Duration, lines ...string) {
	for i, l := range lines {
		s.add(gap, step, i, l)
	}
	s.want = append(s.want, strings.Join(lines, "\n"))
}

func (s *scene) add(gap, step time.Duration, i int, l string) {
	var t time.Duration
	if n := len(s.stamps); n > 0 {
		t = s.stamps[n-1] + step
		if i == 0 {
			t = s.stamps[n-1] + gap
		}
	}
	s.lines = append(s.lines, l)
	s.stamps = append(s.stamps, t)
}

// forms are the ways a trace reaches the stream: as the runtime printed it, and as Docker's
// GELF driver sends it, which skips every empty line.
var forms = []struct {
	name string
	of   func([]string) []string
}{
	{"as printed", func(lines []string) []string { return lines }},
	{"as Docker's GELF driver sends it", withoutEmpty},
}

// withoutEmpty returns lines without the empty ones.
func withoutEmpty(lines []string) []string {
	var out []string
	for _, l := range lines {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestRecordedTraces checks that each trace a real runtime printed becomes exactly one
// event whose text is the trace, with ordinary lines around it alone, both as printed and
// with its empty lines removed; ordinary lines are written apart from it (30 ms: more than
// Config.Intro, less than Config.Gap), so only the rules keep them out.
func TestRecordedTraces(t *testing.T) {
	const apart, burst = 30 * time.Millisecond, 50 * time.Microsecond
	for _, form := range forms {
		for _, tr := range traces(t) {
			t.Run(form.name+"/"+tr.name, func(t *testing.T) {
				around, lines := form.of(plain), form.of(tr.lines)
				var s scene
				s.alone(apart, apart, around...)
				s.group(apart, burst, lines...)
				s.alone(apart, apart, around...)
				r := feedAt(t, Config{}, Auto, s.lines, s.stamps)
				if diff := cmp.Diff(s.want, r.texts()); diff != "" {
					t.Fatalf("events (-want +got):\n%s", diff)
				}
				for i, e := range r.events {
					switch {
					case i == len(around):
						if e.m.Fields[FieldKind] != tr.kind || e.m.ID != at(len(around), 0, "").ID || e.last != len(around)+len(lines)-1 {
							t.Errorf("group: fields %v, ID %s, last %d; want kind %s, the first line's ID and the last line's position",
								e.m.Fields, e.m.ID, e.last, tr.kind)
						}
					case len(e.m.Fields) != 1:
						t.Errorf("plain line %q got fields %v", e.m.Text, e.m.Fields)
					}
				}
			})
		}
	}
}

// TestRecordedTracesInARow checks that two traces written one right after the other stay two
// events, as printed and with their empty lines removed, and that the line before an
// uncaught exception's report is not taken into it even when written right before.
func TestRecordedTracesInARow(t *testing.T) {
	const burst = 50 * time.Microsecond
	for _, form := range forms {
		for _, tr := range traces(t) {
			t.Run(form.name+"/"+tr.name, func(t *testing.T) {
				next := burst
				if tr.kind == "ruby" {
					// Ruby prints an exception's cause exactly as it prints an exception: only
					// the time a new process takes to start tells a second trace from a cause.
					next = time.Second
				}
				lines := form.of(tr.lines)
				var s scene
				s.group(burst, burst, lines...)
				s.group(next, burst, lines...)
				if !introduced(tr) {
					s.alone(burst, burst, "INFO about to fail")
					s.group(burst, burst, lines...)
				}
				r := feedAt(t, Config{}, Auto, s.lines, s.stamps)
				if diff := cmp.Diff(s.want, r.texts()); diff != "" {
					t.Fatalf("events (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestRecordedTracesPairs checks, for every two recorded traces, as printed and with their
// empty lines removed, that the second written right after the first stays an event of its
// own, and that a plain line written between them (apart, as in TestRecordedTraces) stays
// alone: the end of one runtime's trace never runs into another's beginning.
func TestRecordedTracesPairs(t *testing.T) {
	const apart, burst = 30 * time.Millisecond, 50 * time.Microsecond
	trs := traces(t)
	for _, form := range forms {
		t.Run(form.name, func(t *testing.T) {
			for _, a := range trs {
				for _, b := range trs {
					next := burst
					if a.kind == "ruby" && b.kind == "ruby" {
						next = time.Second // see TestRecordedTracesInARow
					}
					var s scene
					s.group(burst, burst, form.of(a.lines)...)
					s.group(next, burst, form.of(b.lines)...)
					s.alone(apart, apart, "INFO between")
					s.group(apart, burst, form.of(a.lines)...)
					r := feedAt(t, Config{}, Auto, s.lines, s.stamps)
					if diff := cmp.Diff(s.want, r.texts()); diff != "" {
						t.Errorf("%s, then %s: events (-want +got):\n%s", a.name, b.name, diff)
					}
				}
			}
		})
	}
}

// introduced reports whether a trace's first line can be the line that introduces it: a
// line a logging library writes, not the runtime's own report of an uncaught exception.
func introduced(tr trace) bool {
	cl := classify(tr.lines[0])
	return cl&cUncaught == 0 && cl&cNodePath == 0 && !strings.HasPrefix(tr.lines[0], "panic: ") &&
		heads(cl) == 0 || strings.HasPrefix(tr.lines[0], "Traceback") || strings.HasPrefix(tr.lines[0], "  + Exception Group")
}
