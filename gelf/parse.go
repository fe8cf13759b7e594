package gelf

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of objects and arrays in field values, which GELF does not allow
// but which are skipped over rather than rejected.
const maxDepth = 64

// parser scans one JSON text. It checks the grammar of what it reads, and that strings are
// valid UTF-8, without building any value it is not asked for.
type parser struct {
	data []byte
	pos  int
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) consume(c byte) bool {
	if p.pos < len(p.data) && p.data[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *parser) syntaxError(want string) *inputError {
	if p.pos >= len(p.data) {
		return errorf(ReasonJSON, "invalid JSON: payload ends where %s was expected", want)
	}
	return errorf(ReasonJSON, "invalid JSON at byte %d: %q where %s was expected", p.pos, p.data[p.pos], want)
}

// readString reads a string whose opening quote has been consumed and returns its unescaped
// bytes: a slice of the input when it has no escapes, else of *buf.
func (p *parser) readString(buf *[]byte) ([]byte, error) {
	start := p.pos
	ascii := true
	for {
		// Eight bytes at a time while none of them ends the string, starts an escape or is
		// a control character: log lines are long and mostly plain.
		for p.pos+8 <= len(p.data) {
			x := binary.LittleEndian.Uint64(p.data[p.pos:])
			if special(x) {
				break
			}
			ascii = ascii && x&hiBits == 0
			p.pos += 8
		}
		if p.pos >= len(p.data) {
			break
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			s := p.data[start:p.pos]
			p.pos++
			if !ascii && !utf8.Valid(s) {
				return nil, errorf(ReasonUTF8, "string at byte %d is not valid UTF-8", start)
			}
			return s, nil
		case c == '\\':
			return p.readEscaped(start, buf)
		case c < 0x20:
			return nil, errorf(ReasonJSON, "invalid JSON: control character %#x in string at byte %d", c, p.pos)
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.pos++
	}
	return nil, p.syntaxError(`'"'`)
}

const (
	loBits = 0x0101010101010101
	hiBits = 0x8080808080808080
)

// special reports whether any byte of x is '"', '\\' or a control character (below 0x20).
func special(x uint64) bool {
	q := x ^ (loBits * '"')
	b := x ^ (loBits * '\\')
	return ((q-loBits)&^q|(b-loBits)&^b|(x-loBits*0x20)&^x)&hiBits != 0
}

// readEscaped finishes a string that has escapes, from start, into *buf.
func (p *parser) readEscaped(start int, buf *[]byte) ([]byte, error) {
	b := append((*buf)[:0], p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			*buf = b
			if !utf8.Valid(b) {
				return nil, errorf(ReasonUTF8, "string at byte %d is not valid UTF-8", start)
			}
			return b, nil
		case c < 0x20:
			return nil, errorf(ReasonJSON, "invalid JSON: control character %#x in string at byte %d", c, p.pos)
		case c != '\\':
			b = append(b, c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.data) {
			break
		}
		e := p.data[p.pos+1]
		p.pos += 2
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
				return nil, errorf(ReasonJSON, "invalid JSON: bad \\u escape at byte %d", p.pos-2)
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(utf8.RuneError)
				if p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					if lo, ok := p.hex4(); ok && utf16.DecodeRune(r, lo) != utf8.RuneError {
						r2 = utf16.DecodeRune(r, lo)
					} else {
						p.pos = save
					}
				}
				r = r2
			}
			b = utf8.AppendRune(b, r)
		default:
			return nil, errorf(ReasonJSON, "invalid JSON: unknown escape \\%c at byte %d", e, p.pos-2)
		}
	}
	return nil, p.syntaxError(`'"'`)
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
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
	p.pos += 4
	return r, true
}

// readValue reads any JSON value.
func (d *decoder) readValue(p *parser) (value, error) {
	if p.pos >= len(p.data) {
		return value{}, p.syntaxError("a value")
	}
	switch c := p.data[p.pos]; {
	case c == '"':
		p.pos++
		s, err := p.readString(&d.scratch)
		return value{kind: kindString, raw: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.readNumber()
	case c == 't':
		return p.literal("true", kindTrue)
	case c == 'f':
		return p.literal("false", kindFalse)
	case c == 'n':
		return p.literal("null", kindNull)
	case c == '{' || c == '[':
		start := p.pos
		if err := d.skipComposite(p, 0); err != nil {
			return value{}, err
		}
		kind := kindObject
		if c == '[' {
			kind = kindArray
		}
		return value{kind: kind, raw: p.data[start:p.pos]}, nil
	}
	return value{}, p.syntaxError("a value")
}

func (p *parser) literal(word string, kind valueKind) (value, error) {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return value{}, p.syntaxError(word)
	}
	p.pos += len(word)
	return value{kind: kind, raw: p.data[p.pos-len(word) : p.pos]}, nil
}

// readNumber reads a number by JSON's grammar.
func (p *parser) readNumber() (value, error) {
	start := p.pos
	p.consume('-')
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.pos < len(p.data) && p.data[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return value{}, p.syntaxError("a digit")
	}
	if p.consume('.') && digits() == 0 {
		return value{}, p.syntaxError("a digit")
	}
	if p.consume('e') || p.consume('E') {
		if !p.consume('+') {
			p.consume('-')
		}
		if digits() == 0 {
			return value{}, p.syntaxError("a digit")
		}
	}
	return value{kind: kindNumber, raw: p.data[start:p.pos]}, nil
}

// skipComposite skips an object or array, checking its grammar, to a bounded depth.
func (d *decoder) skipComposite(p *parser, depth int) error {
	if depth >= maxDepth {
		return errorf(ReasonJSON, "invalid JSON: nested deeper than %d", maxDepth)
	}
	open := p.data[p.pos]
	close := byte('}')
	if open == '[' {
		close = ']'
	}
	p.pos++
	for n := 0; ; n++ {
		p.skipSpace()
		if p.consume(close) {
			return nil
		}
		if n > 0 {
			if !p.consume(',') {
				return p.syntaxError(fmt.Sprintf("',' or '%c'", close))
			}
			p.skipSpace()
		}
		if open == '{' {
			if !p.consume('"') {
				return p.syntaxError("a string key")
			}
			if _, err := p.readString(&d.skipScratch); err != nil {
				return err
			}
			p.skipSpace()
			if !p.consume(':') {
				return p.syntaxError("':'")
			}
			p.skipSpace()
		}
		if p.pos < len(p.data) && (p.data[p.pos] == '{' || p.data[p.pos] == '[') {
			if err := d.skipComposite(p, depth+1); err != nil {
				return err
			}
			continue
		}
		if _, err := d.readValue(p); err != nil {
			return err
		}
	}
}
