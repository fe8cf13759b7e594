package filter

import (
	"math/bits"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxNesting is encoding/json's limit on nested objects and arrays; a deeper text is invalid
// there, so it is here.
const maxNesting = 10000

// jsonScanner reads one JSON object into a collector. It accepts exactly the texts that
// encoding/json accepts as an object and decodes strings exactly as it does (invalid UTF-8
// and lone surrogates become U+FFFD), so that a line means the same to both. Strings without
// escapes are returned as substrings of the line: no copy.
type jsonScanner struct {
	s string
	i int
	c *collector
}

// parseJSON reads line, which must be one JSON object and nothing else but blanks, into c.
func (c *collector) parseJSON(line string) bool {
	p := jsonScanner{s: line, c: c}
	p.space()
	if !p.next('{') || !p.object(0) {
		return false
	}
	p.space()
	if p.i != len(p.s) {
		return false
	}
	c.finish()
	return true
}

func (p *jsonScanner) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next consumes b if it comes next.
func (p *jsonScanner) next(b byte) bool {
	if p.i < len(p.s) && p.s[p.i] == b {
		p.i++
		return true
	}
	return false
}

// object reads the members of an object whose '{' is consumed, up to its '}'. depth is the
// number of objects around it whose members become fields (0 for the line's own object).
func (p *jsonScanner) object(depth int) bool {
	p.space()
	if p.next('}') {
		return true
	}
	for {
		p.space()
		if !p.next('"') {
			return false
		}
		key, ok := p.str()
		if !ok {
			return false
		}
		p.space()
		if !p.next(':') {
			return false
		}
		p.space()
		if !p.member(depth, key) {
			return false
		}
		p.space()
		if !p.next(',') {
			return p.next('}')
		}
	}
}

// member reads the value of key and keeps it.
func (p *jsonScanner) member(depth int, key string) bool {
	if p.i >= len(p.s) {
		return false
	}
	c := p.c
	switch b := p.s[p.i]; b {
	case '"':
		p.i++
		v, ok := p.str()
		if !ok {
			return false
		}
		if depth > 0 || !c.top(key, v) {
			c.addString(key, v)
		}
		return true
	case '{':
		if depth+1 >= c.lim.depth {
			return p.raw(depth, key)
		}
		if depth+2 > maxNesting {
			return false
		}
		p.i++
		n := len(c.path)
		c.path = append(append(c.path, key...), '.')
		ok := p.object(depth + 1)
		c.path = c.path[:n]
		return ok
	case '[':
		return p.raw(depth, key)
	case 't':
		if !p.literal("true") {
			return false
		}
		c.addBool(key, true)
		return true
	case 'f':
		if !p.literal("false") {
			return false
		}
		c.addBool(key, false)
		return true
	case 'n':
		return p.literal("null") // a null says nothing: no field
	}
	start := p.i
	if !p.number() {
		return false
	}
	f, ok := parseNumber(p.s[start:p.i])
	if !ok {
		return false // out of float64's range, which encoding/json refuses too
	}
	if depth > 0 || !c.topNumber(key, f) {
		c.addNumber(key, f)
	}
	return true
}

// raw checks the array or object that starts at the scanner and keeps its JSON text as the
// value of key. depth objects are open around it besides the line's own.
func (p *jsonScanner) raw(depth int, key string) bool {
	start := p.i
	if !p.skip(depth + 1) {
		return false
	}
	p.c.addString(key, p.s[start:p.i])
	return true
}

func (p *jsonScanner) literal(word string) bool {
	if len(p.s)-p.i >= len(word) && p.s[p.i:p.i+len(word)] == word {
		p.i += len(word)
		return true
	}
	return false
}

// number consumes a number in JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonScanner) number() bool {
	s, i := p.s, p.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digits(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := digits(s, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(s, i)
		if j == i {
			return false
		}
		i = j
	}
	p.i = i
	return true
}

// parseNumber converts a number in JSON's grammar as strconv.ParseFloat does, and reports
// whether it is within float64's range. An integer of up to 15 digits, exact in a float64,
// is converted without it.
func parseNumber(s string) (float64, bool) {
	digits := s
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) <= 15 {
		var n uint64
		for i := 0; i < len(digits); i++ {
			c := digits[i]
			if c < '0' || c > '9' {
				f, err := strconv.ParseFloat(s, 64)
				return f, err == nil
			}
			n = n*10 + uint64(c-'0')
		}
		if s[0] == '-' {
			return -float64(n), true
		}
		return float64(n), true
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func digits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// skip checks one value without keeping it, iteratively so that deep nesting costs no stack.
// open is the number of objects and arrays already open around it.
func (p *jsonScanner) skip(open int) bool {
	stack := p.c.stack[:0]
	defer func() { p.c.stack = stack }()
	for {
		// A value.
		p.space()
		if p.i >= len(p.s) {
			return false
		}
		switch b := p.s[p.i]; b {
		case '{', '[':
			if open+len(stack)+1 > maxNesting {
				return false
			}
			p.i++
			p.space()
			if p.next(b + 2) { // '{'+2 is '}', '['+2 is ']'
				break
			}
			stack = append(stack, b)
			if b == '{' && !p.skipKey() {
				return false
			}
			continue
		case '"':
			p.i++
			if !p.skipStr() {
				return false
			}
		case 't':
			if !p.literal("true") {
				return false
			}
		case 'f':
			if !p.literal("false") {
				return false
			}
		case 'n':
			if !p.literal("null") {
				return false
			}
		default:
			start := p.i
			if !p.number() {
				return false
			}
			if _, err := strconv.ParseFloat(p.s[start:p.i], 64); err != nil {
				return false
			}
		}
		// After a value: close what ends here, until a comma asks for the next value.
		for {
			if len(stack) == 0 {
				return true
			}
			p.space()
			inner := stack[len(stack)-1]
			if p.next(',') {
				if inner == '{' && !p.skipKey() {
					return false
				}
				break
			}
			if !p.next(inner + 2) {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
}

// skipKey checks an object key and its colon.
func (p *jsonScanner) skipKey() bool {
	p.space()
	if !p.next('"') || !p.skipStr() {
		return false
	}
	p.space()
	return p.next(':')
}

// skipStr checks a string whose opening quote is consumed, up to its closing quote.
func (p *jsonScanner) skipStr() bool {
	s := p.s
	for i := p.i; i < len(s); {
		switch c := s[i]; {
		case c == '"':
			p.i = i + 1
			return true
		case c == '\\':
			n := escapeLen(s, i)
			if n == 0 {
				return false
			}
			i += n
		case c < 0x20:
			return false
		default:
			i++
		}
	}
	return false
}

// escapeLen returns the length of the valid escape at s[i] (a backslash), or 0.
func escapeLen(s string, i int) int {
	if i+1 >= len(s) {
		return 0
	}
	switch s[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if hex4(s, i) >= 0 {
			return 6
		}
	}
	return 0
}

// hex4 returns the code unit of the \uXXXX escape at s[i], or -1 when there is none.
func hex4(s string, i int) rune {
	if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range []byte(s[i+2 : i+6]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// str reads a string whose opening quote is consumed. Plain text is scanned eight bytes at a
// time; a string with escapes or invalid UTF-8 is decoded by strSlow.
func (p *jsonScanner) str() (string, bool) {
	s := p.s
	start, i := p.i, p.i
	var high uint64 // the high bits of the bytes passed: non-zero when any is not ASCII
	for {
		if i+8 <= len(s) {
			x := load64(s, i)
			m := specialMask(x)
			if m == 0 {
				high |= x & hiBits
				i += 8
				continue
			}
			n := bits.TrailingZeros64(m) / 8 // the first special byte
			high |= x & hiBits & (1<<(8*n) - 1)
			i += n
		} else {
			for i < len(s) && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' {
				high |= uint64(s[i] & 0x80)
				i++
			}
			if i >= len(s) {
				return "", false
			}
		}
		switch s[i] {
		case '"':
			v := s[start:i]
			if high != 0 && !utf8.ValidString(v) {
				return p.strSlow(start)
			}
			p.i = i + 1
			return v, true
		case '\\':
			return p.strSlow(start)
		}
		return "", false // a control character
	}
}

// strSlow decodes the string that starts at s[start] as encoding/json does: escapes
// replaced, each byte of invalid UTF-8 and each lone surrogate made U+FFFD.
func (p *jsonScanner) strSlow(start int) (string, bool) {
	s := p.s
	b := p.c.scratch[:0]
	defer func() { p.c.scratch = b[:0] }()
	for i := start; i < len(s); {
		// Copy a run of plain ASCII at once, eight bytes at a time where it is long.
		j := i
		for j+8 <= len(s) {
			if x := load64(s, j); specialMask(x)|x&hiBits != 0 {
				break
			}
			j += 8
		}
		for j < len(s) && s[j] >= 0x20 && s[j] < utf8.RuneSelf && s[j] != '"' && s[j] != '\\' {
			j++
		}
		b = append(b, s[i:j]...)
		if i = j; i >= len(s) {
			break
		}
		c := s[i]
		switch {
		case c == '"':
			p.i = i + 1
			return string(b), true
		case c == '\\':
			if i+1 >= len(s) {
				return "", false
			}
			switch e := s[i+1]; e {
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
				r := hex4(s, i)
				if r < 0 {
					return "", false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if dec := utf16.DecodeRune(r, hex4(s, i)); dec != unicode.ReplacementChar {
						r = dec
						i += 6
					} else {
						r = unicode.ReplacementChar
					}
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return "", false
			}
			i += 2
		case c < 0x20:
			return "", false
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r) // utf8.RuneError for an invalid byte, as encoding/json writes
			i += size
		}
	}
	return "", false
}

const (
	loBits = 0x0101010101010101
	hiBits = 0x8080808080808080
)

// load64 reads s[i:i+8] as a little-endian word.
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// specialMask has the high bit set of the first byte of x (the lowest) that ends a string,
// starts an escape or is a control character, and is 0 when there is none. Bits above the
// first may be set wrongly (a borrow carries up), never below it. Bytes of 0x80 and above
// are not special.
func specialMask(x uint64) uint64 {
	hasZero := func(v uint64) uint64 { return (v - loBits) & ^v & hiBits }
	less20 := (x - loBits*0x20) & ^x & hiBits
	return less20 | hasZero(x^(loBits*'"')) | hasZero(x^(loBits*'\\'))
}
