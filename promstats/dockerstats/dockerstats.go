// Package dockerstats exposes the counters of the Docker events and Docker logs sources as
// Prometheus metrics; see package promstats for the Hub's and for what every collector of the
// module has in common.
//
//	Docker events source
//	qwatch_docker_events_total                    counter  engine events received and emitted
//	qwatch_docker_events_{duplicates,ignored,reconnects,gaps,backlog_dropped,state_errors}_total  counters
//	qwatch_docker_events_{backlog,containers,connected}  gauges
//
//	Docker logs source
//	qwatch_docker_logs_{lines,bytes,joined,truncated,resumed,missed_containers,attach_errors,checkpoint_errors}_total  counters
//	qwatch_docker_logs_skipped_total{reason}      counter
//	qwatch_docker_logs_{containers,backfilling,backfills_waiting,connected}  gauges
//	qwatch_docker_logs_multiline_{groups,joined_lines,continuations,overflows,idle_closed,gap_closed,label_errors}_total  counters
//	qwatch_docker_logs_multiline_held_bytes       gauge
package dockerstats

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/promstats/internal/collect"
)

// Events collects a Docker events source's Stats.
func Events(src interface{ Stats() dockerevents.Stats }) prometheus.Collector {
	type st = dockerevents.Stats
	b := &collect.Builder[st]{Prefix: "qwatch_docker_"}
	b.Counter("events_total", "Engine events received and emitted.", func(s st) uint64 { return s.Events })
	b.Counter("events_duplicates_total", "Events replayed twice at a reconnection, dropped.", func(s st) uint64 { return s.Duplicates })
	b.Counter("events_ignored_total", "Events dropped as configured.", func(s st) uint64 { return s.Ignored })
	b.Counter("events_reconnects_total", "Event streams re-established.", func(s st) uint64 { return s.Reconnects })
	b.Counter("events_gaps_total", "Windows of events that may be lost, reported.", func(s st) uint64 { return s.Gaps })
	b.Counter("events_backlog_dropped_total", "Events dropped because the backlog of events waiting to be emitted was full (reported as gaps).", func(s st) uint64 { return s.Dropped })
	b.Counter("events_state_errors_total", "Failures to read or save the events position.", func(s st) uint64 { return s.StateErrors })
	b.Gauge("events_backlog", "Events read from the engine and not yet emitted.", func(s st) float64 { return float64(s.Backlog) })
	b.Gauge("events_containers", "Containers in the inventory.", func(s st) float64 { return float64(s.Containers) })
	b.Gauge("events_connected", "Whether the event stream is up.", func(s st) float64 { return collect.Bool(s.Connected) })
	return b.Collector(src.Stats)
}

// Logs collects a Docker logs source's Stats.
func Logs(src interface{ Stats() dockerlogs.Stats }) prometheus.Collector {
	type st = dockerlogs.Stats
	b := &collect.Builder[st]{Prefix: "qwatch_docker_logs_"}
	b.Counter("lines_total", "Container log lines emitted.", func(s st) uint64 { return s.Lines })
	b.Counter("bytes_total", "Bytes of the container log lines emitted.", func(s st) uint64 { return s.Bytes })
	b.Counter("joined_total", "Lines put back together from the engine's 16 KiB pieces.", func(s st) uint64 { return s.Joined })
	b.Counter("truncated_total", "Lines cut at the line size limit.", func(s st) uint64 { return s.Truncated })
	b.Counter("resumed_total", "Lines skipped because a checkpoint showed them taken.", func(s st) uint64 { return s.Resumed })
	b.Counter("missed_containers_total", "--rm containers removed before their logs could be read.", func(s st) uint64 { return s.Missed })
	b.Counter("attach_errors_total", "Failures to read a container's logs.", func(s st) uint64 { return s.AttachErrors })
	b.Counter("checkpoint_errors_total", "Failures to read or write a checkpoint.", func(s st) uint64 { return s.CheckpointErrors })
	b.Gauge("containers", "Containers followed now.", func(s st) float64 { return float64(s.Containers) })
	b.Gauge("backfilling", "Containers reading what they wrote while not followed.", func(s st) float64 { return float64(s.Backfilling) })
	b.Gauge("backfills_waiting", "Containers waiting to read what they wrote while not followed.", func(s st) float64 { return float64(s.BackfillsWaiting) })
	b.Gauge("connected", "Whether the engine's container events are being followed.", func(s st) float64 { return collect.Bool(s.Connected) })
	b.Counter("multiline_groups_total", "Messages that hold a multi-line event (a stack trace), or a part of one split at a bound.", func(s st) uint64 { return s.Multiline.Groups })
	b.Counter("multiline_joined_lines_total", "Lines in multi-line messages.", func(s st) uint64 { return s.Multiline.Joined })
	b.Counter("multiline_continuations_total", "Parts after the first of multi-line events split at a bound.", func(s st) uint64 { return s.Multiline.Continuations })
	b.Counter("multiline_overflows_total", "Times a stream let out what it held because the bytes all streams hold were at their bound.", func(s st) uint64 { return s.Multiline.Overflows })
	b.Counter("multiline_idle_closed_total", "Times a stream let out what it held because no line followed for the idle time.", func(s st) uint64 { return s.Multiline.IdleClosed })
	b.Counter("multiline_gap_closed_total", "Times a gap between the lines' own time stamps closed what a stream held.", func(s st) uint64 { return s.Multiline.GapClosed })
	b.Counter("multiline_label_errors_total", "Containers whose qwatch.multiline or qwatch.multiline.start label is invalid; the default rule groups their lines.", func(s st) uint64 { return s.MultilineLabelErrors })
	b.Gauge("multiline_held_bytes", "Bytes of the lines held now until it is known whether they begin or continue a multi-line event.", func(s st) float64 { return float64(s.Multiline.Held) })
	collect.CounterByKey(b, "skipped_total", "Containers not followed, by reason.", "reason", func(s st) map[string]uint64 { return s.Skipped })
	collect.CounterByKey(b, "reads_total", "Starts of reading a container's logs, by reader: its json-file, or the engine's logs API.", "reader", func(s st) map[string]uint64 {
		return map[string]uint64{"file": s.FileReads, "api": s.APIReads}
	})
	b.Counter("files_skipped_total", "Rotated log files not read because they were compressed before the reader got to them.", func(s st) uint64 { return s.FilesSkipped })
	b.Counter("file_errors_total", "Lines of json-files that could not be decoded, skipped.", func(s st) uint64 { return s.FileErrors })
	b.Counter("fell_behind_total", "Times a log file was deleted by the engine's rotation while still being read: the files after it may have been deleted unread.", func(s st) uint64 { return s.FellBehind })
	return b.Collector(src.Stats)
}
