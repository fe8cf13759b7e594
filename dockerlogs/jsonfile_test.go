package dockerlogs

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecodeEntry checks the json-file line decoder against encoding/json: a line that
// encoding/json reads into the entry's fields, with time stamps as the engine writes them, is
// read the same (text, stream, time); a raw JSON string unescapes to the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	for _, s := range []string{
		`{"log":"hello\n","stream":"stdout","time":"2026-11-29T22:33:00.123456789Z"}`,
		`{"log":"caf\u00e9 \ud83d\ude00 \ud800 \"q\" \\ \/ \b\f\r\t\n","stream":"stderr","time":"2026-11-29T22:33:00Z"}`,
		`{"log":"x","stream":"stdout","attrs":{"tag":"a","n":"b"},"time":"2026-11-29T22:33:00.1Z"}`,
		"{\"log\":\"\xff\xfe bad utf-8\",\"stream\":\"stdout\",\"time\":\"2026-02-28T23:59:59.999999999Z\"}",
		`{"log":"","stream":"stdout","time":"2026-11-29T22:33:00.123+01:00"}`,
		`{"log":"\u0000","stream":"stdout","time":"2026-02-30T00:00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var want struct {
			Log    *string `json:"log"`
			Stream *string `json:"stream"`
			Time   *string `json:"time"`
		}
		var d entryDecoder
		got, err := d.decode(line)
		jerr := json.Unmarshal(line, &want)
		if bytes.ContainsAny(line, "LOGSTREAMIME") || bytes.Contains(line, []byte(`\u`)) && jerr == nil {
			// encoding/json matches keys in any case and unescapes them; the engine writes
			// its keys as they are.
			return
		}
		if err != nil {
			if jerr == nil && want.Log != nil && want.Stream != nil && want.Time != nil && validTime(*want.Time) && !bytes.Contains(line, []byte{'\\'}) {
				t.Fatalf("decode(%q) = %v; encoding/json reads it", line, err)
			}
			return
		}
		if jerr != nil || want.Time == nil {
			return // looser than encoding/json on what the engine never writes: skipped values
		}
		wantTime, terr := time.Parse(time.RFC3339Nano, *want.Time)
		if terr != nil || !wantTime.Equal(got.time) {
			t.Fatalf("decode(%q): time %v, encoding/json and time.Parse %v (%v)", line, got.time, wantTime, terr)
		}
		if want.Log != nil && string(got.log) != *want.Log {
			t.Fatalf("decode(%q): log %q, encoding/json %q", line, got.log, *want.Log)
		}
		if want.Stream != nil && got.stderr != (*want.Stream == "stderr") {
			t.Fatalf("decode(%q): stderr %v, encoding/json stream %q", line, got.stderr, *want.Stream)
		}
	})
}

func validTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// FuzzUnquote checks the unescaping of a JSON string against encoding/json's.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"plain"`, `"\u00e9\ud83d\ude00"`, `"\ud800x"`, `"\udc00\ud800"`, "\"\xff\xc3\"", `"a\"b"`, `"\q"`, "\"\x01\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) == 0 || raw[0] != '"' {
			return
		}
		var want string
		jerr := json.Unmarshal(raw, &want)
		p := jscan{b: raw, i: 1}
		var scratch []byte
		got, ok := p.str(&scratch)
		complete := ok && len(bytes.TrimRight(raw[p.i:], " \t\r\n")) == 0
		if (jerr == nil) != complete {
			t.Fatalf("str(%q): ok %v at %d of %d; encoding/json: %v", raw, ok, p.i, len(raw), jerr)
		}
		if jerr == nil && string(got) != want {
			t.Fatalf("str(%q) = %q, encoding/json %q", raw, got, want)
		}
	})
}

// The engine's own time stamps, with their trailing zeros cut, and others, parse as
// time.Parse reads them, or fail where it fails; also with a stampParser that parsed a stamp
// of the same second, or one that looks like it, just before.
func TestParseStamp(t *testing.T) {
	for _, s := range []string{"2026-11-29T22:33:00Z", "2026-11-29T22:33:00.1Z", "2026-11-29T22:33:00.123456789Z",
		"2026-11-29T22:33:00.12345678Z", "2024-02-29T00:00:00.5Z", "2026-11-29T23:33:00.5+01:00",
		"2026-02-30T00:00:00Z", "2026-11-29T22:33:00.Z", "2026-11-29T22:33:00.1234567890Z", "2026-11-29T24:00:00Z",
		"2026-11-29T22:33:00.12x4Z", "2026-11-29T22:33:00+00:00Z", "x"} {
		want, err := time.Parse(time.RFC3339Nano, s)
		got, ok := parseStamp([]byte(s))
		if ok != (err == nil) || !got.Equal(want) {
			t.Errorf("parseStamp(%q) = %v, %v; time.Parse %v, %v", s, got, ok, want, err)
		}
		for _, before := range []string{s[:min(len(s), 19)] + "Z", s[:min(len(s), 19)] + ".5Z", "2026-11-29T23:33:00.5Z"} {
			var p stampParser
			p.parse([]byte(before))
			got, ok := p.parse([]byte(s))
			if ok != (err == nil) || !got.Equal(want) || got != want {
				t.Errorf("after %q: parse(%q) = %v, %v; time.Parse %v, %v", before, s, got, ok, want, err)
			}
		}
	}
}

// A line decodes without allocating, escapes or not, once the scratch buffer has grown.
func TestDecodeAllocs(t *testing.T) {
	line := []byte(`{"log":"GET /api/v1/items/42 200 1.2ms \"ok\" caf\u00e9\n","stream":"stdout","time":"2026-11-29T22:33:00.123456789Z"}`)
	var d entryDecoder
	if n := testing.AllocsPerRun(100, func() {
		if _, err := d.decode(line); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations a line", n)
	}
}
