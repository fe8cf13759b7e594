// Package filter is qwatch's filter stage, between the sources and the sinks: what Logstash's
// filter section does for its inputs. It turns a container's output into documents worth
// searching: a stack trace as one event, a JSON or logfmt line as fields, a real level on
// every line, and the name of the service that wrote it.
//
// The stage has two parts, run in two places:
//
//   - Grouping the lines of a multi-line event (a Java exception, a Python traceback, a Go
//     panic) needs the lines of one container's stream in order, and for the logs source the
//     checkpoints too. It lives in package filter/multiline and runs inside the sources
//     (dockerlogs and gelf), which still hold each stream in order; a group reaches the Hub as
//     one message whose Text holds its lines, newline-separated.
//   - Everything else is stateless, and is here: processors that the Hub runs on every
//     message, on many goroutines at once.
//
// # Use
//
// [New] returns a [Stage] set up by a [Config] whose zero value means the defaults.
// [Stage.Process] runs the whole stage as one qwatch.Processor; [Stage.Processors] returns
// its steps, [Stage.Parse] and [Service], for a program that wants to run something between
// them or only one of them. Every one of them is a func(*message.Message) bool, which is a
// qwatch.Processor, never drops a message, and is safe for concurrent use.
//
//	stage := filter.New(filter.Config{})
//	hub.Use(events.Enrich, stage.Process) // labels first: both steps read them
//
//	for _, p := range stage.Processors() { // the same, step by step
//		hub.Use(p)
//	}
//
// The order matters: the steps read the container's labels (the parse mode and the service
// names), and a GELF message carries none until dockerevents' Enrich has filled them in
// from the inventory. The logs source sets them itself.
//
// # Structured lines
//
// [Stage.Parse] reads a log line (Kind log) as a JSON object or as logfmt, as the
// container's [Mode] allows: the label qwatch.parse (auto, json, logfmt or off) when the
// container has it, else Config.Parse. In auto mode a line is JSON when its first non-blank
// byte is '{', and logfmt when every blank-separated word is a key=value pair and there are
// at least two. Then:
//
//   - the first top-level key named msg or message (in any case) with a non-empty string
//     value becomes Text, or without one structlog's event key; without any, Text stays the
//     whole line;
//   - the first top-level key named level, lvl, severity or levelname (in any case) whose
//     value names a level becomes Level: a name in any case (trace, debug, info, notice, warn, warning,
//     error, err, fatal, crit, critical, panic, alert, emerg, and a few more that loggers
//     use), or a number: 0 to 7 as syslog severities, 10 to 60 as pino and bunyan number
//     them (10 and 20 debug, 30 info, 40 warning, 50 err, 60 crit). Without one, the level the
//     source gave stays;
//   - every other key becomes a field in Fields, nested objects by dotted names
//     ({"disk":{"free_mb":512}} gives Fields["disk.free_mb"] = 512.0). JSON values are kept as
//     string, float64 or bool; an array, and an object nested deeper than Config.MaxDepth
//     names, as its JSON text; null and an empty object as nothing. logfmt values are
//     strings. Time keys (time, ts, timestamp, @timestamp) are fields like any other: the
//     message's Time stays the source's, which its ID and the logs source's checkpoints
//     rest on.
//
// A field never overwrites one the message has already (such as the logs source's "stream"):
// a parsed key that names an existing field is stored as "parsed." + key instead. Fields are
// bounded in number, depth, value size and total size (see [Config]); what the bounds cut is
// counted in [Stats].FieldsCut and in the message's own field [TruncatedField]. When one JSON
// key appears twice the last one is kept.
//
// A line that only looks structured (invalid JSON, "a=b" in prose) stays exactly as it was;
// it counts as a parse failure when it started like a JSON object, or when the container's
// mode is json or logfmt. Of a multi-line Text only the first line is parsed, and the lines
// after it follow the parsed message.
//
// # Levels of plain lines
//
// A line that is not parsed gets its Level from the level it names near its start, after any
// timestamp: "ERROR", "[warn]", "WARNING:", Python's "INFO:root:", glog's and klog's
// "E1129 18:00:00.123456", a syslog priority "<3>", and the like (see [Stage.Parse]). When it
// names none, the level its source gave stays: on the logs paths info for stdout and err for
// stderr, so that Python's logging, which writes INFO to stderr, is stored as info and not as
// an error. Only upper-case and bracketed forms count past the first word, so prose such as
// "no error found" keeps its level. A plain line that matches nothing costs no allocation.
//
// # Service names
//
// [Service] sets the Elastic Common Schema fields service.name and service.namespace
// (message.Service) from the labels Docker Compose and Swarm put on their containers.
//
// # The JSON scanner
//
// The JSON lines are read by a scanner of this package's own, not encoding/json (more than
// three times slower into a map, with an allocation per value) nor a faster library such as
// github.com/valyala/fastjson, which accepts texts that encoding/json rejects (NaN and
// malformed numbers, control characters and bad escapes in strings) and keeps invalid UTF-8
// as it is. The scanner accepts exactly the objects encoding/json accepts and decodes them to
// the same values, which a fuzz test checks; it writes the fields in one pass, and a string
// without escapes is a substring of the line, not a copy.
package filter
