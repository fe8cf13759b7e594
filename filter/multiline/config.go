package multiline

import (
	"sync/atomic"
	"time"
)

// The defaults of [Config] and [NewBudget]. DefaultIdle is larger than DefaultGap by a
// margin on purpose; the package documentation says why.
const (
	DefaultIntro      = 20 * time.Millisecond
	DefaultGap        = 250 * time.Millisecond
	DefaultIdle       = 750 * time.Millisecond
	DefaultMaxLines   = 500
	DefaultMaxBytes   = 1 << 20
	DefaultBudget     = 64 << 20
	DefaultMaxStreams = 4096
)

// The fields a group's event carries, in message.Message.Fields.
const (
	// FieldKind holds what grouped the lines: java, python, go, node, dotnet, ruby, php, or
	// custom for a [Start] or [Continue] rule.
	FieldKind = "multiline"
	// FieldPart holds, as a float64, the number of the part (1, 2, …) of a group split at a
	// bound; only the events of a split group carry it.
	FieldPart = "multiline.part"
)

// Config bounds and times the grouping. The zero Config means the defaults; a field of zero
// or less means its default.
type Config struct {
	// Gap closes a group when the next line's own timestamp (message.Time) is further than
	// Gap from the previous line's, either way: a trace is written in one burst. Default
	// DefaultGap.
	Gap time.Duration
	// Intro is the longest a line may come before a trace's first line and still be taken
	// as the log line that introduces it (a logging library writes both at once). Default
	// DefaultIntro.
	Intro time.Duration
	// Idle closes a group when no line came for Idle on the wall clock, so that a trace is
	// never held back waiting for a line that does not come; see Stream.Tick. Keep it well
	// above Gap (default DefaultIdle).
	Idle time.Duration
	// MaxLines and MaxBytes bound one event: a group that would grow past either is emitted
	// and goes on in a continuation. MaxBytes counts the joined text, newlines included; a
	// single line longer than MaxBytes is emitted as it is. Defaults DefaultMaxLines and
	// DefaultMaxBytes.
	MaxLines int
	MaxBytes int
	// MaxStreams bounds the streams a Groups keeps (default DefaultMaxStreams); Stream
	// ignores it.
	MaxStreams int
}

// TickEvery returns how often to call Tick: a quarter of Idle, so that what a stream holds
// goes out at most 1.25 Idle after its last line.
func (c Config) TickEvery() time.Duration { return c.withDefaults().Idle / 4 }

func (c Config) withDefaults() Config {
	if c.Gap <= 0 {
		c.Gap = DefaultGap
	}
	if c.Intro <= 0 {
		c.Intro = DefaultIntro
	}
	if c.Idle <= 0 {
		c.Idle = DefaultIdle
	}
	if c.MaxLines <= 0 {
		c.MaxLines = DefaultMaxLines
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	return c
}

// Budget is shared by the streams of one source: it bounds the text bytes their held lines
// take together, and it counts what they do. It is safe for concurrent use.
//
// When a line comes to a stream that holds lines, would be held with them, and the Budget has
// no room for it, what the stream holds goes out first: a group is emitted as it is and goes
// on in a continuation, as at Config.MaxBytes, and lines not yet known to be a group go out
// alone (counted in Stats.Overflows). The line itself is held all the same: a stream always
// holds the lines it must look past before it can tell what they are (at most a dozen,
// usually one), so Held can exceed the limit by those.
type Budget struct {
	limit int64
	held  atomic.Int64

	groups, joined, continuations, overflows atomic.Uint64
	idleClosed, gapClosed, evicted           atomic.Uint64
}

// NewBudget returns a Budget of limit bytes; DefaultBudget if limit is zero or less.
func NewBudget(limit int64) *Budget {
	if limit <= 0 {
		limit = DefaultBudget
	}
	return &Budget{limit: limit}
}

// Limit returns the Budget's limit in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// take counts n more bytes held and reports whether the total stays within the limit.
func (b *Budget) take(n int) bool { return b.held.Add(int64(n)) <= b.limit }

// Stats are the counters of the streams that share a Budget.
type Stats struct {
	Groups        uint64 // group events emitted: of more than one line, or parts of a split group
	Joined        uint64 // lines in those events
	Continuations uint64 // parts after the first of groups split at a bound
	Overflows     uint64 // times a stream let out what it held because the Budget had no room
	IdleClosed    uint64 // times Tick emitted what a stream held
	GapClosed     uint64 // times a line's timestamp gap closed what a stream held
	Evicted       uint64 // streams Groups closed early and forgot because it had MaxStreams
	Held          int64  // text bytes held now
}

// Stats returns the counters.
func (b *Budget) Stats() Stats {
	return Stats{
		Groups:        b.groups.Load(),
		Joined:        b.joined.Load(),
		Continuations: b.continuations.Load(),
		Overflows:     b.overflows.Load(),
		IdleClosed:    b.idleClosed.Load(),
		GapClosed:     b.gapClosed.Load(),
		Evicted:       b.evicted.Load(),
		Held:          b.held.Load(),
	}
}
