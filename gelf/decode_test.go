package gelf

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch/message"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// dockerPayload is a message as Docker's GELF driver sends it (seen on the wire).
const dockerPayload = `{"version":"1.1","host":"vm","short_message":"Hello World from-container GET /index.html HTTP/1.1 200 612 bytes in 0.4 ms from 172.17.0.1 user-agent curl/8.5.0 request-id 7f3c9a GET /index.html HTTP/1.1 200 612 by","timestamp":1795472805.85,"level":6,"_command":"/hello from-container","_container_id":"1a7d5e0c3f2b9a8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d","_container_name":"keen_mirzakhani","_created":"2026-11-23T22:26:45.598004359Z","_image_id":"sha256:68e3a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e","_image_name":"hello:latest","_tag":"demo"}`

func dockerMessage() message.Message {
	return message.Message{
		Time:  time.Date(2026, 11, 23, 22, 26, 45, 850_000_000, time.UTC),
		Host:  "vm",
		Level: message.LevelInfo,
		Text:  "Hello World from-container GET /index.html HTTP/1.1 200 612 bytes in 0.4 ms from 172.17.0.1 user-agent curl/8.5.0 request-id 7f3c9a GET /index.html HTTP/1.1 200 612 by",
		Container: message.Container{
			ID:        "1a7d5e0c3f2b9a8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d",
			Name:      "keen_mirzakhani",
			ImageID:   "sha256:68e3a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e",
			ImageName: "hello:latest",
			Command:   "/hello from-container",
			Tag:       "demo",
			Created:   time.Date(2026, 11, 23, 22, 26, 45, 598_004_359, time.UTC),
		},
	}
}

func zlibbed(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// testDecoder returns a decoder with the default limits.
func testDecoder() *decoder {
	return &decoder{maxMessageSize: DefaultMaxMessageSize, maxFields: DefaultMaxFields}
}

// decode decodes payload with a new decoder, received now.
func decode(payload []byte) (message.Message, error) {
	return testDecoder().decode(payload, time.Now())
}

func TestDecodeDockerPayload(t *testing.T) {
	plain := []byte(dockerPayload)
	for name, payload := range map[string][]byte{
		"plain": plain, "gzip": Gzipped(plain), "zlib": zlibbed(plain),
		"spaces": []byte(" \n" + strings.ReplaceAll(dockerPayload, ",", " ,\t") + "\n"),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := decode(payload)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(dockerMessage(), got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeMapping(t *testing.T) {
	at := func(sec, nsec int64) time.Time { return time.Unix(sec, nsec).UTC() }
	tests := []struct {
		name string
		in   string
		want message.Message
	}{
		{"level absent is alert", `{"short_message":"x","timestamp":1}`,
			message.Message{Text: "x", Level: message.LevelAlert, Time: at(1, 0)}},
		{"message instead of short_message", `{"message":"x","timestamp":1,"level":3}`,
			message.Message{Text: "x", Level: message.LevelErr, Time: at(1, 0)}},
		{"short_message wins", `{"message":"no","short_message":"yes","timestamp":1,"level":3}`,
			message.Message{Text: "yes", Level: message.LevelErr, Time: at(1, 0)}},
		{"microseconds kept", `{"short_message":"x","timestamp":1795472805.123456,"level":7}`,
			message.Message{Text: "x", Level: message.LevelDebug, Time: at(1795472805, 123456000)}},
		{"beyond microseconds cut", `{"short_message":"x","timestamp":1795472805.1234569,"level":7}`,
			message.Message{Text: "x", Level: message.LevelDebug, Time: at(1795472805, 123456000)}},
		{"numeric strings", `{"short_message":"x","timestamp":"1795472805.5","level":"4"}`,
			message.Message{Text: "x", Level: message.LevelWarning, Time: at(1795472805, 500000000)}},
		{"exponent timestamp", `{"short_message":"x","timestamp":1.7954728055e9,"level":5}`,
			message.Message{Text: "x", Level: message.LevelNotice, Time: at(1795472805, 500000000)}},
		{"fields", `{"short_message":"x","timestamp":1,"level":6,"full_message":"long\nform","_id":"dropped","_user":"bob","_n":42,"_f":-1.5e2,"_ok":true,"_no":false,"_nil":null,"_obj":{"a":[1,2]},"facility":"kern","line":12,"file":"main.go","_created":"not a time"}`,
			message.Message{Text: "x", FullText: "long\nform", Level: message.LevelInfo, Time: at(1, 0), Fields: map[string]any{
				"user": "bob", "n": 42.0, "f": -150.0, "ok": true, "no": false, "obj": `{"a":[1,2]}`,
				"facility": "kern", "line": 12.0, "file": "main.go", "created": "not a time"}}},
		{"escapes", `{"short_message":"a\"b\\c\/d\u00e9\ud83d\ude00\t\u0000","timestamp":1,"level":6,"_k\u0065y":"v"}`,
			message.Message{Text: "a\"b\\c/dé😀\t\x00", Level: message.LevelInfo, Time: at(1, 0), Fields: map[string]any{"key": "v"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeNoTimestampIsReceiveTime(t *testing.T) {
	before := time.Now()
	m, err := decode([]byte(`{"short_message":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Time.Before(before) || m.Time.After(time.Now()) {
		t.Errorf("time %v is not the time received", m.Time)
	}
}

func TestDecodeErrors(t *testing.T) {
	many := new(strings.Builder)
	many.WriteString(`{"short_message":"x"`)
	for i := range 10000 {
		fmt.Fprintf(many, `,"_f%d":%d`, i, i)
	}
	many.WriteString("}")
	truncated := Gzipped([]byte(dockerPayload))
	truncated = truncated[:len(truncated)/2]
	tests := []struct {
		name    string
		in      []byte
		reason  Reason
		message string
	}{
		{"empty", nil, ReasonJSON, "not a JSON object"},
		{"array", []byte(`[1,2]`), ReasonJSON, "not a JSON object"},
		{"string", []byte(`"x"`), ReasonJSON, "not a JSON object"},
		{"invalid JSON", []byte(`{"short_message":"x",}`), ReasonJSON, "invalid JSON"},
		{"trailing garbage", []byte(`{"short_message":"x"} {}`), ReasonJSON, "invalid JSON"},
		{"unterminated", []byte(`{"short_message":"x`), ReasonJSON, "payload ends"},
		{"bad escape", []byte(`{"short_message":"\q"}`), ReasonJSON, `unknown escape \q`},
		{"control character", []byte("{\"short_message\":\"a\nb\"}"), ReasonJSON, "control character"},
		{"invalid UTF-8", []byte("{\"short_message\":\"\xff\xfe\"}"), ReasonUTF8, "not valid UTF-8"},
		{"no short_message", []byte(`{"host":"vm"}`), ReasonMissingMessage, "no short_message"},
		{"short_message number", []byte(`{"short_message":5}`), ReasonBadValue, "not a string"},
		{"level 8", []byte(`{"short_message":"x","level":8}`), ReasonBadValue, "level \"8\" is not a syslog severity 0..7"},
		{"level word", []byte(`{"short_message":"x","level":"info"}`), ReasonBadValue, "syslog severity"},
		{"timestamp word", []byte(`{"short_message":"x","timestamp":"now"}`), ReasonBadValue, "not a number of seconds"},
		{"negative timestamp", []byte(`{"short_message":"x","timestamp":-5}`), ReasonBadValue, "timestamp"},
		{"10,000 fields", []byte(many.String()), ReasonTooManyFields, "more than 1000 fields"},
		{"deep nesting", []byte(`{"short_message":"x","_a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`), ReasonJSON, "nested deeper than 64"},
		{"truncated gzip", truncated, ReasonDecompress, "decompressing"},
		{"gzip of garbage", append([]byte{0x1f, 0x8b}, "garbage!garbage!"...), ReasonDecompress, "gzip"},
		{"plain too large", []byte(`{"short_message":"` + strings.Repeat("x", 1<<20) + `"}`), ReasonTooLarge, "message larger than 1048576 bytes"},
		{"gzip too large", Gzipped([]byte(`{"short_message":"` + strings.Repeat("x", 1<<20) + `"}`)), ReasonTooLarge, "message larger than 1048576 bytes after decompression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode(tt.in)
			var ge *inputError
			if !errors.As(err, &ge) {
				t.Fatalf("Decode = %v, want a *inputError", err)
			}
			if ge.reason != tt.reason || !strings.Contains(err.Error(), tt.message) || !strings.HasPrefix(err.Error(), "gelf: ") {
				t.Errorf("Decode = %q (reason %s), want reason %s and a message containing %q", err, ge.reason, tt.reason, tt.message)
			}
			// The UDP reader's check, where it judges, judges as decode does.
			if pre := notGELF(tt.in, DefaultMaxMessageSize); pre != nil && pre.Error() != err.Error() {
				t.Errorf("notGELF = %q, decode %q", pre, err)
			}
		})
	}
}

// notGELF judges by the first bytes alone: what is neither gzip nor zlib and does not start
// as a JSON object, or is too large for one.
func TestNotGELF(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Reason // "": left to decode
	}{
		{"object", []byte(`{"short_message":"x"}`), ""},
		{"object after white space", []byte(" \t\r\n{"), ""},
		{"broken object", []byte(`{"short_message":`), ""},
		{"gzip", Gzipped([]byte(dockerPayload)), ""},
		{"gzip magic alone", []byte{0x1f, 0x8b}, ""},
		{"zlib", zlibbed([]byte(dockerPayload)), ""},
		{"zlib header alone", []byte{0x78, 0x9c}, ""},
		{"empty", nil, ReasonJSON},
		{"white space only", []byte(" \n"), ReasonJSON},
		{"garbage", bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 16), ReasonJSON},
		{"garbage too large", bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64), ReasonTooLarge},
		{"array", []byte(`[{"short_message":"x"}]`), ReasonJSON},
		{"x then zlib-like", []byte{0x78, 0x9d}, ReasonJSON}, // the check bits are wrong
		{"chunk", []byte{0x1e, 0x0f, 1, 2}, ReasonJSON},      // the reader gives chunks to the assembler first
		{"object too large", []byte(`{"short_message":"` + strings.Repeat("x", 100) + `"}`), ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := notGELF(tt.in, 100)
			if got := Reason(""); err != nil {
				got = reasonOf(err)
				if got != tt.want {
					t.Errorf("notGELF = %v (%s), want %q", err, got, tt.want)
				}
			} else if tt.want != "" {
				t.Errorf("notGELF = nil, want %s", tt.want)
			}
		})
	}
}

// TestDecompressionBomb checks that a gzip of 1 GiB of zeros is rejected after inflating no more
// than the limit: the memory Decode allocates stays within a few times the 1 MiB limit.
//
// testdata/bomb.gz was made with: head -c 1073741824 /dev/zero | gzip -9 > testdata/bomb.gz
func TestDecompressionBomb(t *testing.T) {
	bomb, err := os.ReadFile("testdata/bomb.gz")
	if err != nil {
		t.Fatal(err)
	}
	d := testDecoder()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err = d.decode(bomb, time.Now())
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	var ge *inputError
	if !errors.As(err, &ge) || ge.reason != ReasonTooLarge {
		t.Fatalf("Decode(bomb) = %v, want a too_large error", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("Decode allocated %d bytes for a bomb; the limit is 1 MiB", alloc)
	}
	if took > 2*time.Second {
		t.Errorf("rejecting the bomb took %v: it inflated more than the limit", took)
	}
}

// Bomb after bomb, a decoder inflates each into a pooled buffer: what it allocates a bomb is
// less than the limit, where a buffer grown by appending to the limit took several times the
// limit. (The margin is for the race detector's sync.Pool, which drops a quarter of what it
// is given.)
func TestBombsReuseABuffer(t *testing.T) {
	bomb := Gzipped(bytes.Repeat([]byte{'0'}, DefaultMaxMessageSize+1))
	d := testDecoder()
	const bombs = 32
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range bombs {
		if _, err := d.decode(bomb, time.Now()); reasonOf(err) != ReasonTooLarge {
			t.Fatalf("decode(bomb) = %v, want too_large", err)
		}
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bombs*DefaultMaxMessageSize {
		t.Errorf("%d bombs allocated %d bytes; want less than the limit a bomb", bombs, alloc)
	}
	// A large message after the bombs is whole.
	text := strings.Repeat("z", 512<<10)
	m, err := d.decode(Gzipped([]byte(`{"short_message":"`+text+`"}`)), time.Now())
	if err != nil || m.Text != text {
		t.Errorf("a 512 KiB message after the bombs: %d bytes, %v", len(m.Text), err)
	}
}

func TestDecoderReuse(t *testing.T) {
	d := testDecoder()
	inputs := [][]byte{Gzipped([]byte(dockerPayload)), []byte(`{"short_message":"plain","timestamp":1}`),
		zlibbed([]byte(dockerPayload)), {0x1f, 0x8b, 0}, Gzipped([]byte(dockerPayload))}
	for i, in := range inputs {
		m, err := d.decode(in, time.Now())
		if i == 3 {
			if err == nil {
				t.Error("broken gzip accepted")
			}
			continue
		}
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		if i != 1 && !cmp.Equal(m, dockerMessage()) {
			t.Errorf("#%d: reused decoder gave %+v", i, m)
		}
	}
}

// Strings are scanned eight bytes at a time: an escape, a quote, a control character or a
// byte of a multi-byte character at any place in a word is still seen, as encoding/json sees
// it.
func TestStringScanAtEveryOffset(t *testing.T) {
	for n := range 24 {
		for k := range n + 1 {
			for _, insert := range []string{`\"`, `\\`, `\n`, `\u00e9`, "é", "\x01", "\xff"} {
				text := strings.Repeat("a", k) + insert + strings.Repeat("b", n-k)
				payload := []byte(`{"short_message":"` + text + `"}`)
				var want struct {
					Short string `json:"short_message"`
				}
				wantErr := json.Unmarshal(payload, &want) != nil || !utf8.Valid(payload)
				m, err := decode(payload)
				if (err != nil) != wantErr || (err == nil && m.Text != want.Short) {
					t.Fatalf("%q: got %q, %v; encoding/json %q (error %v)", payload, m.Text, err, want.Short, wantErr)
				}
			}
		}
	}
}
