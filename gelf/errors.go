package gelf

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Reason classifies why input was rejected; Stats counts rejections by Reason.
type Reason string

// The reasons for rejecting input.
const (
	ReasonDecompress     Reason = "decompress"       // corrupt or truncated gzip or zlib
	ReasonTooLarge       Reason = "too_large"        // over a size limit: message, frame, body
	ReasonJSON           Reason = "json"             // not valid JSON, or not an object
	ReasonUTF8           Reason = "utf8"             // a string that is not valid UTF-8
	ReasonMissingMessage Reason = "missing_message"  // no short_message (nor message)
	ReasonTooManyFields  Reason = "too_many_fields"  // more fields than Config.MaxFields
	ReasonBadValue       Reason = "bad_value"        // a timestamp or level that is not a number in range, a short_message that is not a string
	ReasonBadChunk       Reason = "bad_chunk"        // a chunk header that makes no sense
	ReasonConnLimit      Reason = "connection_limit" // a TCP connection past Config.MaxConnections, closed
	ReasonOverload       Reason = "overload"         // a memory budget shared by all senders was spent
)

var reasons = [...]Reason{ReasonDecompress, ReasonTooLarge, ReasonJSON, ReasonUTF8, ReasonMissingMessage,
	ReasonTooManyFields, ReasonBadValue, ReasonBadChunk, ReasonConnLimit, ReasonOverload}

// inputError is the error for rejected input: it says what was wrong, and why in reason. It
// wraps the underlying error, if any (a decompressor's, say).
type inputError struct {
	reason Reason
	err    error
}

func (e *inputError) Error() string { return "gelf: " + e.err.Error() }

func (e *inputError) Unwrap() error { return errors.Unwrap(e.err) }

// errorf makes an *inputError; format may use %w for the cause.
func errorf(r Reason, format string, args ...any) *inputError {
	return &inputError{reason: r, err: fmt.Errorf(format, args...)}
}

// reasonOf is the reason err was rejected for: ReasonJSON for an error that gives none.
func reasonOf(err error) Reason {
	var ie *inputError
	if errors.As(err, &ie) {
		return ie.reason
	}
	return ReasonJSON
}

// rejections counts rejected input by reason, and lets each reason be logged at most once a
// second.
type rejections struct {
	counts [len(reasons)]atomic.Uint64
	logs   [len(reasons)]rate.Sometimes
}

var reasonIndex = map[Reason]int{}

func init() {
	for i, r := range reasons {
		reasonIndex[r] = i
	}
}

func newRejections() *rejections {
	r := &rejections{}
	for i := range r.logs {
		r.logs[i].Interval = time.Second
	}
	return r
}

// add counts one rejection for reason and calls log unless it was called for that reason
// less than a second ago.
func (r *rejections) add(reason Reason, log func()) {
	i := reasonIndex[reason]
	r.counts[i].Add(1)
	r.logs[i].Do(log)
}

func (r *rejections) snapshot() map[Reason]uint64 {
	out := make(map[Reason]uint64, len(reasons))
	for i, reason := range reasons {
		out[reason] = r.counts[i].Load()
	}
	return out
}
