package gelf

import (
	"bytes"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"errors"
	"io"
	"strings"
	"testing"
)

// stdInflate is the reference: the standard library reading payload as the inflater does (a
// single gzip member, or a zlib stream), at most limit+1 bytes.
func stdInflate(payload []byte, zlibFormat bool, limit int) ([]byte, error) {
	var r io.Reader
	if zlibFormat {
		zr, err := stdzlib.NewReader(bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		r = zr
	} else {
		gr, err := stdgzip.NewReader(bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		gr.Multistream(false)
		r = gr
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if len(out) > limit {
		return nil, errInflateTooLarge
	}
	return out, err
}

func compressed(text string, zlibFormat bool) []byte {
	if zlibFormat {
		return zlibbed([]byte(text))
	}
	return Gzipped([]byte(text))
}

// FuzzInflate holds the inflater to the standard library: on any input the same content, or
// an error where it fails. Past the limit both reject, though not always for the same
// reason: a broken stream whose content passes the limit before the break is too large for
// one, broken for the other, as they decode a block at different paces. The one difference
// allowed: a gzip header with reserved flag bits set, which RFC 1952 tells a reader to reject,
// klauspost/compress rejects and the standard library ignores. One inflater
// serves every input, as a decoder's does, so what a call leaves behind cannot change the
// next one's answer.
func FuzzInflate(f *testing.F) {
	for _, z := range []bool{false, true} {
		for _, text := range []string{dockerPayload, "", "a", strings.Repeat("ab", 3000), strings.Repeat("\x00", 1<<20)} {
			p := compressed(text, z)
			f.Add(p, z)
			f.Add(p[:len(p)/2], z)
			bad := bytes.Clone(p)
			bad[len(bad)-5] ^= 0x40 // the checksum
			f.Add(bad, z)
		}
	}
	f.Add(append(Gzipped([]byte("one")), Gzipped([]byte("two"))...), false)
	f.Add(append(Gzipped([]byte("one")), "trailing"...), false)
	const limit = 4096
	var inf inflater
	tooLarge := Gzipped(bytes.Repeat([]byte("z"), limit+1))
	if _, err := inf.inflate(tooLarge, false, limit); !errors.Is(err, errInflateTooLarge) {
		f.Fatalf("content one byte past the limit: %v, want errInflateTooLarge", err)
	}
	f.Fuzz(func(t *testing.T, payload []byte, zlibFormat bool) {
		want, wantErr := stdInflate(payload, zlibFormat, limit)
		if !zlibFormat && len(payload) > 3 && payload[3]&0xe0 != 0 {
			want, wantErr = nil, errors.New("reserved gzip flags")
		}
		got, err := inf.inflate(payload, zlibFormat, limit)
		switch {
		case (wantErr == nil) != (err == nil):
			t.Fatalf("standard library: %v; inflater: %v", wantErr, err)
		case err == nil && !bytes.Equal(got, want):
			t.Fatalf("inflater gave %q, standard library %q", got, want)
		}
	})
}

// The inflater keeps a small output buffer between calls, not a large message's.
func TestInflaterKeepsSmallBuffer(t *testing.T) {
	var inf inflater
	if _, err := inf.inflate(Gzipped(bytes.Repeat([]byte("z"), 512<<10)), false, DefaultMaxMessageSize); err != nil {
		t.Fatal(err)
	}
	if cap(inf.out) > inflateKeep {
		t.Errorf("kept %d bytes after a large message; want at most %d", cap(inf.out), inflateKeep)
	}
	out, err := inf.inflate(Gzipped([]byte(dockerPayload)), false, DefaultMaxMessageSize)
	if err != nil || string(out) != dockerPayload {
		t.Fatalf("inflate = %q, %v", out, err)
	}
	if cap(inf.out) == 0 {
		t.Errorf("a small message's buffer was not kept")
	}
}
