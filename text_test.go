package qwatch_test

import (
	"encoding"
	"flag"
	"testing"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/sink"
)

// The enumerations a user sets in flags or settings files round-trip through their names.
func TestTextRoundTrip(t *testing.T) {
	type textValue interface {
		encoding.TextMarshaler
		encoding.TextUnmarshaler
	}
	tests := []struct {
		name  string
		value textValue // set to a valid value
		fresh textValue // a zero value of the same type to parse into
	}{
		{"drop-oldest", ptr(qwatch.DropOldest), new(qwatch.Overflow)},
		{"event", ptr(message.KindEvent), new(message.Kind)},
		{"pretty", ptr(sink.Pretty), new(sink.Format)},
		{"warning", ptr(message.LevelWarning), new(message.Level)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.value.MarshalText()
			if err != nil || string(b) != tt.name {
				t.Fatalf("MarshalText = %q, %v; want %q", b, err, tt.name)
			}
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.TextVar(tt.fresh, "v", tt.fresh, "")
			if err := fs.Parse([]string{"-v", tt.name}); err != nil {
				t.Fatalf("flag -v %s: %v", tt.name, err)
			}
			if got, _ := tt.fresh.MarshalText(); string(got) != tt.name {
				t.Errorf("parsed %q, want %q", got, tt.name)
			}
			if err := tt.fresh.UnmarshalText([]byte("no-such-name")); err == nil {
				t.Errorf("UnmarshalText(no-such-name) = nil, want an error")
			}
		})
	}
	for _, v := range []encoding.TextMarshaler{qwatch.Overflow(9), message.Kind(9), sink.Format(9), message.Level(9)} {
		if b, err := v.MarshalText(); err == nil {
			t.Errorf("%T(9).MarshalText = %q, want an error", v, b)
		}
	}
}

func ptr[T any](v T) *T { return &v }
