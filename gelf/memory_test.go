package gelf

import (
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/qnib/qwatch/internal/gelfload"
	"github.com/qnib/qwatch/message"
)

// What a decoded message really holds in memory, against what message.Message.Size says, for
// Docker-style GELF messages as the decoder makes them (the container fields of a container
// shared between its messages): a Hub queue's byte bound, which adds up Size, must not be
// looser than the memory it bounds.
func TestDecodedMessageMemory(t *testing.T) {
	const n = 20000
	load, err := gelfload.Make(gelfload.Config{Count: n, Compression: "none", MaxLine: 1000}, true)
	if err != nil {
		t.Fatal(err)
	}
	// A queue's ring of message structs is allocated with the queue: measured from here, the
	// heap grows by what the held messages point to.
	held := make([]message.Message, 0, n)
	d := testDecoder()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	estimate := 0
	for _, m := range load {
		if len(m.Packets) != 1 {
			continue // chunked: the decoder wants it whole; the rest are enough
		}
		dm, err := d.decode(m.Packets[0], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		dm.ID = message.NewID() // as the Hub gives it one
		estimate += dm.Size()
		held = append(held, dm)
	}
	d = nil // its scratch buffers and interned strings are not the messages'
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(load) // measured alive both times
	real := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(len(held)) + float64(unsafe.Sizeof(message.Message{}))
	estimated := float64(estimate) / float64(len(held))
	t.Logf("%d messages held: %.0f bytes each in memory, %.0f estimated by Size", len(held), real, estimated)
	if len(held) < n*9/10 || estimated < real || estimated > 2*real {
		t.Errorf("Size estimates %.0f bytes a message for %.0f held", estimated, real)
	}
	runtime.KeepAlive(held)
}
