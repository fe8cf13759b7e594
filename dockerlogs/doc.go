// Package dockerlogs is a qwatch source that follows the stdout and stderr of every container,
// so a host needs no log driver change: containers keep the default json-file driver (or
// local, or journald) and their lines arrive as messages. A json-file container's log is
// read from its file when the program can open it, else through the engine's logs API (see
// Reading the files).
//
// The Source subscribes to container events first and then lists the running containers, so
// that a container started in between is not missed; it follows each container from its start
// event (a --rm container that prints and exits at once is caught), and lists again every
// RelistInterval to catch a start whose event was missed. Through the API, a container is
// read with the engine's logs endpoint (follow, timestamps), whose stdcopy frames (one a
// line) are taken apart where they lie in the read buffer, as the engine's stdcopy would
// take them apart, without its copies.
// A TTY container's stream has no frames: it is split into the engine's entries by their time
// stamps, and the terminal's carriage return at the end of each line is stripped.
//
// Lines: the engine cuts lines longer than 16 KiB into pieces, each sent with the line's time
// stamp; the pieces are put back together (up to MaxLineBytes, the rest cut and counted). No
// line is dropped because its timestamp is older than the one before. stdout lines have level
// info, stderr lines level err, as Docker's GELF driver sends them; Fields["stream"] says
// which. Messages carry the same container fields as the GELF path (ID, name, image ID and
// name, command, creation time, labels). Each line's ID derives from (container, stream, time
// stamp, ordinal among the stream's lines at that time stamp). The messages of a container
// share its Labels map, and those of one of its streams their Fields map: a processor that
// changes a message's fields gives it a map of its own (as package filter does), never
// writes to the one it came with.
//
// The Source is a qwatch.BatchSource: a Hub calls RunBatch, which hands over a container's
// events in batches, those one read of its logs brought (at most 128), so that a busy
// container costs the Hub one hand-off a read rather than one a line. Run hands them over one
// at a time.
//
// # Reading the files
//
// The logs API costs the engine about three times the CPU a line costs it to write (it
// decodes its own json-file again and sends each line as an HTTP chunk of its own), and
// slows down a container that prints flat out. So with Config.Reader auto (the default), a
// json-file container's log is read from the file the engine writes (inspect's LogPath),
// when the engine is on this host (the client talks through a unix socket) and the file can
// be opened; Config.DataRoot says where the engine's data root is mounted when the program
// runs in a container. Other drivers (local, journald, the dual-logging cache), a remote
// engine, a file that cannot be opened (no permission, gone) and Reader api go through the
// API, as before. Each container's reader is logged (at debug, or at info when its file
// could not be opened) and counted in Stats.FileReads and Stats.APIReads.
//
// The file is read in blocks of 256 KiB and each line decoded in place, without
// encoding/json. At the file's end the reader polls: it waits 1 ms, doubling up to 200 ms
// while nothing comes, so a new line of an idle container is read within 200 ms, and a busy
// one's at once. The engine's rotation (max-size, max-file: NAME renamed NAME.1, NAME.1
// NAME.2 and so on, and NAME created anew) is followed: the file being read is held open and
// read to its end before the next, which is found by the device and inode of the current
// one, not by its name, so that several rotations while the reader was behind are read
// oldest first, each once. Lines lost are those the engine deleted before they were read (more
// than max-file rotations behind), and rotated files compressed (compress=true) before the
// reader got to them, which are skipped and counted in Stats.FilesSkipped. A file truncated
// is read again from its start. A --rm container's file is deleted at its removal: the
// reader holds it open and reads it to its end all the same; one removed before its file
// could be opened is read through the API and the attachment made at its creation, as before.
//
// A checkpoint then also holds the place a read resumes from: the file's device, inode and
// the hash of its first 256 bytes (an inode is reused after a rotated file is deleted), the
// offset of the first line not yet emitted of either stream (held in a multi-line group, or
// a line begun in 16 KiB pieces), and the ordinals of both streams there. After a restart
// the file is found again by that identity among NAME, NAME.1 …, and read from the offset;
// when it is gone, or the checkpoint came from the API reader, the read starts at the first
// line at the checkpoint's time, found by bisection. Either way the IDs are those the API
// reader derives, so a switch between the readers, or a restart with another Reader,
// stores no line twice.
//
// # Multi-line events
//
// The lines of each container's stdout, and of its stderr, go through a multiline.Stream of
// their own, so that a stack trace (Java's with its causes, a Python traceback with its blank
// lines, a Go panic, a Node.js error, and the others package multiline knows) is one message:
// its Text holds its lines joined by "\n", in order; its ID, time, level and fields are its
// first line's, with Fields["multiline"] naming the rule that grouped it. Every other line is
// a message of its own, as it came; a stream is never mixed with another, so the order of the
// lines holds within a stream, not between a container's stdout and stderr. A line waits for
// the next one of its stream (it may introduce a trace), at most about Config.Multiline.Idle
// (750 ms by default) when none comes: a ticker for each followed container calls Tick every
// Config.Multiline.TickEvery. When a container's stream ends, what it holds is emitted. The
// output of a quick --rm container, read by the attachment at its creation, is grouped too.
//
// The rule is, for each container, read from its labels when it is inspected at each of its
// starts: qwatch.multiline.start, a regular expression for first lines, when it has it; else
// qwatch.multiline, auto, off, or rules' names such as java,python; else
// Config.MultilineRule (auto by default). A label that cannot be read is logged once for the
// container and counted in Stats.MultilineLabelErrors, and Config.MultilineRule used.
// Config.Multiline bounds a group (500 lines, 1 MiB) and times it; one multiline.Budget,
// Config.MultilineBytes (64 MiB), bounds what all streams hold together. A group past a bound goes on in a
// continuation, counted; nothing is dropped. Stats.Multiline counts groups, their lines,
// continuations, and closes by idle time and by time stamp gap.
//
// # Exact resume
//
// With a StateDir, a checkpoint per container and stream records the time of the last line
// emitted (to the nanosecond) and how many lines at exactly that time came up to it; it
// moves once emit has returned the batch that holds that line. Checkpoints are
// written at most once a second and when Run returns, and only after Config.Flush confirmed
// that the lines they cover are safe (qwatchd passes Hub.Sync: written, or in the spool). They
// are kept through a container's stop and start, deleted when it is destroyed, and deleted
// each time the Source connects to the engine for containers that no longer exist. After a
// restart, clean or kill -9, each container resumes at its checkpoint: no line is lost
// while the engine still has it, and a line is repeated only if it was emitted after the last
// checkpoint was written (at most about a second of lines). A repeat carries the same ID,
// derived from (container, stream, timestamp, ordinal), so the Elasticsearch sink, which
// creates documents by ID, stores it once.
//
// Grouping keeps this exactly-once, so that after a kill -9 a sink that creates documents by ID
// (the Elasticsearch sink) stores every trace once and whole:
//
//   - A checkpoint position is that of the last line of an emitted event that is not a part
//     of a group that goes on (emitted at a bound, multiline's partial). The lines a stream
//     holds are never emitted before those they follow, so a checkpoint never passes the first
//     line of a group still open, nor any line not yet emitted.
//   - After a restart each stream reads again from its checkpoint into a fresh Stream. The
//     rules judge what follows an event as a fresh stream would, and a group closes only on
//     the lines themselves, on a gap in their own time stamps, or on idle, which the time
//     stamps show as a gap too (the engine stamps a line when it reads it). So the read
//     again makes the events the first read made after that position: the same lines, the
//     same first lines, the same IDs. The events the first read emitted after the last
//     checkpoint written come again, each with its ID and whole.
//   - When the Source stops with a StateDir, what the streams hold is dropped unemitted, not
//     emitted cut short: the final checkpoint stays before it, and the next run reads it again
//     whole. Without a StateDir there is no next read, and it is emitted.
//   - A second read within one run (what a container wrote while not followed, then the
//     follow stream; or once more after a follow stream ended) goes on from the last line
//     taken into the Stream, emitted or held, so the lines held stay and none is taken twice.
//
// What package multiline says it cannot keep the same is not kept here either: a group split
// because the Budget was full, a change of rule, label or Config.Multiline between runs, and
// delivery delays that vary by more than Idle minus Gap (500 ms by default) — a reader held
// back that long, by a sink that blocks, can close a group on idle that the read again finds
// whole. Then the parts are stored as they were first emitted, with the ID of their first
// line each, and the whole group of the read again, with the ID of the first part, is not
// stored again; lines of a later part that were not stored before the kill are lost.
//
// A container that stopped while the program was not running is read from its checkpoint to
// its end when the Source connects to the engine, and only once for each run. Containers
// without a checkpoint (all of them on a first start; later, those that had printed nothing)
// are followed from when Run starts if they are running, and not read if they are not;
// containers started while the Source runs are read from their first line.
//
// # Selection
//
// Skipped, and counted by reason in Stats.Skipped at each start of the container: containers
// with the GELF driver (the GELF source receives their lines; IncludeGELF turns this off),
// drivers whose logs the engine cannot read back (unless DualLogging), the label
// qwatch.enable=false (EnableLabel), names matching ExcludeNames, and the program's own
// container (SelfID), which NewSource finds by itself when the program runs in one.
//
// # Backpressure
//
// A reader waits while emit blocks (full sinks without a spool). The engine keeps the
// container's log file meanwhile, so nothing is lost unless the file rotates away first;
// with a spool, emit does not block for long and reading goes on into it. After a restart,
// what containers wrote while not followed is read MaxBackfills containers at a time, so a
// host with hundreds of containers does not ask the engine for every backlog at once.
//
// # Compared with the peers
//
// The failures users of the peers report, and what this package does about each:
//
//	                 Vector docker_logs  Promtail Docker     logspout           this package
//	after a restart  resumes from its    whole-second        follows from now:  per-stream checkpoint:
//	                 own start time:     positions: lines    what came while    nanoseconds plus the
//	                 re-sends (up to     at the same second  it was down is     lines at that instant
//	                 269x reported)      lost or repeated    lost
//	checkpoints      none                per container,      none               per container and stream,
//	                                     deleted when it                        kept until the container
//	                                     stops                                  is destroyed, written
//	                                                                            after the sink has the lines
//	repeats          stored again        stored again        -                  same derived ID: the bulk
//	                                                                            sink stores it once
//	16 KiB pieces    reported left       reported left       left split         joined, capped, counted
//	                 split               split
//	older timestamp  -                   line dropped        -                  never dropped for it
//	--rm containers  short-lived ones    found by periodic   attached on        attached at creation;
//	                 reported missed     discovery: short-   start: quick ones  what cannot be read is
//	                                     lived ones missed   missed             counted in Stats.Missed
//
// A dash is a case that does not arise or for which no report was found.
package dockerlogs
