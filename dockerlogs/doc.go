// Package dockerlogs is a qwatch source that follows the stdout and stderr of every container
// through the engine's API, so a host needs no log driver change: containers keep the default
// json-file driver (or local, or journald) and their lines arrive as messages.
//
// The Source subscribes to container events first and then lists the running containers, so
// that a container started in between is not missed; it follows each container from its start
// event (a --rm container that prints and exits at once is caught), and lists again every
// RelistInterval to catch a start whose event was missed. Each container is read with the
// engine's logs endpoint (follow, timestamps) and demultiplexed with the engine's own stdcopy.
// A TTY container's stream has no frames: it is split into the engine's entries by their time
// stamps, and the terminal's carriage return at the end of each line is stripped.
//
// Lines: the engine cuts lines longer than 16 KiB into pieces, each sent with the line's time
// stamp; the pieces are put back together (up to MaxLineBytes, the rest cut and counted). No
// line is dropped because its timestamp is older than the one before. stdout lines have level
// info, stderr lines level err, as Docker's GELF driver sends them; Fields["stream"] says
// which. Messages carry the same container fields as the GELF path (ID, name, image ID and
// name, command, creation time, labels).
//
// # Exact resume
//
// With a StateDir, a checkpoint per container and stream records the time of the last line
// taken (to the nanosecond) and how many lines at exactly that time were taken. Checkpoints are
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
