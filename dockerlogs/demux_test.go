package dockerlogs

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/go-cmp/cmp"
)

// frame is a stdcopy frame of the stream with the payload p.
func frame(stream byte, p string) string {
	h := make([]byte, stdcopyHeader)
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	return string(h) + p
}

// demuxed is what a read of frames wrote to each stream, and whether it failed.
type demuxed struct {
	Out, Err string
	Failed   bool
}

// compareWithStdCopy reads data, then the error end (nil: the stream's end), with demux
// through a buffer of size bytes and with stdcopy.StdCopy, and reports any difference.
func compareWithStdCopy(t *testing.T, data []byte, end error, size int) {
	t.Helper()
	src := func() io.Reader {
		r := io.Reader(bytes.NewReader(data))
		if end != nil {
			r = io.MultiReader(r, iotest.ErrReader(end))
		}
		return iotest.HalfReader(r) // reads in pieces, as from a socket
	}
	var want, got demuxed
	var o, e strings.Builder
	_, err := stdcopy.StdCopy(&o, &e, src())
	want = demuxed{o.String(), e.String(), err != nil}
	o.Reset()
	e.Reset()
	err = demux(bufio.NewReaderSize(src(), size), &o, &e)
	got = demuxed{o.String(), e.String(), err != nil}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("demux against stdcopy.StdCopy (-want +got):\n%s", diff)
	}
}

// demux writes what stdcopy.StdCopy writes, and fails where it fails, frames that fit in its
// buffer or not.
func TestDemuxAsStdCopy(t *testing.T) {
	long := strings.Repeat("0123456789", 10)
	broken := errors.New("connection reset")
	for _, tt := range []struct {
		name string
		data string
		end  error
	}{
		{"streams", frame(1, "out 1\n") + frame(2, "err 1\n") + frame(0, "in\n") + frame(1, "out 2\n"), nil},
		{"empty payload", frame(1, "") + frame(2, "e\n"), nil},
		{"larger than the buffer", frame(1, "short\n") + frame(2, long) + frame(1, long+"\n") + frame(1, "after\n"), nil},
		{"the engine's error", frame(1, "a\n") + frame(3, "boom") + frame(1, "never\n"), nil},
		{"unknown stream", frame(1, "a\n") + frame(4, "x") + frame(1, "never\n"), nil},
		{"ends within a header", frame(1, "a\n") + frame(1, "b\n")[:5], nil},
		{"ends within a payload", frame(1, "a\n") + frame(1, "bcdefgh\n")[:12], nil},
		{"ends within a large payload", frame(1, "a\n") + frame(1, long)[:60], nil},
		{"breaks within a header", frame(1, "a\n") + frame(1, "b\n")[:3], broken},
		{"breaks within a payload", frame(1, "a\n") + frame(2, "bcdefgh\n")[:12], broken},
		{"breaks within a large payload", frame(1, "a\n") + frame(2, long)[:60], broken},
		{"breaks between frames", frame(1, "a\n"), broken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			compareWithStdCopy(t, []byte(tt.data), tt.end, 32)
		})
	}
}

// FuzzDemux checks demux against stdcopy.StdCopy on any stream, ended or broken.
func FuzzDemux(f *testing.F) {
	f.Add([]byte(frame(1, "2026-11-29T19:38:40.000000001Z a line\n")+frame(2, "x")), false)
	f.Add([]byte(frame(1, strings.Repeat("y", 100))+frame(3, "boom")), true)
	f.Add([]byte(frame(2, "abc")[:9]), false)
	f.Fuzz(func(t *testing.T, data []byte, broken bool) {
		// StdCopy makes room for a frame's length before it reads it: keep to lengths that
		// do not ask it for more memory than the test has.
		for rest := data; len(rest) >= stdcopyHeader; {
			n := int(binary.BigEndian.Uint32(rest[4:stdcopyHeader]))
			if n > 1<<20 {
				t.Skip("a frame's length over 1 MiB")
			}
			rest = rest[min(len(rest), stdcopyHeader+n):]
		}
		var end error
		if broken {
			end = errors.New("broken")
		}
		compareWithStdCopy(t, data, end, 16)
	})
}
