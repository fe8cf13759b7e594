package multiline

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/qnib/qwatch/message"
)

// javaTrace is a trace as a JVM prints it, from testdata/traces/java-printstacktrace.txt.
func javaTrace(t testing.TB) []string {
	for _, tr := range traces(t) {
		if tr.name == "java-printstacktrace" {
			return tr.lines
		}
	}
	t.Fatal("no java-printstacktrace trace")
	return nil
}

// TestRules checks what becomes one event, line by line: each case is lines stamped 1 ms
// apart (a burst, as one write) and the events they must become.
func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		rule  Rule
		lines []string
		want  []string // events, their lines joined by "|"
	}{
		{"plain lines stay alone", Auto,
			[]string{"INFO a", "INFO b", "", "INFO c"},
			[]string{"INFO a", "INFO b", "", "INFO c"}},
		{"a header without its trace is a plain line", Auto,
			[]string{"INFO a", "java.lang.IllegalStateException: boom", "INFO b"},
			[]string{"INFO a", "java.lang.IllegalStateException: boom", "INFO b"}},
		{"only the line right before a header introduces it", Auto,
			[]string{"INFO a", "ERROR failed", "java.lang.IllegalStateException: boom", "\tat A.b(A.java:1)", "INFO b"},
			[]string{"INFO a", "ERROR failed|java.lang.IllegalStateException: boom|\tat A.b(A.java:1)", "INFO b"}},
		{"a blank line introduces nothing", Auto,
			[]string{"", "java.lang.IllegalStateException: boom", "\tat A.b(A.java:1)"},
			[]string{"", "java.lang.IllegalStateException: boom|\tat A.b(A.java:1)"}},
		{"a JSON record introduces nothing", Auto,
			[]string{`{"msg":"x"}`, "java.lang.IllegalStateException: boom", "\tat A.b(A.java:1)"},
			[]string{`{"msg":"x"}`, "java.lang.IllegalStateException: boom|\tat A.b(A.java:1)"}},
		{"the end of a trace introduces nothing", Auto,
			[]string{"java.lang.A: x", "\tat A.b(A.java:1)", "java.lang.B: y", "\tat B.c(B.java:2)"},
			[]string{"java.lang.A: x|\tat A.b(A.java:1)", "java.lang.B: y|\tat B.c(B.java:2)"}},
		{"a header introduces a header that its trace follows", Auto,
			[]string{"Error: request failed", "java.lang.B: y", "\tat B.c(B.java:2)"},
			[]string{"Error: request failed|java.lang.B: y|\tat B.c(B.java:2)"}},
		{"frames without their header are one trace", Auto,
			[]string{"INFO a", "\tat A.b(A.java:1)", "\tat A.c(A.java:2)", "Caused by: java.lang.B: y", "\t... 2 more", "INFO b"},
			[]string{"INFO a", "\tat A.b(A.java:1)|\tat A.c(A.java:2)|Caused by: java.lang.B: y|\t... 2 more", "INFO b"}},
		{"logback's omitted frames and a wrapping cause", Auto,
			[]string{"com.example.AppException: x", "\tat A.b(A.java:1)", "\t... 12 common frames omitted", "Wrapped by: com.example.Outer: y", "\tat C.d(C.java:3)", "INFO a"},
			[]string{"com.example.AppException: x|\tat A.b(A.java:1)|\t... 12 common frames omitted|Wrapped by: com.example.Outer: y|\tat C.d(C.java:3)", "INFO a"}},
		{"lines that end in CRLF", Auto,
			[]string{"ERROR failed\r", "java.lang.A: x\r", "\tat A.b(A.java:1)\r", "\r", "INFO a\r"},
			[]string{"ERROR failed\r|java.lang.A: x\r|\tat A.b(A.java:1)\r", "\r", "INFO a\r"}},
		{"a multi-line message waits for the first frame", Auto,
			[]string{"java.lang.IllegalArgumentException: bad:", "  port: x", "\tat A.b(A.java:1)"},
			[]string{"java.lang.IllegalArgumentException: bad:|  port: x|\tat A.b(A.java:1)"}},
		{"a multi-line message is only held so long", Auto,
			append(append([]string{"java.lang.IllegalArgumentException: bad:"}, strings.Split(strings.Repeat("more,", maxTentative), ",")[:maxTentative]...), "\tat A.b(A.java:1)"),
			append(append([]string{"java.lang.IllegalArgumentException: bad:"}, strings.Split(strings.Repeat("more,", maxTentative), ",")[:maxTentative]...), "\tat A.b(A.java:1)")},
		{"python: a blank line after the exception is not the trace's", Auto,
			[]string{"Traceback (most recent call last):", `  File "a.py", line 1, in <module>`, "ValueError: x", "", "INFO a"},
			[]string{"Traceback (most recent call last):|  File \"a.py\", line 1, in <module>|ValueError: x", "", "INFO a"}},
		{"python: a traceback header alone", Auto,
			[]string{"Traceback (most recent call last):", "INFO a"},
			[]string{"Traceback (most recent call last):", "INFO a"}},
		{"python: a line at the start after the frames that is no exception", Auto,
			[]string{"Traceback (most recent call last):", `  File "a.py", line 1, in <module>`, "INFO a b", "INFO c"},
			[]string{"Traceback (most recent call last):|  File \"a.py\", line 1, in <module>", "INFO a b", "INFO c"}},
		{"go: a panic line without goroutines is a plain line", Auto,
			[]string{"panic: x", "", "INFO a"},
			[]string{"panic: x", "", "INFO a"}},
		{"go: log.Panic's line introduces its panic, another line does not", Auto,
			[]string{"2026/11/29 19:38:42 boom", "panic: boom", "", "goroutine 1 [running]:", "main.main()", "INFO a", "panic: boom", "", "goroutine 1 [running]:"},
			[]string{"2026/11/29 19:38:42 boom|panic: boom||goroutine 1 [running]:|main.main()", "INFO a", "panic: boom||goroutine 1 [running]:"}},
		{"go: a blank line after the goroutines is not the trace's", Auto,
			[]string{"panic: x", "", "goroutine 1 [running]:", "main.main()", "\t/a.go:1 +0x1", "", "INFO a"},
			[]string{"panic: x||goroutine 1 [running]:|main.main()|\t/a.go:1 +0x1", "", "INFO a"}},
		{"java.util.logging's record head introduces its exception", Auto,
			[]string{"Nov 29, 2026 7:38:40 PM com.example.Main main", "SEVERE: failed", "java.lang.A: x", "\tat A.b(A.java:1)", "", "INFO a"},
			[]string{"Nov 29, 2026 7:38:40 PM com.example.Main main|SEVERE: failed|java.lang.A: x|\tat A.b(A.java:1)|", "INFO a"}},
		{"java.util.logging's record without an exception", Auto,
			[]string{"Nov 29, 2026 7:38:40 PM com.example.Main main", "SEVERE: failed", "Nov 29, 2026 7:38:41 PM com.example.Main main", "INFO: ok"},
			[]string{"Nov 29, 2026 7:38:40 PM com.example.Main main", "SEVERE: failed", "Nov 29, 2026 7:38:41 PM com.example.Main main", "INFO: ok"}},
		{"node: a broken preamble", Auto,
			[]string{"/app/x.js:3", "  throw err;", "INFO a"},
			[]string{"/app/x.js:3", "  throw err;", "INFO a"}},
		{"node: a line before the uncaught-exception preamble is not taken", Auto,
			[]string{"INFO a", "/app/x.js:3", "  throw err;", "  ^", "", "Error: x", "    at f (/app/x.js:3:9)", "", "Node.js v20.20.2", "INFO b"},
			[]string{"INFO a", "/app/x.js:3|  throw err;|  ^||Error: x|    at f (/app/x.js:3:9)||Node.js v20.20.2", "INFO b"}},
		{"node: the trailer joins right after the frames, with its blank line or without", Auto,
			[]string{"Error: x", "    at f (/app/x.js:3:9)", "Node.js v20.20.2", "Error: y", "    at g (/app/x.js:4:9)", "", "Node.js v20.20.2"},
			[]string{"Error: x|    at f (/app/x.js:3:9)|Node.js v20.20.2", "Error: y|    at g (/app/x.js:4:9)||Node.js v20.20.2"}},
		{"node: the trailer joins right after the error's properties, with its blank line or without", Auto,
			[]string{"Error: x", "    at f (/app/x.js:3:9) {", "  code: 'E'", "}", "Node.js v20.20.2", "INFO a"},
			[]string{"Error: x|    at f (/app/x.js:3:9) {|  code: 'E'|}|Node.js v20.20.2", "INFO a"}},
		{"node: the trailer after a plain line stays alone", Auto,
			[]string{"INFO a", "Node.js v20.20.2", "Node.js v20.20.2"},
			[]string{"INFO a", "Node.js v20.20.2", "Node.js v20.20.2"}},
		{"node: the trailer after a Java trace stays alone", Auto,
			[]string{"java.lang.A: x", "\tat A.b(A.java:1)", "Node.js v20.20.2"},
			[]string{"java.lang.A: x|\tat A.b(A.java:1)", "Node.js v20.20.2"}},
		{"node: the trailer after a Python traceback stays alone", Auto,
			[]string{"Traceback (most recent call last):", `  File "a.py", line 1, in <module>`, "ValueError: x", "Node.js v20.20.2"},
			[]string{"Traceback (most recent call last):|  File \"a.py\", line 1, in <module>|ValueError: x", "Node.js v20.20.2"}},
		{"node: the trailer after a line after the frames stays alone", Auto,
			[]string{"Error: x", "    at f (/app/x.js:3:9)", "INFO b", "Node.js v20.20.2"},
			[]string{"Error: x|    at f (/app/x.js:3:9)", "INFO b", "Node.js v20.20.2"}},
		{"node: a second trailer stays alone", Auto,
			[]string{"Error: x", "    at f (/app/x.js:3:9)", "Node.js v20.20.2", "Node.js v20.20.2"},
			[]string{"Error: x|    at f (/app/x.js:3:9)|Node.js v20.20.2", "Node.js v20.20.2"}},
		{"node: the uncaught-exception preamble without the blank line after its caret", Auto,
			[]string{"INFO a", "/app/x.js:3", "  throw err;", "  ^", "Error: x", "    at f (/app/x.js:3:9)", "Node.js v20.20.2", "INFO b"},
			[]string{"INFO a", "/app/x.js:3|  throw err;|  ^|Error: x|    at f (/app/x.js:3:9)|Node.js v20.20.2", "INFO b"}},
		{"node: a preamble without the blank line, and no error after it", Auto,
			[]string{"/app/x.js:3", "  throw err;", "  ^", "INFO a", "INFO b"},
			[]string{"/app/x.js:3", "  throw err;", "  ^", "INFO a", "INFO b"}},
		{"node: two uncaught errors in a row, blank lines removed", Auto,
			[]string{"/app/x.js:3", "  throw err;", "  ^", "Error: x", "    at f (/app/x.js:3:9)", "Node.js v20.20.2",
				"/app/x.js:3", "  throw err;", "  ^", "Error: x", "    at f (/app/x.js:3:9)", "Node.js v20.20.2"},
			[]string{"/app/x.js:3|  throw err;|  ^|Error: x|    at f (/app/x.js:3:9)|Node.js v20.20.2",
				"/app/x.js:3|  throw err;|  ^|Error: x|    at f (/app/x.js:3:9)|Node.js v20.20.2"}},
		{"python: a chained traceback without its blank lines", Auto,
			[]string{"Traceback (most recent call last):", `  File "a.py", line 1, in <module>`, "ValueError: x",
				"During handling of the above exception, another exception occurred:",
				"Traceback (most recent call last):", `  File "a.py", line 3, in <module>`, "KeyError: 'y'", "INFO a"},
			[]string{"Traceback (most recent call last):|  File \"a.py\", line 1, in <module>|ValueError: x|" +
				"During handling of the above exception, another exception occurred:|" +
				"Traceback (most recent call last):|  File \"a.py\", line 3, in <module>|KeyError: 'y'", "INFO a"}},
		{"python: a traceback right after another, no chain sentence, is another", Auto,
			[]string{"Traceback (most recent call last):", `  File "a.py", line 1, in <module>`, "ValueError: x",
				"Traceback (most recent call last):", `  File "b.py", line 1, in <module>`, "KeyError: 'y'",
				"", "Traceback (most recent call last):", `  File "c.py", line 1, in <module>`, "OSError: z"},
			[]string{"Traceback (most recent call last):|  File \"a.py\", line 1, in <module>|ValueError: x",
				"Traceback (most recent call last):|  File \"b.py\", line 1, in <module>|KeyError: 'y'",
				"", "Traceback (most recent call last):|  File \"c.py\", line 1, in <module>|OSError: z"}},
		{"python: a chain sentence without the traceback it announces", Auto,
			[]string{"Traceback (most recent call last):", `  File "a.py", line 1, in <module>`, "ValueError: x",
				"The above exception was the direct cause of the following exception:", "INFO a"},
			[]string{"Traceback (most recent call last):|  File \"a.py\", line 1, in <module>|ValueError: x|" +
				"The above exception was the direct cause of the following exception:", "INFO a"}},
		{"python: exception groups chained without blank lines", Auto,
			[]string{"  + Exception Group Traceback (most recent call last):", `  |   File "a.py", line 1, in <module>`,
				"  | ExceptionGroup: g (1 sub-exception)", "  +-+---------------- 1 ----------------", "    | ValueError: x",
				"    +------------------------------------",
				"During handling of the above exception, another exception occurred:",
				"  + Exception Group Traceback (most recent call last):", `  |   File "a.py", line 3, in <module>`,
				"  | ExceptionGroup: h (1 sub-exception)", "INFO a"},
			[]string{"  + Exception Group Traceback (most recent call last):|  |   File \"a.py\", line 1, in <module>|" +
				"  | ExceptionGroup: g (1 sub-exception)|  +-+---------------- 1 ----------------|    | ValueError: x|" +
				"    +------------------------------------|" +
				"During handling of the above exception, another exception occurred:|" +
				"  + Exception Group Traceback (most recent call last):|  |   File \"a.py\", line 3, in <module>|" +
				"  | ExceptionGroup: h (1 sub-exception)", "INFO a"}},
		// No .NET runtime could be had to record a trace: these lines follow the format
		// the runtime documents for an unhandled exception with an inner one.
		{"dotnet: an unhandled exception with an inner one", Auto,
			[]string{
				"Unhandled exception. System.InvalidOperationException: cannot load config",
				" ---> System.FormatException: The input string 'x42' was not in a correct format.",
				"   at System.Number.ThrowFormatException[TChar](ReadOnlySpan`1 value)",
				"   at Program.Load(String text) in /app/Program.cs:line 12",
				"   --- End of inner exception stack trace ---",
				"   at Program.Load(String text) in /app/Program.cs:line 16",
				"   at Program.Main() in /app/Program.cs:line 5",
				"INFO a"},
			[]string{"Unhandled exception. System.InvalidOperationException: cannot load config|" +
				" ---> System.FormatException: The input string 'x42' was not in a correct format.|" +
				"   at System.Number.ThrowFormatException[TChar](ReadOnlySpan`1 value)|" +
				"   at Program.Load(String text) in /app/Program.cs:line 12|" +
				"   --- End of inner exception stack trace ---|" +
				"   at Program.Load(String text) in /app/Program.cs:line 16|" +
				"   at Program.Main() in /app/Program.cs:line 5", "INFO a"}},
		{"off groups nothing", Off,
			[]string{"ERROR failed", "java.lang.A: x", "\tat A.b(A.java:1)"},
			[]string{"ERROR failed", "java.lang.A: x", "\tat A.b(A.java:1)"}},
		{"a rule for one runtime leaves the others' traces alone", mustRule(t, "java"),
			[]string{"Traceback (most recent call last):", `  File "a.py", line 1, in <module>`, "ValueError: x", "", "java.lang.A: x", "\tat A.b(A.java:1)"},
			[]string{"Traceback (most recent call last):", `  File "a.py", line 1, in <module>`, "ValueError: x", "", "java.lang.A: x|\tat A.b(A.java:1)"}},
		{"start: the lines after a first line continue it", Start(regexp.MustCompile(`^\d{4}-`)),
			[]string{"  before any", "2026-11-29 a", "  b", "c", "2026-11-29 d", "2026-11-29 e", "f"},
			[]string{"  before any", "2026-11-29 a|  b|c", "2026-11-29 d", "2026-11-29 e|f"}},
		{"continue: the lines it matches continue the group", Continue(regexp.MustCompile(`^\s`)),
			[]string{"  first", "a", "  b", "  c", "d", "e", "  f"},
			[]string{"  first", "a|  b|  c", "d", "e|  f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := feed(t, Config{}, tt.rule, tt.lines)
			var got []string
			for _, e := range r.events {
				got = append(got, strings.ReplaceAll(e.m.Text, "\n", "|"))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func mustRule(t *testing.T, name string) Rule {
	t.Helper()
	r, err := RuleByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSingleLineUnchanged checks that a line that is no group's comes out as it went in, and
// that a group's event is its first line's message with the joined text and a copy of its
// fields.
func TestSingleLineUnchanged(t *testing.T) {
	r := &recorder{}
	s := NewStream(Config{}, Auto, nil, r.emit)
	in := []message.Message{at(0, 0, "INFO a"), at(1, time.Millisecond, "ERROR b"),
		at(2, 50*time.Millisecond, "java.lang.A: x"), at(3, 51*time.Millisecond, "\tat A.b(A.java:1)")}
	for i, m := range in {
		s.Add(m, i)
	}
	s.Flush()
	group := in[2]
	group.Text = "java.lang.A: x\n\tat A.b(A.java:1)"
	group.Fields = map[string]any{"stream": "stderr", FieldKind: "java"}
	want := []event{{in[0], 0, false}, {in[1], 1, false}, {group, 3, false}}
	if diff := cmp.Diff(want, r.events, cmp.AllowUnexported(event{})); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if len(in[2].Fields) != 1 {
		t.Errorf("the caller's fields were changed: %v", in[2].Fields)
	}
}

// TestGap checks that a gap in the lines' own timestamps closes what is open, whatever the
// rules would say, and that a line written apart from a header does not introduce it.
func TestGap(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		lines  []string
		stamps []time.Duration
		want   []string
	}{
		{"a trace that pauses longer than the gap is two events",
			[]string{"java.lang.A: x", "\tat A.b(A.java:1)", "\tat A.c(A.java:2)", "\tat A.d(A.java:3)"},
			[]time.Duration{0, ms, 300 * ms, 301 * ms},
			[]string{"java.lang.A: x|\tat A.b(A.java:1)", "\tat A.c(A.java:2)|\tat A.d(A.java:3)"}},
		{"a gap backwards closes too",
			[]string{"java.lang.A: x", "\tat A.b(A.java:1)", "\tat A.c(A.java:2)"},
			[]time.Duration{time.Second, time.Second + ms, 0},
			[]string{"java.lang.A: x|\tat A.b(A.java:1)", "\tat A.c(A.java:2)"}},
		{"a line further than Intro before a header does not introduce it",
			[]string{"ERROR failed", "java.lang.A: x", "\tat A.b(A.java:1)"},
			[]time.Duration{0, 30 * ms, 31 * ms},
			[]string{"ERROR failed", "java.lang.A: x|\tat A.b(A.java:1)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := feedAt(t, Config{}, Auto, tt.lines, tt.stamps)
			var got []string
			for _, e := range r.events {
				got = append(got, strings.ReplaceAll(e.m.Text, "\n", "|"))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIdle checks that Tick emits what a stream holds only once a Tick found no new line
// and Config.Idle has passed since.
func TestIdle(t *testing.T) {
	r := &recorder{}
	s := NewStream(Config{Idle: time.Second}, Auto, nil, r.emit)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Tick(t0) // an empty stream: nothing to do
	lines := javaTrace(t)
	for i, l := range lines {
		s.Add(at(i, time.Duration(i)*time.Microsecond, l), i)
	}
	s.Tick(t0.Add(time.Hour)) // the first Tick after the lines: the quiet time starts
	s.Tick(t0.Add(time.Hour + time.Second - time.Nanosecond))
	if len(r.events) != 0 {
		t.Fatalf("Tick before Idle passed emitted %q", r.texts())
	}
	s.Tick(t0.Add(time.Hour + time.Second))
	if want := []string{strings.Join(lines, "\n")}; !cmp.Equal(want, r.texts()) {
		t.Fatalf("after Idle: %q, want %q", r.texts(), want)
	}
	if st := s.Stats(); st.IdleClosed != 1 || st.Groups != 1 || st.Joined != uint64(len(lines)) || st.Held != 0 {
		t.Errorf("stats %+v", st)
	}
	if got := (Config{}).TickEvery(); got != DefaultIdle/4 {
		t.Errorf("TickEvery() = %v", got)
	}
}

// TestBounds checks that a group longer than MaxLines or MaxBytes goes on in continuations,
// each marked with its part, with nothing lost, and counted.
func TestBounds(t *testing.T) {
	lines := javaTrace(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"lines", Config{MaxLines: 5}},
		{"bytes", Config{MaxBytes: 150}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := feed(t, tt.cfg, Auto, append(append([]string{}, lines...), "INFO after"))
			var joined []string
			for i, e := range r.events[:len(r.events)-1] {
				joined = append(joined, e.m.Text)
				n := strings.Count(e.m.Text, "\n") + 1
				if (tt.cfg.MaxLines > 0 && n > tt.cfg.MaxLines) || (tt.cfg.MaxBytes > 0 && n > 1 && len(e.m.Text) > tt.cfg.MaxBytes) {
					t.Errorf("part %d is over the bound: %d lines, %d bytes", i+1, n, len(e.m.Text))
				}
				if e.m.Fields[FieldKind] != "java" || e.m.Fields[FieldPart] != float64(i+1) {
					t.Errorf("part %d has fields %v", i+1, e.m.Fields)
				}
				if lastPart := i == len(r.events)-2; e.partial == lastPart {
					t.Errorf("part %d: partial %v; only the last part of a group is not", i+1, e.partial)
				}
			}
			if got, want := strings.Join(joined, "\n"), strings.Join(lines, "\n"); got != want {
				t.Errorf("parts joined:\n%s\nwant:\n%s", got, want)
			}
			if last := r.events[len(r.events)-1].m; last.Text != "INFO after" || len(last.Fields) != 1 {
				t.Errorf("the line after: %+v", last)
			}
			st := r.stats
			if parts := uint64(len(r.events) - 1); parts < 2 || st.Continuations != parts-1 || st.Groups != parts {
				t.Errorf("%d parts, stats %+v", parts, st)
			}
		})
	}
}

// TestBudget checks that streams sharing a Budget split their groups when it is spent,
// with nothing lost, and give back what they held.
func TestBudget(t *testing.T) {
	lines := javaTrace(t)
	b := NewBudget(400)
	ra, rb := &recorder{}, &recorder{}
	a := NewStream(Config{}, Auto, b, ra.emit)
	other := NewStream(Config{}, Auto, b, rb.emit)
	other.Add(at(0, 0, strings.Repeat("x", 300)), 0) // held: it may introduce a trace
	for i, l := range lines {
		a.Add(at(i, time.Duration(i)*time.Microsecond, l), i)
	}
	if held := b.Stats().Held; held > 400+int64(maxTentative*len("\tat java.base/java.lang.NumberFormatException.forInputString(NumberFormatException.java:67)")) {
		t.Errorf("held %d bytes with a budget of 400", held)
	}
	a.Flush()
	other.Flush()
	var joined []string
	for _, e := range ra.events {
		joined = append(joined, e.m.Text)
	}
	if got, want := strings.Join(joined, "\n"), strings.Join(lines, "\n"); got != want {
		t.Errorf("parts joined:\n%s\nwant:\n%s", got, want)
	}
	st := b.Stats()
	if st.Overflows == 0 || len(ra.events) < 2 || st.Held != 0 {
		t.Errorf("%d events, stats %+v", len(ra.events), st)
	}
	if len(rb.events) != 1 {
		t.Errorf("the other stream emitted %d events", len(rb.events))
	}
}

// TestDiscard checks that Discard forgets what a stream holds, emits nothing, and gives the
// bytes back.
func TestDiscard(t *testing.T) {
	r := &recorder{}
	b := NewBudget(0)
	s := NewStream(Config{}, Auto, b, r.emit)
	lines := javaTrace(t)
	for i, l := range lines {
		s.Add(at(i, time.Duration(i)*time.Microsecond, l), i)
	}
	if b.Stats().Held == 0 {
		t.Fatal("nothing held before Discard")
	}
	s.Discard()
	if len(r.events) != 0 || b.Stats().Held != 0 {
		t.Fatalf("after Discard: events %q, held %d", r.texts(), b.Stats().Held)
	}
	s.Add(at(0, time.Second, "\tat A.b(A.java:1)"), 0) // judged afresh: the trace it continued is gone
	s.Add(at(1, time.Second, "INFO a"), 1)
	s.Flush()
	if want := []string{"\tat A.b(A.java:1)", "INFO a"}; !cmp.Equal(want, r.texts()) {
		t.Errorf("after Discard: %q, want %q", r.texts(), want)
	}
}

func TestRuleByName(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"", "auto", false},
		{"auto", "auto", false},
		{" Off ", "off", false},
		{"java", "java", false},
		{"kotlin", "java", false},
		{"python,go", "python,go", false},
		{"JavaScript, .NET", "node,dotnet", false},
		{"java,python,go,node,dotnet,ruby,php", "auto", false},
		{"cobol", "", true},
		{"java,", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := RuleByName(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("RuleByName(%q) error %v", tt.in, err)
			}
			if err == nil && r.String() != tt.want {
				t.Errorf("RuleByName(%q) = %s, want %s", tt.in, r, tt.want)
			}
		})
	}
	if _, err := RuleByName("cobol"); err == nil || !strings.Contains(err.Error(), "java, python, go") {
		t.Errorf("the error does not list the names: %v", err)
	}
}

func TestParsePatterns(t *testing.T) {
	if r, err := ParseStart(`^\d{4}-`); err != nil || r.String() != `start:^\d{4}-` {
		t.Errorf("ParseStart = %v, %v", r, err)
	}
	if r, err := ParseContinue(`^\s`); err != nil || r.String() != `continue:^\s` {
		t.Errorf("ParseContinue = %v, %v", r, err)
	}
	for _, expr := range []string{"", "(unclosed"} {
		if _, err := ParseStart(expr); err == nil || !strings.Contains(err.Error(), "start pattern") {
			t.Errorf("ParseStart(%q) error %v", expr, err)
		}
		if _, err := ParseContinue(expr); err == nil || !strings.Contains(err.Error(), "continue pattern") {
			t.Errorf("ParseContinue(%q) error %v", expr, err)
		}
	}
}
