// Package multiline groups the lines of one ordered stream into events, so that a stack
// trace is one event: the log line that introduced it, its header, its frames, its causes.
//
// It belongs where a source still holds a container's stream in order: [Stream] for one
// stream (one container's stdout, or its stderr), [Groups] for a source that reads many
// streams through one reader and tells them apart by a key. It imports only the message
// package. A stream is never mixed with another: interleaving is the caller's to undo, by
// keeping a Stream per stream or keying Groups by container and stream.
//
// # What is grouped
//
// The built-in rules know the traces of the JVM (Java, Kotlin, Scala: the header
// `pkg.SomeException: message`, or `Exception in thread "main" …`, `\tat` frames,
// `Caused by:`, `Suppressed:`, `... N more`, `... N common frames omitted`, and
// java.util.logging's two-line record head), Python (`Traceback (most recent call last):`,
// `File` lines and their code, the exception line, chained tracebacks joined by "During
// handling of the above exception…" / "The above exception was the direct cause…",
// exception groups), Go (`panic:` and `fatal error:` with their `[signal …]` and
// `[recovered]`, every `goroutine N [state]:` block, `created by`, go run's `exit status N`),
// Node.js (`Error: message` and its subclasses, `    at` frames, the uncaught-exception
// preamble with its source line and caret, error properties with `[cause]:` up to the
// closing `}`, the `Node.js vNN` trailer right after the frames or the `}`), .NET
// (`   at … in file:line N`, ` ---> ` inner exceptions, `--- End of inner exception stack
// trace ---`), Ruby (`file:N:in 'm': message (Class)` and its `\tfrom` lines, causes
// included) and PHP (`PHP Fatal error:  Uncaught`, `Stack trace:`, `#N` frames, `Next`
// exceptions, `  thrown in`). [Auto], the zero [Rule], knows all of them; [RuleByName]
// selects some, as the label qwatch.multiline does; [Off] groups nothing. [Start] and
// [Continue] (and [ParseStart], for the label qwatch.multiline.start) are custom rules in
// the manner of Filebeat's and Vector's: a regular expression for first lines, or for the
// lines that continue a group.
//
// An ordinary line is never merged: a false merge is worse than a split. A header is only
// taken as the start of a trace when the line after it is the runtime's next line (a frame,
// a goroutine, a File line); every other line stays an event of its own. A trace takes the
// line before its header as its introducing line only when that line was stamped within
// [Config].Intro of it (a logging library writes both at once), only when the header is one
// a log line can come with, and never a blank line, a JSON record or the end of another
// trace. The JVM's `Exception in thread`, Go's `fatal error:`, Node's uncaught-exception
// preamble, .NET's `Unhandled exception.` and Ruby's and PHP's reports come with none; a Go
// panic comes with one only when log.Panic wrote it, ending with the panic's message.
// Python's uncaught traceback looks like one that logging.exception wrote, and takes a line
// stamped within Intro before it. Two traces in a row stay two, but for Ruby's, which prints
// an exception's cause exactly as an exception: two of its traces less than Gap apart are
// one. A blank line or a JSON record never begins a group.
//
// # Empty lines
//
// Docker's GELF driver does not send empty lines (the json-file and the logs API keep them),
// so the built-in rules make a trace one event with its empty lines or without them. Where a
// runtime prints an empty line inside a trace, the line after it may also come right after
// the line before it: Python's chain sentence after an exception line (or an exception
// group's last line), and the next traceback after the chain sentence; Node's error after
// its uncaught-exception preamble's caret line; Node's `Node.js vNN` trailer after the last
// frame or the properties' closing `}`. Nothing else joins for a missing empty line: a
// traceback right after another's exception line, with no chain sentence between them, is
// another event, and so is a trailer after anything but a Node trace.
//
// # Events
//
// A group's event is its first line's message (ID, Time, Level, Container, Fields…) with
// Text set to all its lines joined by "\n", in order, and a copy of its Fields with
// [FieldKind] set to the rule that grouped it ("java", "python", "go", "node", "dotnet",
// "ruby", "php", "custom"). The caller's maps are never changed. A line that is no group's is
// emitted as it came, without an allocation or a field added. Lines come out in the order
// they went in, none lost, none twice.
//
// # Closing
//
// A group closes at the first line that does not continue it, at a gap in the lines' own
// timestamps (message.Time) larger than [Config].Gap, on idle, and when the stream ends
// ([Stream.Flush]). The stream reads no clock: [Stream.Tick], called every
// [Config.TickEvery], is its wall clock, and a stream that had no line for [Config].Idle
// emits what it holds. Every line waits for the next one (it may introduce a trace), so a
// quiet stream's last line comes out between Idle and Idle plus the tick interval late.
//
// Gap is 250 ms by default: a runtime writes a trace in one burst, microseconds between
// lines, and a logging library writes the introducing line in the same write; 250 ms spans a
// throttled container's scheduling pauses (CFS periods are 100 ms) and is far shorter than
// the time a crashed process takes to restart and write its next trace. Idle is 750 ms by
// default, well above Gap, and that margin is what makes the grouping deterministic: an idle
// close means no line arrived for Idle, and since the engine stamps a line when it reads it
// and the source gets it shortly after, the next line's timestamp is about Idle or more
// after the last one, more than Gap. A replay of the same lines, with no idle time between
// them, closes the group at the same place by the gap. The margin, 500 ms, absorbs the
// variation of delivery delays.
//
// # Bounds
//
// One event holds at most [Config].MaxLines lines and [Config].MaxBytes bytes of text (a
// single longer line is emitted as it is); the lines all the streams sharing a [Budget] hold
// are bounded by its limit in bytes. A group that would grow past a bound is emitted and goes
// on in a continuation: each of its events carries [FieldPart] (1, 2, …), every part but the
// last is emitted as partial, and it is counted ([Stats].Continuations, and Overflows when
// the Budget was the bound). Nothing is dropped. A stream holds at most a dozen lines it
// cannot yet tell (an introducing line, a header and its message lines) besides its group.
//
// # Checkpoints and exactly once
//
// emit is called with each event, the position (P, opaque to this package) of its last line,
// and whether it is partial. A source that can re-read (from a checkpoint) keeps its
// checkpoint at the last position of the last event that was not partial, and on a restart
// reads again from there, with a new Stream; before it re-reads what a Stream still held, it
// calls [Stream.Discard]. Then the checkpoint never passes the first line of a group still
// open, and the events the re-read forms are the same as the first read's, with the same IDs
// (their first lines'), so a sink that keeps documents by ID stores each once and whole. This
// holds because the rules judge what follows each event as a fresh stream would, and because
// a group closes only on the lines themselves, their timestamps, or idle as above. It does
// not hold across a split by the Budget, which depends on the other streams (the parts then
// differ, nothing is lost), across a change of Config or rule, or when delivery delays vary
// by more than Idle minus Gap.
//
// # Why hand-written matching
//
// Grouping sits on every line's path, and most lines are not traces. Each line is classified
// once, by byte and prefix checks that rule most lines out at their first byte, into the
// classes the rules look at; the rules are a small state machine over those classes, which
// sees what a line-by-line pattern cannot: what may follow what, that a blank line belongs to
// a trace only if the trace goes on after it, that a header is only one if a frame follows.
// A plain line costs about a hundred nanoseconds, held and emitted, and allocates nothing;
// matching it against one regular expression for the same first lines alone costs ten times
// that. Custom rules use regexp, as their users expect.
//
// # Using it in a source
//
// The engine's logs API: one [Stream] per container and stream, P the reader's position;
// emit publishes the event and, unless partial, advances the checkpoint to last; a ticker
// calls Tick every TickEvery on every Stream; Flush when a stream ends; Discard before a
// re-read. GELF: one [Groups] keyed by container ID and level (stdout 6, stderr 3), P
// struct{}, the rule chosen per key from the container's labels ([RuleByName] for
// qwatch.multiline, [ParseStart] for qwatch.multiline.start); the reader calls Tick every
// TickEvery, and Flush when it stops. A [Budget] shared by all the streams of a source bounds
// what they hold together, and its [Stats] count what they do.
package multiline
