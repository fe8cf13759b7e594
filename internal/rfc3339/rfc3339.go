// Package rfc3339 writes times in the RFC 3339 form the stdout lines and JSON documents use,
// by hand: time.Time.AppendFormat took a third of the cost of a whole JSON document, and more
// than half of a text line's.
package rfc3339

import "time"

// layouts are what AppendUTC writes, by digits of fraction, as time.Format layouts: AppendUTC
// falls back to them for a year outside 0..9999, which has no four-digit form.
var layouts = map[int]string{
	3: "2006-01-02T15:04:05.000Z",
	6: "2006-01-02T15:04:05.000000Z",
	9: "2006-01-02T15:04:05.000000000Z",
}

// AppendUTC appends t in UTC, as 2006-01-02T15:04:05.000Z with digits digits of fraction
// (3, 6 or 9), cut off rather than rounded: what t.UTC().AppendFormat of that layout writes.
func AppendUTC(b []byte, t time.Time, digits int) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, layouts[digits])
	}
	hour, min, sec := t.Clock()
	b = append2(b, year/100)
	b = append2(b, year%100)
	b = append(b, '-')
	b = append2(b, int(month))
	b = append(b, '-')
	b = append2(b, day)
	b = append(b, 'T')
	b = append2(b, hour)
	b = append(b, ':')
	b = append2(b, min)
	b = append(b, ':')
	b = append2(b, sec)
	b = append(b, '.')
	ns := t.Nanosecond()
	switch digits {
	case 3:
		b = append3(b, ns/1e6)
	case 6:
		b = append3(append3(b, ns/1e6), ns/1e3%1e3)
	default:
		b = append3(append3(append3(b, ns/1e6), ns/1e3%1e3), ns%1e3)
	}
	return append(b, 'Z')
}

// pairs holds "00" to "99", so that two digits cost one lookup rather than two divisions.
const pairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// append2 writes v, from 0 to 99, in two digits.
func append2(b []byte, v int) []byte {
	return append(b, pairs[2*v], pairs[2*v+1])
}

// append3 writes v, from 0 to 999, in three digits.
func append3(b []byte, v int) []byte {
	return append2(append(b, byte('0'+v/100)), v%100)
}
