// Package jsonw writes JSON strings: the one string writer of the module, shared by the
// message document form and the Elasticsearch bulk request, so that no part of a request can
// carry an escape JSON does not have (Go's \x01 or \xff, say) and break the whole of it.
package jsonw

import (
	"encoding/binary"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s to b as a quoted JSON string and returns the extended buffer.
// Control characters are escaped, invalid UTF-8 becomes U+FFFD, as in encoding/json, and
// U+2028 and U+2029 are escaped so the output is also valid JavaScript.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	// Most text needs no escaping: skip it eight bytes at a time.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !plainWord(binary.LittleEndian.Uint64([]byte(s[i : i+8]))) {
			break
		}
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plainWord reports whether none of the eight bytes in w needs escaping or decoding: each is
// printable ASCII other than '"' and '\\'.
func plainWord(w uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	hasLess := func(x uint64, n uint64) uint64 { return (x - lo*n) & ^x & hi }
	hasZero := func(x uint64) uint64 { return (x - lo) & ^x & hi }
	return (w&hi)|hasLess(w, 0x20)|hasZero(w^(lo*'"'))|hasZero(w^(lo*'\\')) == 0
}
