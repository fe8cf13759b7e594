package filter

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzLogfmt checks that whatever the logfmt parser reads, written back as logfmt (every
// value quoted) reads back the same, and that it never panics.
func FuzzLogfmt(f *testing.F) {
	for _, s := range []string{
		`time=2026-11-29T19:37:57.525Z level=ERROR msg="request failed" err="dial tcp: \"café\" refused" status=502`,
		`t=2026-11-29T19:37:57+0000 lvl=eror msg="db down" id=7`, `event=login msg=m`, `a= b=""`,
		`a=b in prose`, `k="\x41\u00e9\n"`, `k="unterminated`, `k="a"b`, `=v`, `k=a=b`, "k=v\r",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c := &collector{lim: unbounded}
		if !c.parseLogfmt(line, 1) {
			return
		}
		var b strings.Builder
		if c.hasText {
			b.WriteString("msg=" + strconv.Quote(c.text) + " ")
		}
		if c.hasLevel {
			b.WriteString("level=" + c.level.String() + " ")
		}
		for _, f := range c.fields {
			b.WriteString(f.name + "=" + strconv.Quote(f.str) + " ")
		}
		again := &collector{lim: unbounded}
		if !again.parseLogfmt(b.String(), 1) {
			t.Fatalf("%q read from %q does not read back", b.String(), line)
		}
		type read struct {
			Text     string
			HasText  bool
			Level    string
			HasLevel bool
			Fields   map[string]any
		}
		summary := func(c *collector) read {
			r := read{c.text, c.hasText, c.level.String(), c.hasLevel, map[string]any{}}
			for _, f := range c.fields {
				r.Fields[f.name] = f.value()
			}
			return r
		}
		if diff := cmp.Diff(summary(c), summary(again)); diff != "" {
			t.Fatalf("%q, written back as %q, reads differently (-first +again):\n%s", line, b.String(), diff)
		}
	})
}
