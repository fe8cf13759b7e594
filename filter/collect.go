package filter

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/qnib/qwatch/message"
)

type valueKind uint8

const (
	kindString valueKind = iota
	kindNumber
	kindBool
)

// field is one parsed field, kept unboxed until the line is known to be valid.
type field struct {
	name string // empty for a dotted name, until the collector's names are made a string
	at   [2]int // where a dotted name is in the collector's names
	kind valueKind
	str  string
	num  float64
	b    bool
}

func (f *field) value() any {
	switch f.kind {
	case kindNumber:
		return f.num
	case kindBool:
		return f.b
	}
	return f.str
}

// collector gathers what one structured line says, within the bounds, before anything is
// written to the message: a line found invalid half-way leaves the message as it was.
type collector struct {
	lim      limits
	fields   []field
	bytes    int // names and values kept so far
	cut      int // fields dropped and values shortened
	text     string
	hasText  bool
	level    message.Level
	hasLevel bool
	eventKey string // structlog's message key, "event", as the line spells it
	event    string
	hasEvent bool

	path    []byte // the dotted name of the object being read, with a trailing dot
	names   []byte // the dotted names of the line, one after another: one string in the end
	scratch []byte // strings with escapes are decoded here
	stack   []byte // brackets open while a value is skipped over
}

var collectors = sync.Pool{New: func() any { return new(collector) }}

func getCollector(lim limits) *collector {
	c := collectors.Get().(*collector)
	c.lim = lim
	return c
}

// keepBytes bounds a pooled collector's buffers: one huge line does not keep its memory.
const keepBytes = 64 << 10

// putCollector clears c, so that the pool keeps no line alive, and returns it to the pool.
func putCollector(c *collector) {
	clear(c.fields)
	*c = collector{fields: c.fields[:0], path: keep(c.path), names: keep(c.names), scratch: keep(c.scratch), stack: keep(c.stack)}
	collectors.Put(c)
}

// keep returns b emptied, or nil when it is larger than a pooled collector keeps.
func keep(b []byte) []byte {
	if cap(b) > keepBytes {
		return nil
	}
	return b[:0]
}

// top takes a top-level key's string value as the message or the level when key names one
// and that is not taken yet; it reports whether it did.
func (c *collector) top(key, v string) bool {
	switch {
	case !c.hasText && v != "" && isMessageKey(key):
		c.text, c.hasText = v, true
		return true
	case !c.hasEvent && isEventKey(key):
		c.eventKey, c.event, c.hasEvent = key, v, true
		return true
	case !c.hasLevel && isLevelKey(key):
		l, ok := levelOfName(v)
		if !ok {
			l, ok = levelOfNumberText(v)
		}
		if ok {
			c.level, c.hasLevel = l, true
		}
		return ok
	}
	return false
}

// finish settles what only the end of the line tells: structlog's "event" is the message
// when no msg or message key came, and a field otherwise; and it names the fields.
func (c *collector) finish() {
	if c.hasEvent {
		if !c.hasText && c.event != "" {
			c.text, c.hasText = c.event, true
		} else {
			c.addString(c.eventKey, c.event)
		}
	}
	c.nameFields()
}

// topNumber takes a number as the level when key names one that is not taken yet.
func (c *collector) topNumber(key string, f float64) bool {
	if c.hasLevel || !isLevelKey(key) {
		return false
	}
	l, ok := levelOfNumber(f)
	if ok {
		c.level, c.hasLevel = l, true
	}
	return ok
}

func isMessageKey(k string) bool {
	switch len(k) {
	case len("msg"):
		return strings.EqualFold(k, "msg")
	case len("message"):
		return strings.EqualFold(k, "message")
	}
	return false
}

func isEventKey(k string) bool { return len(k) == len("event") && strings.EqualFold(k, "event") }

// isLevelKey reports whether k names the level: level, lvl, severity, or levelname (Python's
// logging attribute, which python-json-logger writes by that name).
func isLevelKey(k string) bool {
	switch len(k) {
	case len("lvl"):
		return strings.EqualFold(k, "lvl")
	case len("level"):
		return strings.EqualFold(k, "level")
	case len("severity"):
		return strings.EqualFold(k, "severity")
	case len("levelname"):
		return strings.EqualFold(k, "levelname")
	}
	return false
}

// room reports whether one more field may be kept, counting it as cut when not.
func (c *collector) room() bool {
	if len(c.fields) >= c.lim.fields {
		c.cut++
		return false
	}
	return true
}

// field returns a field for key in the object being read. A dotted name is put in c.names;
// nameFields gives it its string.
func (c *collector) field(key string, kind valueKind) field {
	if len(c.path) == 0 {
		return field{name: key, kind: kind}
	}
	start := len(c.names)
	c.names = append(append(c.names, c.path...), key...)
	return field{at: [2]int{start, len(c.names)}, kind: kind}
}

// nameFields gives the fields with dotted names their names, all made from one string.
func (c *collector) nameFields() {
	if len(c.names) == 0 {
		return
	}
	names := string(c.names)
	for i := range c.fields {
		if f := &c.fields[i]; f.at[1] > 0 {
			f.name = names[f.at[0]:f.at[1]]
		}
	}
}

// addString keeps a string field, shortened to the value bound.
func (c *collector) addString(key, v string) {
	if !c.room() {
		return
	}
	short := false
	if len(v) > c.lim.value {
		v, short = cutUTF8(v, c.lim.value), true
	}
	if !c.charge(len(key) + len(v)) {
		return
	}
	if short {
		c.cut++
	}
	f := c.field(key, kindString)
	f.str = v
	c.fields = append(c.fields, f)
}

func (c *collector) addNumber(key string, f float64) {
	if c.room() && c.charge(len(key)+8) {
		fl := c.field(key, kindNumber)
		fl.num = f
		c.fields = append(c.fields, fl)
	}
}

func (c *collector) addBool(key string, b bool) {
	if c.room() && c.charge(len(key)+8) {
		f := c.field(key, kindBool)
		f.b = b
		c.fields = append(c.fields, f)
	}
}

// charge counts n bytes against the line's bound and reports whether they fit, counting the
// field as cut when not.
func (c *collector) charge(n int) bool {
	n += len(c.path)
	if c.bytes+n > c.lim.total {
		c.cut++
		return false
	}
	c.bytes += n
	return true
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not split a UTF-8
// sequence.
func cutUTF8(s string, n int) string {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// levelOfNumberText reads a level written as a number, as levelOfNumber does.
func levelOfNumberText(s string) (message.Level, bool) {
	if s == "" || len(s) > 8 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return levelOfNumber(f)
}

// levelOfNumber reads a numeric level: 0 to 7 as syslog severities, 10 to 100 as pino and
// bunyan number them (10 trace and 20 debug: debug, 30 info, 40 warning, 50 err, 60 and up
// crit; a custom level between two takes the lower one's).
func levelOfNumber(f float64) (message.Level, bool) {
	if f != float64(int(f)) {
		return 0, false
	}
	switch n := int(f); {
	case n >= 0 && n <= 7:
		return message.Level(n), true
	case n >= 10 && n < 30:
		return message.LevelDebug, true
	case n >= 30 && n < 40:
		return message.LevelInfo, true
	case n >= 40 && n < 50:
		return message.LevelWarning, true
	case n >= 50 && n < 60:
		return message.LevelErr, true
	case n >= 60 && n <= 100:
		return message.LevelCrit, true
	}
	return 0, false
}
