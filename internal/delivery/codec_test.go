package delivery

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/message"
)

func TestCodecRoundTrip(t *testing.T) {
	for i, m := range sampleForCodec() {
		got, err := decodeMessage(appendMessage(nil, &m))
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("message %d (-want +got):\n%s", i, diff)
		}
	}
}

// A record spooled by a release before the service was kept (version 1) still decodes.
func TestCodecReadsVersion1(t *testing.T) {
	m := sampleForCodec()[1]
	b := appendMessage(nil, &m)
	v1 := append([]byte{1}, b[1:len(b)-len("\x03web\x04shop")]...)
	want := m
	want.Service = message.Service{}
	got, err := decodeMessage(v1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleForCodec() {
		f.Add(appendMessage(nil, &m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err == nil {
			if _, err := decodeMessage(appendMessage(nil, &m)); err != nil {
				t.Errorf("a decoded message does not decode again: %v", err)
			}
		}
	})
}

func sampleForCodec() []message.Message {
	at := time.Date(2026, 11, 23, 22, 26, 45, 850_123_456, time.UTC)
	return []message.Message{
		{},
		{ID: "01J0", Kind: message.KindLog, Time: at, Source: "gelf", Host: "vm", Level: message.LevelErr,
			Text: "ünïcödé \x00 line", FullText: "stack\ntrace",
			Container: message.Container{ID: "1a7d", Name: "web-1", ImageID: "sha256:68e3", ImageName: "hello:latest",
				Command: "/hello", Tag: "demo", Created: at.Add(-time.Minute), Labels: map[string]string{"a": "b", "": "empty key"}},
			Service: message.Service{Name: "web", Namespace: "shop"},
			Fields:  map[string]any{"s": "v", "f": 3.25, "t": true, "n": false, "neg": -1e300}},
		{Kind: message.KindEvent, Time: at, Level: message.LevelWarning, Text: "container die",
			Event: message.Event{Type: "container", Action: "die", ActorID: "c0ffee", Scope: "local",
				Attributes: map[string]string{"exitCode": "1"}}},
	}
}
