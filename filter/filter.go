package filter

import (
	"fmt"
	"maps"
	"strings"
	"sync/atomic"

	"github.com/qnib/qwatch/message"
)

// The defaults of a zero [Config].
const (
	DefaultMaxFields     = 64       // parsed fields kept from one line
	DefaultMaxDepth      = 4        // parts of a dotted field name; a deeper object is kept as JSON text
	DefaultMaxValueBytes = 16 << 10 // bytes of one field's value; a longer one is shortened
	DefaultMaxFieldBytes = 64 << 10 // bytes of all parsed field names and values of one line
)

// Names the stage reads from or writes to a message.
const (
	// LabelParse is the container label that chooses a container's [Mode] ("auto", "json",
	// "logfmt" or "off"), overriding Config.Parse.
	LabelParse = "qwatch.parse"
	// TruncatedField is the field that counts what the bounds cut from a parsed line: fields
	// dropped and values shortened. It is absent when nothing was cut.
	TruncatedField = "qwatch.parse.truncated"
	// clashPrefix goes before a parsed key that names a field the message already has.
	clashPrefix = "parsed."
)

// Mode says which structured formats a container's lines are parsed as.
type Mode uint8

const (
	ModeAuto   Mode = iota // JSON objects and logfmt, each recognised by its form
	ModeJSON               // JSON objects only; any other line is a parse failure
	ModeLogfmt             // logfmt only; any other line is a parse failure
	ModeOff                // no parsing; plain-line levels are still detected
)

var modeNames = [...]string{"auto", "json", "logfmt", "off"}

// String returns the mode's label value: auto, json, logfmt or off.
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode parses the names String returns, in any case.
func ParseMode(s string) (Mode, error) {
	for i, name := range modeNames {
		if strings.EqualFold(s, name) {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("filter: unknown parse mode %q (want auto, json, logfmt or off)", s)
}

// MarshalText returns the mode's name, so a Mode reads well in flags, YAML and JSON.
func (m Mode) MarshalText() ([]byte, error) {
	if int(m) >= len(modeNames) {
		return nil, fmt.Errorf("filter: invalid parse mode %d", uint8(m))
	}
	return []byte(modeNames[m]), nil
}

// UnmarshalText parses what ParseMode accepts.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Config sets up a [Stage]. Its zero value means the defaults; a bound of zero or less means
// that bound's default.
type Config struct {
	// Parse is the mode of containers without a qwatch.parse label (ModeAuto if zero).
	Parse Mode
	// MaxFields is the most fields one line adds (DefaultMaxFields).
	MaxFields int
	// MaxDepth is the most parts of a dotted field name (DefaultMaxDepth); an object nested
	// deeper is kept as its JSON text.
	MaxDepth int
	// MaxValueBytes is the most bytes of one field's value (DefaultMaxValueBytes); a longer
	// value is cut at a UTF-8 boundary.
	MaxValueBytes int
	// MaxFieldBytes is the most bytes of all field names and values one line adds
	// (DefaultMaxFieldBytes), a number or bool counting 8; fields past it are dropped.
	MaxFieldBytes int
}

// limits are a Config's bounds with the defaults filled in.
type limits struct {
	fields, depth, value, total int
}

func (c Config) limits() limits {
	or := func(v, def int) int {
		if v <= 0 {
			return def
		}
		return v
	}
	return limits{
		fields: or(c.MaxFields, DefaultMaxFields),
		depth:  or(c.MaxDepth, DefaultMaxDepth),
		value:  or(c.MaxValueBytes, DefaultMaxValueBytes),
		total:  or(c.MaxFieldBytes, DefaultMaxFieldBytes),
	}
}

// Stage is the stateless part of the filter stage: structured lines parsed into fields, the
// level of every log line, and service names. Make it with [New]; it is safe for concurrent
// use, and its processors may run on any number of goroutines at once.
type Stage struct {
	mode  Mode
	lim   limits
	stats struct {
		json, logfmt, failures, cut atomic.Uint64
		levels                      [message.LevelDebug + 1]atomic.Uint64
	}
}

// New returns a Stage set up by cfg. It starts nothing.
func New(cfg Config) *Stage {
	mode := cfg.Parse
	if mode > ModeOff {
		mode = ModeAuto
	}
	return &Stage{mode: mode, lim: cfg.limits()}
}

// Processors returns the stage's steps in the order they must run: [Stage.Parse], then
// [Service]. Each is a qwatch.Processor. Add them after any processor that fills in a
// message's container labels (such as dockerevents' Enrich, which does so for GELF messages):
// both steps read the labels.
func (s *Stage) Processors() []func(*message.Message) bool {
	return []func(*message.Message) bool{s.Parse, Service}
}

// Process runs the whole stage on m: Parse, then Service. It never drops a message (it
// returns true), so it can be used as a qwatch.Processor in place of the steps.
func (s *Stage) Process(m *message.Message) bool {
	s.Parse(m)
	return Service(m)
}

// Parse reads what a log line says about itself. A structured line (a JSON object, or
// logfmt, as the container's [Mode] allows) becomes fields, its message key (such as "msg")
// becomes Text and its level key (such as "level") the Level; the package documentation
// lists the keys, the values and the bounds. Any other line keeps its text, and its Level is
// set when the line names one near its start ("ERROR", "[warn]", "INFO:root:", glog's
// "E1129 …", a syslog "<3>"); otherwise it keeps the level its source gave it (on the logs
// paths, info for stdout and err for stderr). Only the first line of a multi-line Text is
// examined. Events are left alone. Parse never drops a message: it returns true.
func (s *Stage) Parse(m *message.Message) bool {
	if m.Kind != message.KindLog {
		return true
	}
	if s.structured(m, s.modeOf(m)) {
		return true
	}
	if l, ok := plainLevel(m.Text); ok {
		m.Level = l
		s.stats.levels[l].Add(1)
	}
	return true
}

// modeOf returns m's container's mode: its qwatch.parse label when that names a mode, else
// the configured one.
func (s *Stage) modeOf(m *message.Message) Mode {
	if v, ok := m.Container.Labels[LabelParse]; ok {
		if mode, err := ParseMode(v); err == nil {
			return mode
		}
	}
	return s.mode
}

// structured parses m's first line as mode allows and reports whether it did. A line that
// cannot be parsed leaves m unchanged; it counts as a failure when it starts like a JSON
// object, or when mode asks for one format only.
func (s *Stage) structured(m *message.Message, mode Mode) bool {
	if mode == ModeOff {
		return false
	}
	text := m.Text
	switch {
	case (mode == ModeAuto || mode == ModeJSON) && startsJSON(text):
		line, rest := firstLine(text)
		c := getCollector(s.lim)
		defer putCollector(c)
		if !c.parseJSON(line) {
			s.stats.failures.Add(1)
			return false
		}
		s.apply(c, m, rest)
		s.stats.json.Add(1)
		return true
	case (mode == ModeAuto || mode == ModeLogfmt) && startsLogfmt(text):
		line, rest := firstLine(text)
		c := getCollector(s.lim)
		defer putCollector(c)
		minPairs := 1
		if mode == ModeAuto {
			minPairs = 2 // one pair alone is too often prose ("see key=value below")
		}
		if !c.parseLogfmt(line, minPairs) {
			if mode == ModeLogfmt {
				s.stats.failures.Add(1)
			}
			return false
		}
		s.apply(c, m, rest)
		s.stats.logfmt.Add(1)
		return true
	case mode != ModeAuto:
		s.stats.failures.Add(1)
	}
	return false
}

// apply writes what c read from m's first line into m; rest is the text after that line.
func (s *Stage) apply(c *collector, m *message.Message, rest string) {
	if c.hasText {
		m.Text = c.text
		if rest != "" {
			m.Text = c.text + "\n" + rest
		}
	}
	if c.hasLevel {
		m.Level = c.level
		s.stats.levels[c.level].Add(1)
	}
	cut := c.cut
	if len(c.fields) > 0 || cut > 0 {
		f := newFields(m.Fields, len(c.fields)+1)
		for i := range c.fields {
			fl := &c.fields[i]
			name := fl.name
			if _, clash := m.Fields[name]; clash {
				name = clashPrefix + name
				if _, again := m.Fields[name]; again {
					cut++
					continue
				}
			}
			f[name] = fl.value()
		}
		if cut > 0 {
			f[TruncatedField] = float64(cut)
			s.stats.cut.Add(uint64(cut))
		}
		m.Fields = f
	}
}

// smallMap is how many entries a Go map holds before it outgrows its first group of slots.
const smallMap = 8

// newFields returns a new map holding the entries of old and room for more: the source's
// map is never written to, as it may be shared with other messages.
func newFields(old map[string]any, more int) map[string]any {
	if len(old) > 0 && len(old)+more <= smallMap {
		return maps.Clone(old) // one copy of the map's memory, no entry hashed again
	}
	f := make(map[string]any, len(old)+more)
	for k, v := range old {
		f[k] = v
	}
	return f
}

// startsJSON reports whether text's first non-blank byte opens an object.
func startsJSON(text string) bool {
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case ' ', '\t':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// firstLine splits text at its first newline.
func firstLine(text string) (line, rest string) {
	line, rest, _ = strings.Cut(text, "\n")
	return line, rest
}

// Stats counts what a Stage did since New.
type Stats struct {
	JSON          uint64 // lines parsed as JSON objects
	Logfmt        uint64 // lines parsed as logfmt
	ParseFailures uint64 // lines left unchanged that started like a JSON object, or that the container's mode required to parse
	FieldsCut     uint64 // fields dropped and values shortened by the bounds
	// Levels counts the levels read from lines, by severity (index it with a message.Level):
	// a structured line's level key, or a level named near the start of a plain line.
	Levels [message.LevelDebug + 1]uint64
}

// Stats returns the counters; it is safe to call at any time.
func (s *Stage) Stats() Stats {
	st := Stats{
		JSON:          s.stats.json.Load(),
		Logfmt:        s.stats.logfmt.Load(),
		ParseFailures: s.stats.failures.Load(),
		FieldsCut:     s.stats.cut.Load(),
	}
	for i := range st.Levels {
		st.Levels[i] = s.stats.levels[i].Load()
	}
	return st
}
