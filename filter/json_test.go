package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// unbounded has bounds no test line reaches, so that what the scanner reads can be compared
// with encoding/json whole.
var unbounded = limits{fields: 1 << 30, depth: 1 << 30, value: 1 << 30, total: 1 << 30}

// scan parses line with c's bounds and returns the fields by name, or ok false.
func scan(lim limits, line string) (c *collector, fields map[string]any, ok bool) {
	c = &collector{lim: lim}
	if !c.parseJSON(line) {
		return c, nil, false
	}
	fields = map[string]any{}
	for i := range c.fields {
		fields[c.fields[i].name] = c.fields[i].value()
	}
	return c, fields, true
}

// flatten is the reference: the fields a line's object must give, from encoding/json's map.
// Arrays stay []any (the scanner's text of them is decoded to compare); it reports false when
// two paths give one name, which makes the result depend on key order.
func flatten(prefix string, m map[string]any, out map[string]any) bool {
	ok := true
	for k, v := range m {
		name := prefix + k
		switch v := v.(type) {
		case nil:
			continue
		case map[string]any:
			ok = flatten(name+".", v, out) && ok
			continue
		}
		if _, dup := out[name]; dup {
			ok = false
		}
		out[name] = v
	}
	return ok
}

// hasDuplicateKeys reports whether any object in the valid JSON text s names a key twice.
func hasDuplicateKeys(s string) bool {
	d := json.NewDecoder(strings.NewReader(s))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string in an object is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if k, isString := tok.(string); isString && top != nil && top.object && top.key {
			if top.keys[k] {
				return true
			}
			top.keys[k] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

// specialTop reports whether the object has a top-level key the collector takes as the
// message or the level rather than as a field.
func specialTop(m map[string]any) bool {
	for k := range m {
		if isMessageKey(k) || isLevelKey(k) || isEventKey(k) {
			return true
		}
	}
	return false
}

// FuzzJSON checks the scanner against encoding/json: whatever encoding/json accepts as an
// object, the scanner reads to the same names and values; whatever it rejects, the scanner
// rejects too.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{"time":"2026-11-29T19:37:57.52532059Z","level":"WARN","msg":"disk almost full","disk":{"free_mb":512,"path":"/var/lib/data"}}`,
		`{"a":[1,{"b":null},"x\u00e9"],"c":{"d":{}},"e":true,"f":false,"g":null,"h":-0.5e-3}`,
		`{"s":"\ud83d\ude00 \ud800 \udc00x \u0000 \/ \b\f\n\r\t","k\"ey":1}`,
		"{\"bad\":\"\xff\xfe\"}",
		`{"a":1e400}`, `{"a":[1e400]}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		`{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":1}x`, " \t{\"a\":\n1}\r\n", `{"a":NaN}`, `{"a":tru}`,
		`[]`, `null`, `"x"`, `{}`, `{"a":{"b":{"c":{"d":{"e":[[]]}}}}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var ref map[string]any
		refErr := json.Unmarshal([]byte(line), &ref)
		c, got, ok := scan(unbounded, line)
		if refErr != nil || ref == nil {
			if ok {
				t.Fatalf("scanner accepted %q, which encoding/json rejects (%v)", line, refErr)
			}
			return
		}
		if !ok {
			t.Fatalf("scanner rejected %q, which encoding/json reads as %v", line, ref)
		}
		if c.cut != 0 {
			t.Fatalf("unbounded scan of %q cut %d", line, c.cut)
		}
		want := map[string]any{}
		if !flatten("", ref, want) || specialTop(ref) || hasDuplicateKeys(line) {
			return // which key wins depends on order; the map cannot tell
		}
		for name, v := range want {
			if _, isArray := v.([]any); isArray {
				var back any
				text, _ := got[name].(string)
				if err := json.Unmarshal([]byte(text), &back); err != nil {
					t.Fatalf("field %q of %q: JSON text %q does not read back: %v", name, line, text, err)
				}
				got[name] = back
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("fields of %q differ from encoding/json's (-want +got):\n%s", line, diff)
		}
	})
}

func TestParseNumber(t *testing.T) {
	for _, s := range []string{"0", "-0", "7", "-42", "512", "999999999999999", "-999999999999999",
		"9999999999999999", "12345678901234567890", "0.5", "-1.5e-3", "1e308", "1E2", "1e400", "-1e400", "1e-400"} {
		want, err := strconv.ParseFloat(s, 64)
		got, ok := parseNumber(s)
		if ok != (err == nil) || math.Float64bits(got) != math.Float64bits(want) && err == nil {
			t.Errorf("parseNumber(%q) = %v, %v; strconv says %v, %v", s, got, ok, want, err)
		}
	}
}

func TestJSONNestingLimit(t *testing.T) {
	for _, n := range []int{maxNesting - 1, maxNesting, maxNesting + 1} {
		for _, inner := range []string{"[", `{"k":`} {
			closer := map[string]string{"[": "]", `{"k":`: "}"}[inner]
			line := `{"a":` + strings.Repeat(inner, n-1) + "1" + strings.Repeat(closer, n-1) + "}"
			var ref map[string]any
			refErr := json.Unmarshal([]byte(line), &ref)
			for _, lim := range []limits{unbounded, {fields: 64, depth: 4, value: 1 << 30, total: 1 << 30}} {
				if _, _, ok := scan(lim, line); ok != (refErr == nil) {
					t.Errorf("nesting %d of %q, depth bound %d: scanner ok=%v, encoding/json error %v", n, inner, lim.depth, ok, refErr)
				}
			}
		}
	}
}

func TestJSONBounds(t *testing.T) {
	long := strings.Repeat("é", 10) // 20 bytes
	tests := []struct {
		name string
		lim  limits
		line string
		want map[string]any
		cut  int
	}{
		{"depth", limits{fields: 64, depth: 2, value: 100, total: 1000},
			`{"a":{"b":{"c":1}},"d":{"e":2},"f":[1, 2]}`,
			map[string]any{"a.b": `{"c":1}`, "d.e": 2.0, "f": "[1, 2]"}, 0},
		{"depth one", limits{fields: 64, depth: 1, value: 100, total: 1000},
			`{"a":{"b":1}}`, map[string]any{"a": `{"b":1}`}, 0},
		{"count", limits{fields: 2, depth: 4, value: 100, total: 1000},
			`{"a":1,"b":{"c":2,"d":3},"e":4}`, map[string]any{"a": 1.0, "b.c": 2.0}, 2},
		{"value cut at a rune", limits{fields: 64, depth: 4, value: 7, total: 1000},
			`{"a":"` + long + `","b":"short"}`, map[string]any{"a": "ééé", "b": "short"}, 1},
		{"total", limits{fields: 64, depth: 4, value: 100, total: 12},
			`{"a":"12345","bb":"123456","c":true}`, map[string]any{"a": "12345"}, 2},
		{"nested names count against the total", limits{fields: 64, depth: 4, value: 100, total: 10},
			`{"abcd":{"efgh":1}}`, map[string]any{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, got, ok := scan(tt.lim, tt.line)
			if !ok {
				t.Fatalf("rejected %q", tt.line)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if c.cut != tt.cut {
				t.Errorf("cut %d, want %d", c.cut, tt.cut)
			}
		})
	}
}

func TestSpecialMask(t *testing.T) {
	// specialMask must find the first byte that is a quote, a backslash or a control byte,
	// wherever it stands and whatever follows it, and nothing in plain text (high bytes
	// included).
	interesting := []byte{0, 0x1f, 0x20, '"', '\\', 'a', 0x7f, 0x80, 0xff}
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			for _, after := range interesting {
				w := bytes.Repeat([]byte{'a'}, 8)
				w[pos] = byte(c)
				for j := pos + 1; j < 8; j++ {
					w[j] = after
				}
				want := -1
				for j, b := range w {
					if b == '"' || b == '\\' || b < 0x20 {
						want = j
						break
					}
				}
				got := -1
				if m := specialMask(load64(string(w), 0)); m != 0 {
					got = bits.TrailingZeros64(m) / 8
				}
				if got != want {
					t.Fatalf("first special byte of %q at %d, want %d", w, got, want)
				}
			}
		}
	}
}
