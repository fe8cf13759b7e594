package gelf

import (
	"runtime"
	"time"

	"github.com/qnib/qwatch/filter/multiline"
)

// The defaults of Config, in one place; a zero setting means its default. Each is finite, so
// no sender can make a Source hold unbounded memory.
const (
	// DefaultMaxMessageSize bounds one message's JSON after decompression, and a TCP frame or
	// HTTP body; a compressed payload is never inflated past it.
	DefaultMaxMessageSize = 1 << 20
	DefaultMaxFields      = 1000 // members of one message's JSON object

	DefaultMaxChunks     = 128             // chunks of one message (GELF allows 128)
	DefaultChunkTimeout  = 5 * time.Second // for all chunks of a message to arrive
	DefaultMaxIncomplete = 1000            // chunked messages held for reassembly
	DefaultMaxChunkBytes = 32 << 20        // bytes those hold

	DefaultReadBuffer = 8 << 20 // the UDP socket's receive buffer

	// DefaultMaxConnections is sized for a host with thousands of containers: Docker's GELF
	// driver keeps one TCP connection per container.
	DefaultMaxConnections = 10000
	// DefaultMaxFrameBytes bounds the TCP frames begun and not yet ended, all connections
	// together, so that many senders trickling large frames cannot take memory at will.
	DefaultMaxFrameBytes = 64 << 20
	// DefaultIdleTimeout is zero: a healthy idle TCP connection is never closed, because
	// Docker's driver loses the next line it writes to one that was.
	DefaultIdleTimeout = 0
	// DefaultHTTPTimeout bounds reading one HTTP request, headers and body, writing its
	// answer, and an idle HTTP connection.
	DefaultHTTPTimeout = 30 * time.Second
	// DefaultDrainTimeout bounds the shutdown's reading of what the sockets already hold.
	DefaultDrainTimeout = 2 * time.Second

	// DefaultJoinWait is how long the pieces of a split Docker line wait for the rest, from
	// when they arrived. It is generous because an engine busy with other work can pause
	// between the pieces of one line.
	DefaultJoinWait = 5 * time.Second
	// DefaultJoinBytes bounds the bytes of split lines all readers hold while they wait.
	DefaultJoinBytes = 32 << 20
	// DefaultMultilineBytes bounds the text bytes of the lines all readers hold for grouping.
	DefaultMultilineBytes = multiline.DefaultBudget

	// Sender-chosen timestamps further than these from the time a message was received are
	// replaced by the receive time (the original is kept in Fields["original_timestamp"]), so
	// a sender cannot pick daily indices at will.
	DefaultMaxFuture = 24 * time.Hour
	DefaultMaxPast   = 30 * 24 * time.Hour
)

// defaultUDPWorkers is the default of Config.UDPWorkers: a decoder per CPU, at most 8.
func defaultUDPWorkers() int { return min(runtime.GOMAXPROCS(0), 8) }
