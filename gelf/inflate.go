package gelf

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

// inflateKeep is the most output buffer an inflater keeps between calls: enough for the
// usual log line, so a decoder per TCP connection (thousands on a big host) stays small.
// Larger content is inflated into a buffer of the limit's size from largeOut.
const inflateKeep = 64 << 10

// largeOut holds buffers for content past inflateKeep, each of a limit's size plus a byte,
// shared by every inflater. A bomb inflates to its limit before it is rejected: growing a
// buffer by appending would leave about twice the limit to the garbage collector a bomb,
// and a flood of bombs would spend more on collecting it than on inflating.
var largeOut = sync.Pool{New: func() any { return new([]byte) }}

// errInflateTooLarge says the content goes on past the limit.
var errInflateTooLarge = errors.New("content larger than the limit")

// inflater inflates gzip and zlib payloads. It keeps its readers, with their window and
// Huffman decoder state, and its output buffer between calls, so a small message costs no
// allocation; what is left per message is building the message's own Huffman tables, which
// a dynamic block carries. It is not safe for concurrent use.
type inflater struct {
	src   bytes.Reader // a flate.Reader: klauspost/compress reads it without a bufio.Reader
	gz    *gzip.Reader
	zl    io.ReadCloser
	out   []byte
	large *[]byte // from largeOut, until release
}

// inflate returns the content of payload, a gzip member (what follows the member is not
// read) or a zlib stream, checksum verified, or an error. It reads no more than limit+1
// bytes of content: past limit, it returns errInflateTooLarge, so a bomb is never inflated.
// The slice is valid until the next call or release.
func (f *inflater) inflate(payload []byte, zlibFormat bool, limit int) ([]byte, error) {
	f.release()
	r, err := f.reader(payload, zlibFormat)
	if err != nil {
		return nil, err
	}
	out := f.out[:0]
	defer func() {
		if cap(out) <= inflateKeep {
			f.out = out
		}
	}()
	for {
		if len(out) == cap(out) {
			if len(out) > limit {
				return nil, errInflateTooLarge
			}
			out = f.grow(out, limit)
		}
		n, err := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			if len(out) > limit {
				return nil, errInflateTooLarge
			}
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// grow returns out, full, with room for more, never past one byte over the limit: as append
// grows a slice up to inflateKeep, and then at once to a buffer of largeOut.
func (f *inflater) grow(out []byte, limit int) []byte {
	if len(out) < inflateKeep {
		out = append(out, 0)[:len(out)]
		return out[:len(out):min(cap(out), limit+1, inflateKeep)]
	}
	f.out = out[:0] // kept for the next content, which is usually small
	f.large = largeOut.Get().(*[]byte)
	if cap(*f.large) < limit+1 {
		*f.large = make([]byte, 0, limit+1)
	}
	return append((*f.large)[:0], out...)[: len(out) : limit+1]
}

// release hands the buffer of the last content past inflateKeep back to largeOut: the
// content is no longer used.
func (f *inflater) release() {
	if f.large != nil {
		largeOut.Put(f.large)
		f.large = nil
	}
}

// reader returns the inflater's gzip or zlib reader, reset to read payload.
func (f *inflater) reader(payload []byte, zlibFormat bool) (io.Reader, error) {
	f.src.Reset(payload)
	if zlibFormat {
		if f.zl == nil {
			zl, err := zlib.NewReader(&f.src)
			if err != nil {
				return nil, err
			}
			f.zl = zl
			return zl, nil
		}
		return f.zl, f.zl.(zlib.Resetter).Reset(&f.src, nil)
	}
	if f.gz == nil {
		gz, err := gzip.NewReader(&f.src)
		if err != nil {
			return nil, err
		}
		f.gz = gz
	} else if err := f.gz.Reset(&f.src); err != nil {
		return nil, err
	}
	f.gz.Multistream(false) // one message, one member
	return f.gz, nil
}
