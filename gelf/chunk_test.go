package gelf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// newTestAssembler returns an assembler with cfg's limits, their defaults set.
func newTestAssembler(cfg Config) *assembler {
	cfg.setDefaults()
	return newAssembler(cfg)
}

// chunks splits payload into GELF chunks of at most size data bytes, as a sender would.
func chunks(id uint64, payload []byte, size int) [][]byte {
	n := len(payload)/size + 1
	if len(payload)%size == 0 && len(payload) > 0 {
		n = len(payload) / size
	}
	out := make([][]byte, n)
	for i := range out {
		c := []byte{0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, byte(i), byte(n)}
		binary.BigEndian.PutUint64(c[2:10], id)
		end := min((i+1)*size, len(payload))
		out[i] = append(c, payload[i*size:end]...)
	}
	return out
}

func TestAssemblerInterleavedOutOfOrderDuplicated(t *testing.T) {
	a := newTestAssembler(Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	payloads := map[uint64][]byte{}
	var all [][]byte
	for id := uint64(1); id <= 50; id++ {
		p := bytes.Repeat([]byte{byte(id)}, 100+rng.IntN(5000))
		payloads[id] = p
		cs := chunks(id, p, 1408)
		all = append(all, cs...)
		all = append(all, cs[rng.IntN(len(cs))]) // a duplicate
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	now := time.Now()
	got := map[byte]int{}
	for _, c := range all {
		p, err := a.add(c, now)
		if err != nil {
			t.Fatal(err)
		}
		if p != nil {
			if !bytes.Equal(p, payloads[uint64(p[0])]) {
				t.Fatalf("message %d reassembled wrong", p[0])
			}
			got[p[0]]++
		}
	}
	if len(got) != 50 {
		t.Errorf("%d of 50 messages completed", len(got))
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("message %d completed %d times", id, n)
		}
	}
	st := a.stats()
	if st.Incomplete != 0 || st.IncompleteBytes != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestAssemblerEmptyLastChunk(t *testing.T) {
	a := newTestAssembler(Config{})
	p := bytes.Repeat([]byte("x"), 2*1408)
	cs := chunks(7, p, 1408)
	cs = append(cs, []byte{0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 0, 7, 2, 3}) // an empty third chunk
	for i := range 2 {
		cs[i][11] = 3
	}
	var out []byte
	for _, c := range cs {
		got, err := a.add(c, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got != nil {
			out = got
		}
	}
	if !bytes.Equal(out, p) {
		t.Errorf("reassembled %d bytes, want %d", len(out), len(p))
	}
}

func TestAssemblerExpiry(t *testing.T) {
	a := newTestAssembler(Config{ChunkTimeout: time.Second})
	start := time.Now()
	cs := chunks(1, bytes.Repeat([]byte("y"), 3000), 1408)
	if _, err := a.add(cs[0], start); err != nil {
		t.Fatal(err)
	}
	if n := a.expire(start.Add(999 * time.Millisecond)); n != 0 {
		t.Errorf("expired %d before the timeout", n)
	}
	if n := a.expire(start.Add(time.Second)); n != 1 {
		t.Errorf("expired %d at the timeout, want 1", n)
	}
	// The rest arriving late starts a new message that never completes.
	for _, c := range cs[1:] {
		if p, _ := a.add(c, start.Add(2*time.Second)); p != nil {
			t.Error("an expired message completed")
		}
	}
	if st := a.stats(); st.Expired != 1 || st.Incomplete != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestAssemblerRejects(t *testing.T) {
	hdr := func(seq, total byte) []byte { return []byte{0x1e, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8, seq, total, 'x'} }
	tests := []struct {
		name  string
		chunk []byte
		want  string
	}{
		{"short header", []byte{0x1e, 0x0f, 1, 2, 3}, "shorter than its 12-byte header"},
		{"seq >= total", hdr(7, 3), "gelf: chunk 7 of 3"},
		{"seq == total", hdr(3, 3), "gelf: chunk 3 of 3"},
		{"total 0", hdr(0, 0), "chunk count 0 out of range 1..128"},
		{"total 129", hdr(0, 129), "chunk count 129 out of range 1..128"},
		{"no magic", []byte("{}"), "no chunk magic"},
	}
	a := newTestAssembler(Config{})
	for _, tt := range tests {
		_, err := a.add(tt.chunk, time.Now())
		var ge *inputError
		if !errors.As(err, &ge) || ge.reason != ReasonBadChunk || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Add = %v, want a bad_chunk error containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := a.add(hdr(0, 3), time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := a.add(hdr(1, 4), time.Now())
	if err == nil || !strings.Contains(err.Error(), "chunk count changed from 3 to 4") {
		t.Errorf("changed total: %v", err)
	}
	if st := a.stats(); st.Incomplete != 0 {
		t.Errorf("message with a changed total kept: %+v", st)
	}
}

// TestAssemblerFlood sends a million first chunks with distinct IDs: memory stays within the
// limits, the oldest are evicted and counted, and valid messages in between still complete.
func TestAssemblerFlood(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	const maxBytes = 4 << 20
	a := newTestAssembler(Config{MaxIncomplete: 1000, MaxChunkBytes: maxBytes})
	junk := bytes.Repeat([]byte("j"), 1000)
	valid := bytes.Repeat([]byte("v"), 3000)
	now := time.Now()
	var before, peak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	completed := 0
	for i := range n {
		// The first of two chunks; the second never comes.
		first := []byte{0x1e, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
		binary.BigEndian.PutUint64(first[2:10], uint64(i)+1<<40)
		if _, err := a.add(append(first, junk...), now); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 {
			for _, c := range chunks(uint64(i), valid, 1408) {
				if p, err := a.add(c, now); err != nil {
					t.Fatal(err)
				} else if p != nil {
					completed++
				}
			}
			runtime.ReadMemStats(&peak)
			if heap := int64(peak.HeapAlloc) - int64(before.HeapAlloc); heap > 3*maxBytes+8<<20 {
				t.Fatalf("heap grew by %d bytes after %d chunks; the cap is %d", heap, i, maxBytes)
			}
		}
	}
	st := a.stats()
	if completed != n/1000 {
		t.Errorf("%d of %d valid messages completed amid the flood", completed, n/1000)
	}
	if st.Incomplete > 1000 || st.IncompleteBytes > maxBytes || st.Evicted < uint64(n-1000) {
		t.Errorf("stats %+v: want at most 1000 incomplete within %d bytes, the rest evicted", st, maxBytes)
	}
}
