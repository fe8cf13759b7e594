package gelf

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qnib/qwatch/message"
)

// FuzzJoiner feeds the line joiner arbitrary sequences of pieces (three containers, two
// streams, full 16 KiB pieces and shorter ones, timestamps repeated or not, time passing):
// no byte may be lost or repeated, every line it emits is made of consecutive pieces of one
// container and stream, and once flushed it holds nothing.
func FuzzJoiner(f *testing.F) {
	f.Add([]byte{0x80, 0x81, 0x02, 0x10, 0x90, 0x11})
	f.Add([]byte{0x80, 0x80, 0x80, 0x00})
	f.Add([]byte{0xc0, 0x41, 0x83, 0x03})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		var held atomic.Int64
		var joined, released atomic.Uint64
		j := &joiner{max: 1 << 20, wait: time.Second, budget: 96 << 10, held: &held, joined: &joined,
			released: &released, pending: map[joinKey]*partialLine{}}
		now := time.Unix(1000, 0)
		stamp := now
		in := map[joinKey]string{} // what went in, per container and stream, in order
		out := map[joinKey]string{}
		emit := func(m message.Message) {
			k := joinKey{m.Container.ID, m.Level}
			out[k] += m.Text
			if !strings.HasPrefix(in[k], out[k]) {
				t.Fatalf("%v: emitted text is not what went in, in order", k)
			}
		}
		for i, op := range ops {
			// bit 7: a full piece; bit 6: a new timestamp; bits 4-5: time passes; bits 0-1:
			// the container; bit 2: the stream.
			size := 1 + int(op>>3&7)*100
			if op&0x80 != 0 {
				size = DockerLineLimit
			}
			if op&0x40 != 0 {
				stamp = stamp.Add(time.Millisecond)
			}
			now = now.Add(time.Duration(op>>4&3) * 400 * time.Millisecond)
			m := message.Message{Time: stamp, Level: message.LevelInfo, Text: strings.Repeat(string(rune('a'+i%26)), size)}
			m.Container.ID = []string{"c1", "c2", "c3", "c1"}[op&3]
			if op&4 != 0 {
				m.Level = message.LevelErr
			}
			in[joinKey{m.Container.ID, m.Level}] += m.Text
			j.add(m, now, emit)
			if held.Load() > j.budget {
				t.Fatalf("%d bytes held, budget %d", held.Load(), j.budget)
			}
		}
		j.flush(emit)
		for k, text := range in {
			if out[k] != text {
				t.Fatalf("%v: %d bytes went in, %d came out", k, len(text), len(out[k]))
			}
		}
		if held.Load() != 0 || j.waiting() {
			t.Fatalf("after flush: %d bytes held, waiting %v", held.Load(), j.waiting())
		}
	})
}
