package message

import (
	"crypto/rand"
	"encoding/binary"
	"hash/fnv"
	"sync/atomic"
	"time"
)

// IDLen is the length of the IDs NewID returns.
const IDLen = 26

// The alphabet is in ASCII order, so IDs sort as the instants they encode.
const idAlphabet = "0123456789abcdefghijklmnopqrstuv"

var (
	lastNano atomic.Int64
	// instance tells apart IDs made in the same nanosecond by different processes.
	instance = func() uint64 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic("message: no randomness for IDs: " + err.Error())
		}
		return binary.BigEndian.Uint64(b[:])
	}()
)

// NewID returns a new unique ID of IDLen characters from [0-9a-v]. IDs made by one process sort,
// as strings, in the order they were made; across processes they sort by the time they were
// made, to the nanosecond. The ID encodes 64 bits of wall-clock nanoseconds, kept strictly
// increasing within the process, and 64 random bits chosen when the process starts.
func NewID() string {
	now := time.Now().UnixNano()
	for {
		last := lastNano.Load()
		next := max(now, last+1)
		if lastNano.CompareAndSwap(last, next) {
			return encodeID(uint64(next), instance)
		}
	}
}

// encodeID writes the 128 bits hi:lo as 26 base-32 digits, most significant first (the first
// digit carries the top 3 bits, so the order of strings is the order of numbers). The low 12
// digits are lo's low 60 bits, the 13th joins lo's top 4 bits to hi's lowest, the first 13 are
// the rest of hi: each word is shifted on its own, not the pair as one 128-bit number.
func encodeID(hi, lo uint64) string {
	var b [IDLen]byte
	for i := IDLen - 1; i > IDLen-13; i-- {
		b[i] = idAlphabet[lo&31]
		lo >>= 5
	}
	b[IDLen-13] = idAlphabet[(lo|hi<<4)&31]
	hi >>= 1
	for i := IDLen - 14; i >= 0; i-- {
		b[i] = idAlphabet[hi&31]
		hi >>= 5
	}
	return string(b[:])
}

// DerivedID returns an ID in the form of NewID for a message a source may read again, such as
// a log line re-read after a restart: the same time and key always give the same ID, so a
// sink that creates documents by ID (the Elasticsearch sink) stores a re-read line once. The
// key should name the message uniquely among those at the same time (a container, a stream
// and an ordinal, say).
func DerivedID(at time.Time, key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	return encodeID(uint64(at.UnixNano()), h.Sum64())
}
