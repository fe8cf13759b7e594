// Package gelf receives GELF 1.1 messages, what `docker run --log-driver gelf` sends, and
// turns them into qwatch messages.
//
// [Listen] binds UDP (gzip, zlib or plain payloads, chunked or not), TCP (each message followed
// by a NUL byte) and HTTP (POST /gelf) as configured, and [Source.Run] serves them; bind to
// 127.0.0.1:0 in tests and read the address back with [Source.UDPAddr], [Source.TCPAddr] and
// [Source.HTTPAddr].
//
// GELF maps to a message like this: short_message (or message) to Text, full_message to
// FullText, host to Host, timestamp (seconds, kept to the microsecond; absent: the time
// received) to Time, level (absent: 1, alert, as the specification says) to Level; Docker's
// _container_id, _container_name, _image_id, _image_name, _command, _tag and _created (an RFC
// 3339 time; anything else goes to Fields) to Container; _id is dropped, as GELF reserves it;
// every other field to Fields without its leading underscore, as a string, float64 or bool
// (null is dropped; an object or array, which GELF does not allow, is kept as its JSON text).
//
// # Stack traces as one message
//
// Docker's driver sends each line a container prints as a message of its own, so a stack
// trace would arrive as one message per frame. A Source groups them back, on by default:
// after it has joined the pieces of lines Docker split (Config.JoinDockerLines), it keeps
// each container's stdout and stderr apart (by _container_id and level: the driver sends
// stdout at 6, info, and stderr at 3, err) and hands their lines to package
// filter/multiline, which emits a trace, with the log line that introduced it, as one
// message: its first line's message with Text set to all its lines joined by "\n", and
// Fields["multiline"] saying which runtime's trace it is. Every other line is emitted as it
// came. The driver sends no empty lines, so a trace arrives without its blank lines.
//
// Grouping needs a container's lines in order, and a Source's readers keep it: a UDP
// sender's datagrams are decoded on every core but numbered as they are read and put back
// in that order before they are joined, grouped and emitted, and Docker's driver sends each
// container's lines from a socket of its own, over UDP or TCP; HTTP requests are grouped in
// the order they are handled. A message without a container ID, from another GELF client,
// is not grouped. A line of a container waits for the next line of its stream, which may
// continue it, or for a gap in their timestamps, or for the stream to be idle on the wall
// clock: a reader that holds lines wakes every Config.Multiline.TickEvery(), so a stream's
// last line goes out about Config.Multiline.Idle (750 ms by default) after it came, whether
// other lines arrive or not. Run emits what is still held before it returns.
//
// The rule is Config.MultilineRule for every container (multiline.Auto, the zero Rule,
// knows the traces of the JVM, Python, Go, Node.js, .NET, Ruby and PHP; multiline.Off turns
// grouping off), unless Config.MultilineRuleFor answers for the container. GELF messages
// carry no labels, so a program that chooses rules by label (qwatch.multiline,
// qwatch.multiline.start) answers from its inventory of the containers. The lines held take
// at most Config.MultilineBytes together, and Stats.Multiline counts what the grouping did.
//
// # Limits
//
// Every limit has a finite default, a Default constant (see [Config]). Input that breaks one,
// or is not GELF, is rejected, counted by [Reason] in [Stats], and logged at most once a
// second per reason; an HTTP sender is told why in a 400 or 413 answer. A compressed payload
// is inflated no further than the size limit.
package gelf
