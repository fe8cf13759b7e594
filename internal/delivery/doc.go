// Package delivery is the spooled half of a sink's queue: it puts the batches the Hub takes
// from the queue into a crash-safe disk spool (package spool), and delivers them from there to
// the sink's Write. The Hub's WithSpool option is built on it; the Hub keeps the queue, the
// one protocol that takes batches from it, and the counters of what was offered.
//
// Two goroutines share a [Spool]. The sink's queue goroutine calls [Spool.Append] with each
// batch it takes; Append writes the batch to the operating system before it returns, and
// applies the sink's overflow policy when the spool is full. [Spool.Deliver] runs on a second
// goroutine: it reads the spool in batches, hands each to the sink's write, writes again what
// was not written (all of a batch, or the part a partial error names) with backoff for as long
// as its context lasts, and acknowledges a batch only once all of it is written, so a message
// leaves the disk only after the sink took it. [Spool.Drain] tells Deliver that nothing more
// comes: it returns once the spool is empty. [Spool.Stats] says what is on disk, what was
// written, and why delivery retries or the spool refuses messages.
//
// Records hold messages in a compact binary form of this package's own rather than as JSON
// documents, because decoding JSON was most of the cost of the spooled path. A version byte
// leads each record so that the form can change. While delivery keeps up with Append, it
// takes the messages of the records it reads back from a bounded copy in memory of the last
// appends instead of decoding them; what is on disk, and what survives a crash, is the same.
package delivery
