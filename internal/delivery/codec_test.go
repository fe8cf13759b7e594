package delivery

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/message"
)

func TestCodecRoundTrip(t *testing.T) {
	for i, m := range sampleForCodec() {
		var got message.Message
		if err := decodeMessage(appendMessage(nil, &m), &got); err != nil {
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
	var got message.Message
	if err := decodeMessage(v1, &got); err != nil {
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
		var m, again message.Message
		if err := decodeMessage(b, &m); err == nil {
			if err := decodeMessage(appendMessage(nil, &m), &again); err != nil {
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

// The decoder's varints read what encoding/binary reads, and reject what it rejects.
func TestDecoderVarintsAgreeWithEncodingBinary(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var inputs [][]byte
	for _, v := range []uint64{0, 1, 127, 128, 1<<63 - 1, 1 << 63, ^uint64(0)} {
		inputs = append(inputs, binary.AppendUvarint(nil, v))
	}
	for range 20000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.Uint32())
			if r.IntN(3) > 0 {
				b[i] |= 0x80
			}
		}
		inputs = append(inputs, b, binary.AppendUvarint(nil, r.Uint64()>>r.UintN(64)))
	}
	for _, b := range inputs {
		wantU, n := binary.Uvarint(b)
		d := &decoder{s: string(b)}
		if gotU := d.uvarint(); (n > 0) != (d.err == nil) || gotU != wantU && n > 0 || n > 0 && len(d.s) != len(b)-n {
			t.Fatalf("uvarint of %x: got %d (err %v, %d left), want %d (n %d)", b, gotU, d.err, len(d.s), wantU, n)
		}
		wantV, n := binary.Varint(b)
		d = &decoder{s: string(b)}
		if gotV := d.varint(); (n > 0) != (d.err == nil) || gotV != wantV && n > 0 {
			t.Fatalf("varint of %x: got %d (err %v), want %d (n %d)", b, gotV, d.err, wantV, n)
		}
	}
}
