package delivery

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/qnib/qwatch/message"
)

// codecVersion leads each record, so that the binary form (see the package documentation) can
// change. Version 2 added the service's name and namespace after the fields; records of
// version 1, spooled by an earlier release, still decode.
const codecVersion = 2

// appendMessage appends the binary form of m to b.
func appendMessage(b []byte, m *message.Message) []byte {
	b = append(b, codecVersion, byte(m.Kind), byte(m.Level))
	b = appendTime(b, m.Time)
	for _, s := range [...]string{m.ID, m.Source, m.Host, m.Text, m.FullText,
		m.Container.ID, m.Container.Name, m.Container.ImageID, m.Container.ImageName,
		m.Container.Command, m.Container.Tag,
		m.Event.Type, m.Event.Action, m.Event.ActorID, m.Event.Scope} {
		b = appendString(b, s)
	}
	b = appendTime(b, m.Container.Created)
	b = appendStringMap(b, m.Container.Labels)
	b = appendStringMap(b, m.Event.Attributes)
	b = binary.AppendUvarint(b, uint64(len(m.Fields)))
	for k, v := range m.Fields {
		b = appendString(b, k)
		switch v := v.(type) {
		case string:
			b = appendString(append(b, 's'), v)
		case float64:
			b = binary.LittleEndian.AppendUint64(append(b, 'f'), math.Float64bits(v))
		case bool:
			t := byte(0)
			if v {
				t = 1
			}
			b = append(b, 'b', t)
		default:
			// Sources set strings, float64 numbers and bools; anything else is kept as text.
			b = appendString(append(b, 's'), fmt.Sprint(v))
		}
	}
	b = appendString(b, m.Service.Name)
	return appendString(b, m.Service.Namespace)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixNano())
}

func appendStringMap(b []byte, m map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, v := range m {
		b = appendString(appendString(b, k), v)
	}
	return b
}

var errCodec = errors.New("spooled message does not decode")

// decoder reads the binary form from one string: the strings of the message it decodes are
// parts of that string, one allocation a message rather than one a field. The first error
// sticks.
type decoder struct {
	s   string
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.s) < 1 {
		d.err = errCodec
		return 0
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

// uvarint reads what binary.AppendUvarint wrote.
func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var v uint64
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		c := d.s[i]
		if i == binary.MaxVarintLen64-1 && c > 1 {
			break // overflows 64 bits
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			d.s = d.s[i+1:]
			return v
		}
	}
	d.err = errCodec
	return 0
}

// varint reads what binary.AppendVarint wrote.
func (d *decoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.s)) {
		d.err = errCodec
		return ""
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

func (d *decoder) time() time.Time {
	if d.byte() == 0 || d.err != nil {
		return time.Time{}
	}
	v := d.varint()
	if d.err != nil {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

func (d *decoder) float() float64 {
	if d.err != nil || len(d.s) < 8 {
		d.err = errCodec
		return 0
	}
	var bits uint64
	for i := 7; i >= 0; i-- {
		bits = bits<<8 | uint64(d.s[i])
	}
	d.s = d.s[8:]
	return math.Float64frombits(bits)
}

func (d *decoder) stringMap() map[string]string {
	n := d.uvarint()
	if n == 0 || d.err != nil || n > uint64(len(d.s)) {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.string()
		m[k] = d.string()
	}
	return m
}

// decodeMessage reads a message appendMessage wrote into *m, which must be zero: in place,
// so that a batch's messages are not copied once more (each copy of a message is a typed copy,
// with write barriers while the collector runs). On an error *m is left zero.
func decodeMessage(b []byte, m *message.Message) error {
	d := &decoder{s: string(b)}
	version := d.byte()
	if version != 1 && version != codecVersion {
		return errCodec
	}
	m.Kind, m.Level = message.Kind(d.byte()), message.Level(d.byte())
	m.Time = d.time()
	for _, s := range [...]*string{&m.ID, &m.Source, &m.Host, &m.Text, &m.FullText,
		&m.Container.ID, &m.Container.Name, &m.Container.ImageID, &m.Container.ImageName,
		&m.Container.Command, &m.Container.Tag,
		&m.Event.Type, &m.Event.Action, &m.Event.ActorID, &m.Event.Scope} {
		*s = d.string()
	}
	m.Container.Created = d.time()
	m.Container.Labels = d.stringMap()
	m.Event.Attributes = d.stringMap()
	if n := d.uvarint(); n > 0 && n <= uint64(len(d.s)) {
		m.Fields = make(map[string]any, n)
		for range n {
			k := d.string()
			switch d.byte() {
			case 's':
				m.Fields[k] = d.string()
			case 'f':
				m.Fields[k] = d.float()
			case 'b':
				m.Fields[k] = d.byte() == 1
			default:
				d.err = errCodec
			}
		}
	}
	if version >= 2 {
		m.Service.Name, m.Service.Namespace = d.string(), d.string()
	}
	if d.err != nil {
		*m = message.Message{}
		return d.err
	}
	return nil
}
