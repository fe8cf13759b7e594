package gelf

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary payloads to the decoder: it must never panic, must fail only with
// a *inputError, and what it accepts must be a JSON object that encoding/json accepts too.
// What the UDP reader's cheap check (notGELF) rejects, decode rejects with the same error.
// The seed corpus in testdata holds payloads Docker's GELF driver sent.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(dockerPayload))
	f.Add([]byte(`{"short_message":"x","_a":{"b":[1,2,{"c":null}]},"level":"3","timestamp":"1.5"}`))
	f.Add([]byte(`{"short_message":"\ud800\udc00\u00e9","_k":1e400}`))
	d := testDecoder()
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := d.decode(payload, time.Unix(1, 0))
		if pre := notGELF(payload, d.maxMessageSize); pre != nil && (err == nil || pre.Error() != err.Error()) {
			t.Fatalf("notGELF = %v; decode = %v", pre, err)
		}
		if err != nil {
			var ge *inputError
			if !errors.As(err, &ge) {
				t.Fatalf("error %v is not a *inputError", err)
			}
			return
		}
		if m.Level > 7 {
			t.Fatalf("level %d accepted", m.Level)
		}
		if len(payload) > 0 && payload[0] == '{' && !json.Valid(payload) {
			t.Fatalf("accepted invalid JSON %q", payload)
		}
	})
}

// FuzzAssembler feeds arbitrary datagrams, split and shuffled, to the chunk assembler: it
// must never panic, keep within its limits, and only ever return payloads made of the data
// it was given.
func FuzzAssembler(f *testing.F) {
	f.Add([]byte{0x1e, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8, 0, 2, 'a'}, uint8(3))
	f.Add([]byte{0x1e, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 'b'}, uint8(0))
	a := newTestAssembler(Config{MaxIncomplete: 16, MaxChunkBytes: 1 << 16, ChunkTimeout: time.Minute})
	now := time.Unix(1000, 0)
	f.Fuzz(func(t *testing.T, datagram []byte, split uint8) {
		now = now.Add(time.Second)
		parts := [][]byte{datagram}
		if s := int(split); s > 12 && s < len(datagram) {
			// The tail as another chunk of the same message.
			second := append(append([]byte(nil), datagram[:12]...), datagram[s:]...)
			if len(second) > 11 {
				second[10]++
			}
			parts = [][]byte{datagram[:s], second}
		}
		for _, p := range parts {
			out, err := a.add(p, now)
			if err != nil {
				var ge *inputError
				if !errors.As(err, &ge) || ge.reason != ReasonBadChunk {
					t.Fatalf("error %v is not a bad_chunk *inputError", err)
				}
				continue
			}
			if out != nil && len(p) > 12 && !bytes.Contains(out, p[12:]) {
				t.Fatalf("completed payload lacks the chunk that completed it")
			}
		}
		if st := a.stats(); st.Incomplete > 16 || st.IncompleteBytes > 1<<16 {
			t.Fatalf("limits exceeded: %+v", st)
		}
	})
}
