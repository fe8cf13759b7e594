package gelf

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Reason classifies why input was rejected; Stats counts rejections by Reason.
type Reason string

// The reasons for rejecting input.
const (
	ReasonDecompress     Reason = "decompress"      // corrupt or truncated gzip or zlib
	ReasonTooLarge       Reason = "too_large"       // over a size limit: message, frame, body
	ReasonJSON           Reason = "json"            // not a JSON object
	ReasonUTF8           Reason = "utf8"            // a string that is not valid UTF-8
	ReasonMissingMessage Reason = "missing_message" // no short_message
	ReasonTooManyFields  Reason = "too_many_fields" // more fields than Config.MaxFields
	ReasonBadValue       Reason = "bad_value"       // a timestamp or level that is not a number in range
	ReasonBadChunk       Reason = "bad_chunk"       // a chunk header that makes no sense
	ReasonConnLimit      Reason = "connection_limit"
	ReasonOverload       Reason = "overload" // a memory budget shared by all senders was spent
)

var reasons = [...]Reason{ReasonDecompress, ReasonTooLarge, ReasonJSON, ReasonUTF8, ReasonMissingMessage,
	ReasonTooManyFields, ReasonBadValue, ReasonBadChunk, ReasonConnLimit, ReasonOverload}

// Error is the error for rejected input: it says what was wrong, and why in Reason. It wraps
// the underlying error, if any (a decompressor's, say).
type Error struct {
	Reason Reason
	err    error
}

func (e *Error) Error() string { return "gelf: " + e.err.Error() }

// Unwrap returns the underlying error, or nil.
func (e *Error) Unwrap() error { return errors.Unwrap(e.err) }

// errorf makes an *Error; format may use %w for the cause.
func errorf(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, err: fmt.Errorf(format, args...)}
}

// rejections counts rejected input by reason and logs each reason at most once a second.
type rejections struct {
	counts  [len(reasons)]atomic.Uint64
	lastLog [len(reasons)]atomic.Int64
}

var reasonIndex = map[Reason]int{}

func init() {
	for i, r := range reasons {
		reasonIndex[r] = i
	}
}

// add counts err's reason; it reports whether this one should be logged.
func (r *rejections) add(reason Reason) (log bool) {
	i, ok := reasonIndex[reason]
	if !ok {
		i = reasonIndex[ReasonJSON]
	}
	r.counts[i].Add(1)
	now := time.Now().UnixNano()
	last := r.lastLog[i].Load()
	return now-last >= int64(time.Second) && r.lastLog[i].CompareAndSwap(last, now)
}

func (r *rejections) snapshot() map[Reason]uint64 {
	out := make(map[Reason]uint64, len(reasons))
	for i, reason := range reasons {
		out[reason] = r.counts[i].Load()
	}
	return out
}
