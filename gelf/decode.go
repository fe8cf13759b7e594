package gelf

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/qnib/qwatch/message"
)

// internLimit bounds the strings a decoder remembers; when full it starts afresh.
const internLimit = 4096

// decoder turns whole GELF payloads into messages. It reuses its decompressors and buffers
// between calls, so it is not safe for concurrent use: each reader has its own.
type decoder struct {
	// maxMessageSize is the most bytes of JSON a payload may hold, after decompression
	// (Config.MaxMessageSize). A compressed payload is inflated no further than this.
	maxMessageSize int
	// maxFields is the most members the JSON object may have (Config.MaxFields).
	maxFields int

	inf         inflater
	scratch     []byte
	keyScratch  []byte
	skipScratch []byte
	intern      map[string]string
}

// decoders serves the HTTP handlers, which, unlike the UDP and TCP readers, run on goroutines
// of net/http's making.
var decoders = sync.Pool{New: func() any { return new(decoder) }}

// decode decodes one whole (not chunked) GELF payload: a JSON object, plain or compressed with
// gzip or zlib (told apart by their first bytes). A message without a timestamp gets received
// as its time. Errors are *inputErrors.
func (d *decoder) decode(payload []byte, received time.Time) (message.Message, error) {
	// The message holds copies: a large content's buffer goes back for other decoders when
	// this payload is done, not when this decoder, perhaps an idle TCP connection's, decodes
	// again.
	defer d.inf.release()
	data, err := d.decompress(payload)
	if err != nil {
		return message.Message{}, err
	}
	var m message.Message
	if err := d.parse(data, &m); err != nil {
		return message.Message{}, err
	}
	if m.Time.IsZero() {
		m.Time = received
	}
	return m, nil
}

func isGzip(p []byte) bool { return len(p) >= 2 && p[0] == 0x1f && p[1] == 0x8b }

// isZlib checks the zlib header: deflate with a window up to 32 KiB, and the check bits.
func isZlib(p []byte) bool {
	return len(p) >= 2 && p[0]&0x0f == 8 && p[0]>>4 <= 7 && (uint16(p[0])<<8|uint16(p[1]))%31 == 0
}

// notGELF returns the error decode would return for payload when its first bytes tell it
// cannot be GELF: a payload neither gzip nor zlib that is larger than limit or does not start
// with '{' after white space. It returns nil for every other payload, which only decoding
// can judge. It costs a few comparisons, where decode may inflate.
func notGELF(payload []byte, limit int) error {
	if isGzip(payload) || isZlib(payload) {
		return nil
	}
	if len(payload) > limit {
		return errPlainTooLarge(limit)
	}
	p := parser{data: payload}
	p.skipSpace()
	if !p.consume('{') {
		return errNotObject()
	}
	return nil
}

func errPlainTooLarge(limit int) error {
	return errorf(ReasonTooLarge, "message larger than %d bytes", limit)
}

func errNotObject() error { return errorf(ReasonJSON, "payload is not a JSON object") }

// decompress returns the JSON of payload; the slice is valid until the next call.
func (d *decoder) decompress(payload []byte) ([]byte, error) {
	limit := d.maxMessageSize
	zlibFormat := false
	switch {
	case isGzip(payload):
	case isZlib(payload):
		zlibFormat = true
	default:
		if len(payload) > limit {
			return nil, errPlainTooLarge(limit)
		}
		return payload, nil
	}
	data, err := d.inf.inflate(payload, zlibFormat, limit)
	if errors.Is(err, errInflateTooLarge) {
		return nil, errorf(ReasonTooLarge, "message larger than %d bytes after decompression", limit)
	}
	if err != nil {
		return nil, errorf(ReasonDecompress, "decompressing: %w", err)
	}
	return data, nil
}

// parse reads the GELF JSON object in data into m.
func (d *decoder) parse(data []byte, m *message.Message) error {
	p := parser{data: data}
	p.skipSpace()
	if !p.consume('{') {
		return errNotObject()
	}
	m.Level = message.LevelAlert // GELF's default when level is absent
	hasText, hasShort := false, false
	for n := 0; ; n++ {
		p.skipSpace()
		if p.consume('}') {
			break
		}
		if n > 0 {
			if !p.consume(',') {
				return p.syntaxError("',' or '}'")
			}
			p.skipSpace()
		}
		if n >= d.maxFields {
			return errorf(ReasonTooManyFields, "more than %d fields", d.maxFields)
		}
		if !p.consume('"') {
			return p.syntaxError("a string key")
		}
		key, err := p.readString(&d.keyScratch)
		if err != nil {
			return err
		}
		p.skipSpace()
		if !p.consume(':') {
			return p.syntaxError("':'")
		}
		p.skipSpace()
		v, err := d.readValue(&p)
		if err != nil {
			return err
		}
		switch string(key) {
		case "short_message":
			if v.kind != kindString {
				return errorf(ReasonBadValue, "short_message is not a string")
			}
			m.Text, hasText, hasShort = string(v.raw), true, true
		case "message":
			if !hasShort && v.kind == kindString {
				m.Text, hasText = string(v.raw), true
			}
		case "full_message":
			m.FullText = v.str(d, false)
		case "host":
			m.Host = v.str(d, true)
		case "version":
		case "timestamp":
			t, err := parseTimestamp(v)
			if err != nil {
				return err
			}
			m.Time = t
		case "level":
			l, err := parseLevel(v)
			if err != nil {
				return err
			}
			m.Level = l
		case "_container_id":
			m.Container.ID = v.str(d, true)
		case "_container_name":
			m.Container.Name = v.str(d, true)
		case "_image_id":
			m.Container.ImageID = v.str(d, true)
		case "_image_name":
			m.Container.ImageName = v.str(d, true)
		case "_command":
			m.Container.Command = v.str(d, true)
		case "_tag":
			m.Container.Tag = v.str(d, true)
		case "_created":
			if t, err := time.Parse(time.RFC3339Nano, string(v.raw)); err == nil {
				m.Container.Created = t
			} else {
				d.setField(m, "created", v)
			}
		case "_id":
			// GELF reserves _id; Graylog ignores it, and so do we.
		default:
			if len(key) > 1 && key[0] == '_' {
				key = key[1:]
			}
			d.setField(m, d.internBytes(key), v)
		}
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return p.syntaxError("end of payload")
	}
	if !hasText {
		return errorf(ReasonMissingMessage, "no short_message")
	}
	return nil
}

func (d *decoder) setField(m *message.Message, name string, v value) {
	if v.kind == kindNull {
		return
	}
	if m.Fields == nil {
		m.Fields = make(map[string]any, 4)
	}
	switch v.kind {
	case kindString:
		m.Fields[name] = v.str(d, true)
	case kindNumber:
		f, err := strconv.ParseFloat(string(v.raw), 64)
		if err != nil {
			m.Fields[name] = string(v.raw)
			return
		}
		m.Fields[name] = f
	case kindTrue:
		m.Fields[name] = true
	case kindFalse:
		m.Fields[name] = false
	default: // objects and arrays, which GELF does not allow: kept as their JSON text
		m.Fields[name] = string(v.raw)
	}
}

// internBytes returns b as a string, reusing an earlier copy: container IDs, names, hosts and
// field names repeat in every message of a container.
func (d *decoder) internBytes(b []byte) string {
	if len(b) > 256 {
		return string(b)
	}
	if s, ok := d.intern[string(b)]; ok {
		return s
	}
	if d.intern == nil || len(d.intern) >= internLimit {
		d.intern = make(map[string]string, 64)
	}
	s := string(b)
	d.intern[s] = s
	return s
}

type valueKind uint8

const (
	kindString valueKind = iota
	kindNumber
	kindTrue
	kindFalse
	kindNull
	kindObject
	kindArray
)

// value is one JSON value; raw is a string's unescaped bytes (valid until the next string is
// read) or the text of any other value.
type value struct {
	kind valueKind
	raw  []byte
}

func (v value) str(d *decoder, intern bool) string {
	if v.kind != kindString {
		return string(v.raw)
	}
	if intern {
		return d.internBytes(v.raw)
	}
	return string(v.raw)
}

func parseTimestamp(v value) (time.Time, error) {
	if v.kind != kindNumber && v.kind != kindString {
		return time.Time{}, errorf(ReasonBadValue, "timestamp is not a number")
	}
	sec, usec, ok := parseSeconds(v.raw)
	if !ok {
		return time.Time{}, errorf(ReasonBadValue, "timestamp %q is not a number of seconds", truncate(v.raw))
	}
	return time.Unix(sec, usec*1000).UTC(), nil
}

// parseSeconds reads a non-negative decimal number of seconds, keeping the fraction to the
// microsecond exactly (a float64 would not); exponents are accepted at float precision.
func parseSeconds(b []byte) (sec, usec int64, ok bool) {
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i >= 12 {
			return 0, 0, false
		}
		sec = sec*10 + int64(b[i]-'0')
	}
	if i == 0 {
		return 0, 0, false
	}
	if i == len(b) {
		return sec, 0, true
	}
	if b[i] == '.' {
		i++
		start := i
		scale := int64(100000)
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			usec += int64(b[i]-'0') * scale
			scale /= 10
		}
		if i == start {
			return 0, 0, false
		}
		if i == len(b) {
			return sec, usec, true
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > 1e12 {
		return 0, 0, false
	}
	sec = int64(f)
	return sec, int64((f-float64(sec))*1e6 + 0.5), true
}

func parseLevel(v value) (message.Level, error) {
	if v.kind == kindNumber || v.kind == kindString {
		if f, err := strconv.ParseFloat(string(v.raw), 64); err == nil && f >= 0 && f <= 7 && f == float64(int(f)) {
			return message.Level(f), nil
		}
	}
	return 0, errorf(ReasonBadValue, "level %q is not a syslog severity 0..7", truncate(v.raw))
}

func truncate(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "…"
	}
	return string(b)
}
