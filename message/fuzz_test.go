package message_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/message"
)

// FuzzJSONRoundTrip checks that any message encodes to valid JSON that reads back equal, for
// text that is valid UTF-8 (invalid bytes are replaced, as in encoding/json).
func FuzzJSONRoundTrip(f *testing.F) {
	f.Add("Hello World", "web-1", "com.docker.compose.service", "web", int64(1795472805850000000), uint8(6), 42.5, true)
	f.Add("disk almost full", "shop", "com.docker.compose.project", "", int64(1795472805850000001), uint8(4), -1.5, false)
	f.Add("\x00\"\\\u2028</script>", "", "a.b", "", int64(0), uint8(0), math.Copysign(0, -1), false)
	f.Fuzz(func(t *testing.T, text, name, key, value string, nanos int64, level uint8, num float64, event bool) {
		if !utf8.ValidString(text) || !utf8.ValidString(name) || !utf8.ValidString(key) || !utf8.ValidString(value) {
			t.Skip()
		}
		m := message.Message{
			ID:        "id",
			Time:      time.Unix(0, nanos).UTC(),
			Level:     message.Level(level % 8),
			Text:      text,
			Container: message.Container{Name: name, Labels: map[string]string{key: value}},
			Service:   message.Service{Name: value, Namespace: name},
			Fields:    map[string]any{key: value, "n": num},
		}
		if event {
			m.Kind = message.KindEvent
			m.Event = message.Event{Type: "container", Action: value, Attributes: map[string]string{key: text}}
		}
		data := m.AppendJSON(nil)
		if !json.Valid(data) {
			t.Fatalf("invalid JSON: %q", data)
		}
		var back message.Message
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("reading %s: %v", data, err)
		}
		if diff := cmp.Diff(m, back); diff != "" && !nanDiff(num) {
			t.Errorf("round trip (-sent +read):\n%s", diff)
		}
	})
}

// nanDiff reports whether n cannot survive JSON as a number (NaN and infinities are written as
// strings on purpose).
func nanDiff(n float64) bool {
	return n != n || n > 1.7976931348623157e308 || n < -1.7976931348623157e308
}

// FuzzUnmarshal checks that reading arbitrary bytes as a document never panics.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"@timestamp":"2026-11-23T22:26:45.850Z","message":"x","log":{"level":"info"}}`))
	f.Add([]byte(`{"fields":{"a":[1,{"b":null}]},"tags":[]}`))
	f.Add([]byte(`{"service":{"name":"web","namespace":["shop"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m message.Message
		_ = json.Unmarshal(data, &m)
	})
}
