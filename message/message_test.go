package message_test

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch/message"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLevelNamesAndNumbers(t *testing.T) {
	names := []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}
	for i, name := range names {
		l := message.Level(i)
		if got := l.String(); got != name {
			t.Errorf("Level(%d).String() = %q, want %q", i, got, name)
		}
		for _, in := range []string{name, strings.ToUpper(name), string(rune('0' + i))} {
			got, err := message.ParseLevel(in)
			if err != nil || got != l {
				t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, l)
			}
		}
	}
	aliases := map[string]message.Level{"error": message.LevelErr, "warn": message.LevelWarning,
		"critical": message.LevelCrit, "emergency": message.LevelEmerg, "informational": message.LevelInfo}
	for in, want := range aliases {
		if got, err := message.ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "8", "-1", "loud", "10"} {
		if _, err := message.ParseLevel(bad); err == nil {
			t.Errorf("ParseLevel(%q) succeeded, want an error", bad)
		}
	}
	if got := message.Level(9).String(); got != "level(9)" {
		t.Errorf("Level(9).String() = %q", got)
	}
	if _, err := message.Level(9).MarshalText(); err == nil {
		t.Error("Level(9).MarshalText succeeded, want an error")
	}
}

func sample() message.Message {
	return message.Message{
		ID:       "0123456789abcdefghijklmnop",
		Kind:     message.KindEvent,
		Time:     time.Date(2026, 11, 23, 22, 26, 45, 850_000_000, time.UTC),
		Source:   "docker",
		Host:     "vm",
		Level:    message.LevelWarning,
		Text:     "container die web-1 (nginx:1.27)",
		FullText: "exit code 137",
		Container: message.Container{
			ID: "1a7d", Name: "web-1", ImageID: "sha256:68e3", ImageName: "nginx:1.27",
			Command: "/hello", Tag: "demo",
			Created: time.Date(2026, 11, 23, 22, 26, 45, 598_004_359, time.UTC),
			Labels:  map[string]string{"com.docker.compose.service": "web"},
		},
		Event: message.Event{Type: "container", Action: "die", ActorID: "1a7d", Scope: "local",
			Attributes: map[string]string{"exitCode": "137", "name": "web-1", "image": "nginx:1.27"}},
		Service: message.Service{Name: "web", Namespace: "shop"},
		Fields:  map[string]any{"any": "additional field", "n": 42.5, "ok": true},
	}
}

func TestJSONGolden(t *testing.T) {
	tests := []struct {
		name string
		m    message.Message
	}{
		{"event", sample()},
		{"log", message.Message{
			ID: "0123456789abcdefghijklmnop", Time: time.Date(2026, 11, 23, 22, 26, 45, 850_123_000, time.UTC),
			Source: "gelf", Host: "vm", Level: message.LevelInfo, Text: "Hello World",
			Container: message.Container{ID: "1a7d", Name: "keen_mirzakhani", ImageName: "hello:latest", Tag: "demo"},
		}},
		{"minimal", message.Message{Level: message.LevelErr}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.m.AppendJSON(nil)
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			path := "testdata/" + tt.name + ".json"
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(strings.TrimSpace(string(want)), string(got)); diff != "" {
				t.Errorf("document differs from %s (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	msgs := []message.Message{
		sample(),
		{Level: message.LevelDebug, Text: "only text"},
		{Text: "a service without a namespace", Service: message.Service{Name: "api"}},
		{Text: "a namespace alone", Service: message.Service{Namespace: "shop"}},
		{Time: time.Date(2030, 1, 2, 3, 4, 5, 123_456_789, time.UTC), Text: "nanoseconds"},
		{Text: "controls \x00\x1f \" \\ \u2028 \u2029 \t\n ✓", Fields: map[string]any{"k\"ey": "v\n"}},
	}
	for i, m := range msgs {
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("#%d: Marshal: %v", i, err)
		}
		var back message.Message
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("#%d: Unmarshal(%s): %v", i, data, err)
		}
		if diff := cmp.Diff(m, back); diff != "" {
			t.Errorf("#%d: round trip differs (-sent +read):\n%s\ndocument: %s", i, diff, data)
		}
	}
}

func TestJSONMatchesEncodingJSON(t *testing.T) {
	// Strings and numbers must encode exactly as encoding/json reads them back.
	for _, s := range []string{"plain", "\xff\xfe invalid", "a\u2028b", "\x7f", "emoji 🎉", strings.Repeat("x", 3000)} {
		m := message.Message{Text: s, Fields: map[string]any{"f": 1e21, "g": 1e-7, "h": -0.5, "i": 3, "s": s}}
		var doc map[string]any
		if err := json.Unmarshal(m.AppendJSON(nil), &doc); err != nil {
			t.Fatalf("text %q: %v", s, err)
		}
		var want string
		j, _ := json.Marshal(s)
		if err := json.Unmarshal(j, &want); err != nil {
			t.Fatal(err)
		}
		if doc["message"] != want {
			t.Errorf("message = %q, want %q", doc["message"], want)
		}
		f := doc["fields"].(map[string]any)
		if f["f"] != 1e21 || f["g"] != 1e-7 || f["h"] != -0.5 || f["i"] != 3.0 {
			t.Errorf("fields = %v", f)
		}
	}
}

func TestUnmarshalErrors(t *testing.T) {
	for _, in := range []string{`[]`, `{"log":{"level":"loud"}}`, `{"qwatch":{"kind":"metric"}}`, `{"@timestamp":"yesterday"}`} {
		var m message.Message
		if err := json.Unmarshal([]byte(in), &m); err == nil {
			t.Errorf("Unmarshal(%s) succeeded, want an error", in)
		}
	}
}

func TestNewIDUniqueAndSorted(t *testing.T) {
	const n = 1_000_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = message.NewID()
	}
	for i, id := range ids {
		if len(id) != message.IDLen {
			t.Fatalf("ID %q has length %d, want %d", id, len(id), message.IDLen)
		}
		if i > 0 && ids[i-1] >= id {
			t.Fatalf("IDs out of order at %d: %q then %q", i, ids[i-1], id)
		}
	}
	// Sorted and strictly increasing implies distinct; check distinctness independently anyway.
	seen := make(map[string]struct{}, n)
	for _, id := range ids {
		seen[id] = struct{}{}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct IDs of %d", len(seen), n)
	}
}

func TestNewIDConcurrent(t *testing.T) {
	const goroutines, each = 8, 20000
	out := make(chan []string, goroutines)
	for range goroutines {
		go func() {
			ids := make([]string, each)
			for i := range ids {
				ids[i] = message.NewID()
			}
			out <- ids
		}()
	}
	var all []string
	for range goroutines {
		ids := <-out
		if !slices.IsSorted(ids) {
			t.Error("IDs made by one goroutine are not sorted")
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	if len(slices.Compact(all)) != goroutines*each {
		t.Error("duplicate IDs across goroutines")
	}
}

// IDs sort by the instant they encode, whatever their other 64 bits: an ID of an earlier
// nanosecond sorts first, also against one made by another process (a derived ID stands in
// for it: its low bits are not this process's).
func TestIDSortsByTime(t *testing.T) {
	at := time.Date(2026, 11, 23, 22, 26, 45, 850_000_000, time.UTC)
	for _, tt := range []struct{ name, earlier, later string }{
		{"next nanosecond", message.DerivedID(at, "zzz"), message.DerivedID(at.Add(time.Nanosecond), "aaa")},
		{"next second", message.DerivedID(at, "k"), message.DerivedID(at.Add(time.Second), "k")},
		{"NewID after an earlier instant", message.DerivedID(time.Now().Add(-time.Millisecond), "k"), message.NewID()},
		{"NewID before a later instant", message.NewID(), message.DerivedID(time.Now().Add(time.Second), "k")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.earlier >= tt.later {
				t.Errorf("earlier ID %q does not sort before later %q", tt.earlier, tt.later)
			}
		})
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	m := sample()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = m.AppendJSON(buf[:0])
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = message.NewID()
	}
}

func BenchmarkAppendJSONLongText(b *testing.B) {
	m := sample()
	m.Text = strings.Repeat("GET /api/v1/orders?page=2 200 1532 bytes in 3.2 ms; ", 40)
	buf := make([]byte, 0, 8192)
	b.SetBytes(int64(len(m.Text)))
	b.ReportAllocs()
	for b.Loop() {
		buf = m.AppendJSON(buf[:0])
	}
}

// @timestamp is written as time.Format writes it in UTC, with 3, 6 or 9 digits of fraction,
// the fewest that keep the time exact; a year beyond four digits with Format's own layout.
func TestAppendJSONTimestampIsTimeFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	zone := time.FixedZone("x", 5*3600+45*60)
	times := []time.Time{time.Unix(0, 0), time.Date(2026, 1, 2, 3, 4, 5, 120_000_000, zone),
		time.Date(2026, 1, 2, 3, 4, 5, 123_400_000, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 123_456_789, time.UTC),
		time.Date(12026, 1, 2, 3, 4, 5, 6, time.UTC)}
	for range 5000 {
		times = append(times, time.Unix(r.Int64N(300_000_000_000), r.Int64N(1e9)).In(zone))
	}
	for _, at := range times {
		layout := "2006-01-02T15:04:05.000000000Z"
		switch ns := at.Nanosecond(); {
		case at.UTC().Year() > 9999:
			layout = "2006-01-02T15:04:05.999999999Z07:00"
		case ns%1e6 == 0:
			layout = "2006-01-02T15:04:05.000Z"
		case ns%1e3 == 0:
			layout = "2006-01-02T15:04:05.000000Z"
		}
		want := `{"@timestamp":"` + at.UTC().Format(layout) + `",`
		if got := string(message.Message{Time: at}.AppendJSON(nil)); !strings.HasPrefix(got, want) {
			t.Fatalf("%v: got %.60s, want %s", at, got, want)
		}
	}
}
