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
// Every limit has a finite default, a Default constant (see [Config]). Input that breaks one,
// or is not GELF, is rejected, counted by [Reason] in [Stats], and logged at most once a
// second per reason; an HTTP sender is told why in a 400 or 413 answer. A compressed payload
// is inflated no further than the size limit.
package gelf
