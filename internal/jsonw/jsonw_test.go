package jsonw_test

import (
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/qnib/qwatch/internal/jsonw"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAppendString(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"plain", "Hello World", `"Hello World"`},
		{"empty", "", `""`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"short escapes", "\n\r\t", `"\n\r\t"`},
		{"control characters", "\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"invalid UTF-8", "a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"line separators", "\u2028\u2029", `"\u2028\u2029"`},
		{"unicode kept", "ünïcödé ✓", `"ünïcödé ✓"`},
		{"escape after a plain word", "abcdefgh\x01", `"abcdefgh\u0001"`},
		{"escape in the second word", strings.Repeat("x", 12) + `"`, `"` + strings.Repeat("x", 12) + `\""`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := string(jsonw.AppendString([]byte("prefix:"), tt.in))
			if got != "prefix:"+tt.want {
				t.Errorf("AppendString(%q) = %s, want %s", tt.in, got[len("prefix:"):], tt.want)
			}
		})
	}
}

// FuzzAppendString checks that any string, valid UTF-8 or not, makes valid JSON that reads
// back as encoding/json would read its own encoding of it.
func FuzzAppendString(f *testing.F) {
	f.Add("Hello World")
	f.Add("\x00\"\\\u2028</script>\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) {
		data := jsonw.AppendString(nil, s)
		if !json.Valid(data) {
			t.Fatalf("invalid JSON for %q: %s", s, data)
		}
		var got string
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		// encoding/json's own encoding reads back with each invalid byte replaced too.
		std, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var want string
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%q reads back as %q, want %q", s, got, want)
		}
	})
}
