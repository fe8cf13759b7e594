package multiline_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/message"
)

// The lines of one stream, as a source reads them: a Java service logs a request, then an
// exception with the line that introduces it (written together, as a logging library
// writes them), then goes on.
func Example() {
	t0 := time.Date(2026, 11, 29, 19, 38, 40, 0, time.UTC)
	lines := []string{
		"INFO request 16 served",
		"ERROR worker-3 failed to handle request 17",
		"java.lang.RuntimeException: request failed",
		"\tat Gen$Service.handle(Gen.java:24)",
		"\tat Gen.main(Gen.java:39)",
		"Caused by: java.lang.IllegalStateException: cannot load record x42",
		"\tat Gen$Repository.load(Gen.java:12)",
		"\t... 1 more",
		"INFO request 18 served",
	}
	stamps := []time.Duration{0, 40 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond,
		40 * time.Millisecond, 41 * time.Millisecond, 41 * time.Millisecond, 41 * time.Millisecond, 90 * time.Millisecond}

	// The position is the line's number here; a source uses its checkpoint.
	s := multiline.NewStream(multiline.Config{}, multiline.Auto, nil, func(m message.Message, last int, partial bool) {
		fmt.Printf("%s up to line %d, %v: %q\n", m.ID, last, m.Fields[multiline.FieldKind], m.Text)
	})
	for i, l := range lines {
		s.Add(message.Message{ID: fmt.Sprintf("id%d", i), Time: t0.Add(stamps[i]), Text: l}, i)
	}
	s.Flush() // the stream ended
	// Output:
	// id0 up to line 0, <nil>: "INFO request 16 served"
	// id1 up to line 7, java: "ERROR worker-3 failed to handle request 17\njava.lang.RuntimeException: request failed\n\tat Gen$Service.handle(Gen.java:24)\n\tat Gen.main(Gen.java:39)\nCaused by: java.lang.IllegalStateException: cannot load record x42\n\tat Gen$Repository.load(Gen.java:12)\n\t... 1 more"
	// id8 up to line 8, <nil>: "INFO request 18 served"
}

// A GELF source reads the lines of many containers through one socket: Groups keeps each
// container's stdout and stderr apart, with the rule each container's labels choose.
func ExampleGroups() {
	type stream struct {
		container string
		level     message.Level // stdout info, stderr err
	}
	labels := map[string]map[string]string{
		"api":    {"qwatch.multiline": "python"},
		"legacy": {"qwatch.multiline": "off"},
	}
	rule := func(k stream) multiline.Rule {
		r, err := multiline.RuleByName(labels[k.container]["qwatch.multiline"])
		if err != nil {
			return multiline.Auto
		}
		return r
	}
	out := map[string][]string{} // each stream's events come in order; different streams' interleave
	g := multiline.NewGroups(multiline.Config{}, rule, nil, func(k stream, m message.Message, _ struct{}, _ bool) {
		key := k.container + "/" + k.level.String()
		out[key] = append(out[key], fmt.Sprintf("%q", m.Text))
	})
	t0 := time.Date(2026, 11, 29, 19, 38, 40, 0, time.UTC)
	add := func(container string, level message.Level, text string) {
		g.Add(stream{container, level}, message.Message{Time: t0, Level: level, Text: text}, struct{}{})
	}
	add("api", message.LevelErr, "Traceback (most recent call last):")
	add("legacy", message.LevelErr, "Traceback (most recent call last):")
	add("api", message.LevelInfo, "INFO:app:still serving")
	add("api", message.LevelErr, `  File "/app/gen.py", line 12, in parse`)
	add("legacy", message.LevelErr, `  File "/app/old.py", line 3, in <module>`)
	add("api", message.LevelErr, "ValueError: invalid literal for int() with base 10: 'x42'")
	g.Tick(t0.Add(time.Second))     // the first Tick after lines starts their quiet time
	g.Tick(t0.Add(2 * time.Second)) // a second later, what waited goes out
	for _, key := range slices.Sorted(maps.Keys(out)) {
		fmt.Println(key, strings.Join(out[key], ", "))
	}
	fmt.Println(g.Stats().Groups, "group")
	// Output:
	// api/err "Traceback (most recent call last):\n  File \"/app/gen.py\", line 12, in parse\nValueError: invalid literal for int() with base 10: 'x42'"
	// api/info "INFO:app:still serving"
	// legacy/err "Traceback (most recent call last):", "  File \"/app/old.py\", line 3, in <module>"
	// 1 group
}

// Labels choose a container's rule: qwatch.multiline names a built-in one, and
// qwatch.multiline.start gives a pattern for the first lines of a custom one.
func ExampleRuleByName() {
	for _, name := range []string{"", "java,python", "cobol"} {
		r, err := multiline.RuleByName(name)
		fmt.Println(r, err)
	}
	r, err := multiline.ParseStart(`^\d{4}-\d{2}-\d{2} `)
	fmt.Println(r, err)
	_, err = multiline.ParseStart(`^(\d{4}`)
	fmt.Println(err)
	// Output:
	// auto <nil>
	// java,python <nil>
	// auto multiline: unknown rule "cobol": want auto, off, or some of java, python, go, node, dotnet, ruby, php separated by commas
	// start:^\d{4}-\d{2}-\d{2}  <nil>
	// multiline: start pattern "^(\\d{4}": error parsing regexp: missing closing ): `^(\d{4}`
}

// A group longer than the bounds goes on in continuations; nothing is dropped. A part that
// is not a group's last is partial: a source keeps its checkpoint before the group until
// the last part, so that a replay after a restart forms the same parts with the same IDs.
func ExampleConfig() {
	cfg := multiline.Config{MaxLines: 3}
	s := multiline.NewStream(cfg, multiline.Auto, nil, func(m message.Message, last int, partial bool) {
		fmt.Printf("part %v up to line %d, partial %v: %s\n", m.Fields[multiline.FieldPart], last, partial,
			strings.ReplaceAll(m.Text, "\n", " | "))
	})
	t0 := time.Date(2026, 11, 29, 19, 38, 40, 0, time.UTC)
	for i, l := range []string{
		"goroutine 7 [chan receive]:",
		"main.main.func1()",
		"\t/app/main.go:22 +0x33",
		"created by main.main in goroutine 1",
		"\t/app/main.go:22 +0x1c5",
	} {
		s.Add(message.Message{Time: t0, Text: l}, i)
	}
	s.Flush()
	fmt.Printf("%+v\n", s.Stats())
	// Output:
	// part 1 up to line 2, partial true: goroutine 7 [chan receive]: | main.main.func1() | 	/app/main.go:22 +0x33
	// part 2 up to line 4, partial false: created by main.main in goroutine 1 | 	/app/main.go:22 +0x1c5
	// {Groups:2 Joined:5 Continuations:1 Overflows:0 IdleClosed:0 GapClosed:0 Evicted:0 Held:0}
}
