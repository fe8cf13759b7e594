package dockerlogs

import (
	"errors"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// The json-file driver writes one JSON object a line:
//
//	{"log":"text\n","stream":"stdout","time":"2026-11-29T22:33:00.123456789Z"}
//
// with "attrs" (an object) when the container has --log-opt labels, env or tag. A line is
// decoded here rather than by encoding/json into a struct: that costs an allocation for each
// string and a reflection walk per line, on the path every line of every container takes.
// Only the grammar the engine writes is accepted (an object of string members, other members'
// values skipped), and strings are unescaped exactly as encoding/json does, invalid UTF-8 and
// lone surrogates becoming U+FFFD, so that a line reads the same as through the logs API.
//
// The scanners of packages gelf and filter were not reused: gelf's rejects invalid UTF-8 (a
// GELF payload must be valid), and filter's works on strings, bound to its field collector.

var errEntry = errors.New("not a json-file log entry")

// fileEntry is one decoded line: its text (with the newline the engine keeps, unless the
// line is a piece of a longer one), stream and time.
type fileEntry struct {
	log    []byte // a slice of the line, or of the decoder's scratch when it had escapes
	stderr bool
	time   time.Time
}

// entryDecoder decodes json-file lines; its scratch buffer is reused from line to line, so
// an entry's log is valid only until the next decode.
type entryDecoder struct {
	stamps  stampParser
	scratch []byte
}

// decode reads one line, without its newline.
func (d *entryDecoder) decode(line []byte) (fileEntry, error) {
	var e fileEntry
	p := jscan{b: line}
	p.space()
	if !p.next('{') {
		return e, errEntry
	}
	haveTime := false
	for first := true; ; first = false {
		p.space()
		if p.next('}') {
			break
		}
		if !first {
			if !p.next(',') {
				return e, errEntry
			}
			p.space()
		}
		if !p.next('"') {
			return e, errEntry
		}
		key, ok := p.rawString()
		if !ok {
			return e, errEntry
		}
		p.space()
		if !p.next(':') {
			return e, errEntry
		}
		p.space()
		switch string(key) {
		case "log":
			if !p.next('"') {
				return e, errEntry
			}
			if e.log, ok = p.str(&d.scratch); !ok {
				return e, errEntry
			}
		case "stream":
			if !p.next('"') {
				return e, errEntry
			}
			s, ok := p.rawString()
			if !ok {
				return e, errEntry
			}
			e.stderr = string(s) == "stderr"
		case "time":
			if !p.next('"') {
				return e, errEntry
			}
			s, ok := p.rawString()
			if !ok {
				return e, errEntry
			}
			if e.time, ok = d.stamps.parse(s); !ok {
				return e, errEntry
			}
			haveTime = true
		default:
			if !p.skipValue(0) {
				return e, errEntry
			}
		}
	}
	if !haveTime {
		return e, errEntry
	}
	return e, nil
}

// jscan scans a JSON text in a byte slice.
type jscan struct {
	b []byte
	i int
}

func (p *jscan) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jscan) next(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// rawString returns a string whose quote is consumed, as it is written: for keys, streams and
// times, which the engine writes without escapes. One with escapes is returned raw; it then
// matches no key and no stream, and fails as a time.
func (p *jscan) rawString() ([]byte, bool) {
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c == '\\':
			p.i += 2
			continue
		case c < 0x20:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// str returns a string whose quote is consumed, unescaped: a slice of the line when it needs
// no change, else of *scratch.
func (p *jscan) str(scratch *[]byte) ([]byte, bool) {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c == '\\' || c >= utf8.RuneSelf:
			return p.strSlow(start, scratch)
		case c < 0x20:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// strSlow unescapes a string from start into *scratch, as encoding/json does.
func (p *jscan) strSlow(start int, scratch *[]byte) ([]byte, bool) {
	b := append((*scratch)[:0], p.b[start:p.i]...)
	defer func() { *scratch = b[:0] }()
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return b, true
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, p.b[p.i:p.i+size]...)
			}
			p.i += size
			continue
		case c != '\\':
			b = append(b, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return nil, false
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, false
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if lo, ok := p.hex4(); ok && utf16.DecodeRune(r, lo) != utf8.RuneError {
						r2 = utf16.DecodeRune(r, lo)
					} else {
						p.i = save
					}
				}
				r = r2
			}
			b = utf8.AppendRune(b, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

func (p *jscan) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// maxSkipDepth bounds the nesting of a skipped value (attrs is one object of strings).
const maxSkipDepth = 32

// skipValue skips any JSON value, loosely: the engine writes only strings and objects of
// strings here, and an entry is never rejected for what it does not use.
func (p *jscan) skipValue(depth int) bool {
	if p.i >= len(p.b) || depth > maxSkipDepth {
		return false
	}
	switch c := p.b[p.i]; c {
	case '"':
		p.i++
		_, ok := p.rawString()
		return ok
	case '{', '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.i++
		for first := true; ; first = false {
			p.space()
			if p.next(closer) {
				return true
			}
			if !first && !p.next(',') {
				return false
			}
			p.space()
			if c == '{' {
				if !p.next('"') {
					return false
				}
				if _, ok := p.rawString(); !ok {
					return false
				}
				p.space()
				if !p.next(':') {
					return false
				}
				p.space()
			}
			if !p.skipValue(depth + 1) {
				return false
			}
		}
	default:
		start := p.i
		for p.i < len(p.b) && p.b[p.i] != ',' && p.b[p.i] != '}' && p.b[p.i] != ']' && p.b[p.i] > ' ' {
			p.i++
		}
		return p.i > start
	}
}

// parseStamp parses the engine's time stamps, RFC 3339 in UTC with up to nine digits of
// fraction, without allocating; anything else goes to time.Parse.
func parseStamp(s []byte) (time.Time, bool) {
	const fixed = len("2006-01-02T15:04:05")
	if len(s) < fixed+1 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		t, err := time.Parse(time.RFC3339Nano, string(s))
		return t, err == nil
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range s[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		t, err := time.Parse(time.RFC3339Nano, string(s))
		return t, err == nil
	}
	nsec, form, ok := fraction(s[fixed : len(s)-1])
	if !form {
		t, err := time.Parse(time.RFC3339Nano, string(s))
		return t, err == nil
	}
	if !ok {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // February 30th: time.Parse refuses it too
	}
	return t, true
}

// fraction parses the fraction of a second of a time stamp: empty, or a dot and one to nine
// digits. form is false when frac is not of that form, but for a digit; ok is false then too,
// and when a digit is not one.
func fraction(frac []byte) (nsec int, form, ok bool) {
	if len(frac) == 0 {
		return 0, true, true
	}
	if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
		return 0, false, false
	}
	for i := 1; i < 10; i++ {
		d := 0
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, true, false
			}
			d = int(c - '0')
		}
		nsec = nsec*10 + d
	}
	return nsec, true, true
}

// stampParser parses time stamps as parseStamp does, and remembers the second of the last
// one of the engine's form ("2006-01-02T15:04:05", a fraction, "Z"): a busy stream's stamps
// share their second, and then only the fraction is parsed, not the date.
type stampParser struct {
	second [len("2006-01-02T15:04:05")]byte
	unix   int64 // the second's Unix time; 0 before the first
}

func (p *stampParser) parse(s []byte) (time.Time, bool) {
	n := len(p.second)
	engineForm := len(s) > n && s[len(s)-1] == 'Z'
	if engineForm && p.unix != 0 && [len(p.second)]byte(s[:n]) == p.second {
		switch nsec, form, ok := fraction(s[n : len(s)-1]); {
		case ok:
			return time.Unix(p.unix, int64(nsec)).UTC(), true
		case form:
			return time.Time{}, false
		}
	}
	t, ok := parseStamp(s)
	if ok && engineForm && (s[n] == '.' || s[n] == 'Z') {
		p.second, p.unix = [len(p.second)]byte(s[:n]), t.Unix()
	}
	return t, ok
}
