package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

// expo writes the Prometheus text exposition format, version 0.0.4.
type expo struct {
	w io.Writer
}

func (e expo) family(name, typ, help string) {
	fmt.Fprintf(e.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one sample; labels are name, value pairs.
func (e expo) sample(name string, value float64, labels ...string) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatFloat(value, 'g', -1, 64))
	b.WriteByte('\n')
	io.WriteString(e.w, b.String())
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// counterFamily writes one counter family with a sample for each key of values.
func counterFamily[S any](e expo, name, help, label string, values map[string]S, get func(S) uint64) {
	e.family(name, "counter", help)
	for _, k := range sortedKeys(values) {
		e.sample(name, float64(get(values[k])), label, k)
	}
}

func writeHubMetrics(e expo, st qwatch.Stats) {
	counterFamily(e, "qwatch_source_emitted_total", "Messages a source emitted.", "source", st.Sources,
		func(s qwatch.SourceStats) uint64 { return s.Emitted })
	counterFamily(e, "qwatch_source_late_total", "Messages a source emitted after the hub closed, discarded.", "source", st.Sources,
		func(s qwatch.SourceStats) uint64 { return s.Late })
	for _, c := range []struct {
		name, help string
		get        func(qwatch.SinkStats) uint64
	}{
		{"qwatch_sink_offered_total", "Messages offered to a sink's queue.", func(s qwatch.SinkStats) uint64 { return s.Offered }},
		{"qwatch_sink_written_total", "Messages a sink wrote.", func(s qwatch.SinkStats) uint64 { return s.Written }},
		{"qwatch_sink_failed_total", "Messages in batches a sink failed to write.", func(s qwatch.SinkStats) uint64 { return s.Failed }},
		{"qwatch_sink_dropped_total", "Messages a sink's overflow policy or the shutdown timeout discarded.", func(s qwatch.SinkStats) uint64 { return s.Dropped }},
		{"qwatch_sink_filtered_total", "Messages a sink's filter did not take.", func(s qwatch.SinkStats) uint64 { return s.Filtered }},
		{"qwatch_sink_panics_total", "Panics recovered in a sink's Write, Close or filter.", func(s qwatch.SinkStats) uint64 { return s.Panics }},
		{"qwatch_sink_recovered_total", "Messages found in a sink's spool at start.", func(s qwatch.SinkStats) uint64 { return s.Recovered }},
		{"qwatch_sink_spool_lost_total", "Messages in corrupt spool records, skipped.", func(s qwatch.SinkStats) uint64 { return s.Lost }},
	} {
		counterFamily(e, c.name, c.help, "sink", st.Sinks, c.get)
	}
	for _, g := range []struct {
		name, help string
		get        func(qwatch.SinkStats) float64
	}{
		{"qwatch_sink_queue_depth", "Messages waiting in a sink's queue.", func(s qwatch.SinkStats) float64 { return float64(s.Queued) }},
		{"qwatch_sink_queue_bytes", "Memory the messages in a sink's queue hold.", func(s qwatch.SinkStats) float64 { return float64(s.QueuedBytes) }},
		{"qwatch_sink_spooled", "Messages in a sink's spool on disk, not yet written.", func(s qwatch.SinkStats) float64 { return float64(s.Spooled) }},
		{"qwatch_sink_spool_bytes", "Bytes of a sink's spool files on disk.", func(s qwatch.SinkStats) float64 { return float64(s.SpooledBytes) }},
	} {
		e.family(g.name, "gauge", g.help)
		for _, k := range sortedKeys(st.Sinks) {
			e.sample(g.name, g.get(st.Sinks[k]), "sink", k)
		}
	}
	e.family("qwatch_processor_panics_total", "counter", "Messages dropped because a processor panicked on them.")
	e.sample("qwatch_processor_panics_total", float64(st.ProcessorPanics))
	e.family("qwatch_published_total", "counter", "Messages the program published into the hub.")
	e.sample("qwatch_published_total", float64(st.Published))
	e.family("qwatch_processor_filtered_total", "counter", "Messages a processor dropped.")
	e.sample("qwatch_processor_filtered_total", float64(st.Filtered))
}

// metricsHandler serves /metrics from the collectors, each of which writes its families.
func metricsHandler(collectors ...func(expo)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		var b strings.Builder
		for _, c := range collectors {
			c(expo{&b})
		}
		io.WriteString(w, b.String())
	})
}

func sortedKeys[K ~string, V any](m map[K]V) []K { return slices.Sorted(maps.Keys(m)) }

// counter is one unlabelled counter.
type counter struct {
	name, help string
	v          uint64
}

func counters(e expo, prefix string, values []counter) {
	for _, c := range values {
		e.family(prefix+c.name, "counter", c.help)
		e.sample(prefix+c.name, float64(c.v))
	}
}

func gauge(e expo, name, help string, v float64) {
	e.family(name, "gauge", help)
	e.sample(name, v)
}

func writeGELFMetrics(e expo, st gelf.Stats) {
	counters(e, "qwatch_gelf_", []counter{
		{"datagrams_total", "UDP datagrams read.", st.Datagrams},
		{"chunks_total", "UDP datagrams that were chunks.", st.Chunks},
		{"tcp_frames_total", "TCP messages read.", st.TCPFrames},
		{"http_requests_total", "HTTP requests received.", st.HTTPRequests},
		{"bytes_total", "Bytes read, before decompression.", st.Bytes},
		{"messages_total", "Messages decoded and emitted.", st.Messages},
		{"chunks_expired_total", "Chunked messages dropped because their chunks took too long.", st.Expired},
		{"chunks_evicted_total", "Chunked messages dropped to stay within the reassembly limits.", st.Evicted},
		{"duplicate_chunks_total", "Chunks received twice.", st.DuplicateChunks},
		{"joined_pieces_total", "Pieces of long Docker lines joined to the piece before them.", st.JoinedPieces},
		{"join_released_total", "Split Docker lines let go before their end came (waited too long, or over the byte budget).", st.JoinReleased},
		{"clamped_total", "Messages whose timestamp was too far from the receive time, replaced.", st.Clamped},
		{"kernel_drops_total", "UDP datagrams the kernel dropped because the socket's receive buffer was full.", st.KernelDrops},
	})
	e.family("qwatch_gelf_discarded_total", "counter", "What the sockets held at shutdown past the drain timeout, discarded, by cause.")
	for _, c := range sortedKeys(st.Discarded) {
		e.sample("qwatch_gelf_discarded_total", float64(st.Discarded[c]), "cause", c)
	}
	gauge(e, "qwatch_gelf_tcp_connections", "Open TCP connections.", float64(st.TCPConnections))
	gauge(e, "qwatch_gelf_incomplete_messages", "Chunked messages waiting for chunks.", float64(st.Incomplete))
	e.family("qwatch_gelf_rejected_total", "counter", "Input rejected, by reason.")
	for _, r := range sortedKeys(st.Rejected) {
		e.sample("qwatch_gelf_rejected_total", float64(st.Rejected[r]), "reason", string(r))
	}
}

func writeDockerMetrics(e expo, st dockerevents.Stats) {
	counters(e, "qwatch_docker_", []counter{
		{"events_total", "Engine events received and emitted.", st.Events},
		{"duplicates_total", "Events replayed twice at a reconnection, dropped.", st.Duplicates},
		{"ignored_total", "Events dropped as configured.", st.Ignored},
		{"reconnects_total", "Event streams re-established.", st.Reconnects},
		{"gaps_total", "Windows of events that may be lost, reported.", st.Gaps},
		{"state_errors_total", "Failures to read or save the events position.", st.StateErrors},
	})
	gauge(e, "qwatch_docker_containers", "Containers in the inventory.", float64(st.Containers))
	connected := 0.0
	if st.Connected {
		connected = 1
	}
	gauge(e, "qwatch_docker_connected", "Whether the event stream is up.", connected)
}

func writeESMetrics(e expo, st elasticsearch.Stats) {
	counters(e, "qwatch_elasticsearch_", []counter{
		{"indexed_total", "Documents created.", st.Indexed},
		{"already_present_total", "Documents found indexed by an earlier attempt.", st.AlreadyPresent},
		{"retried_total", "Document sends repeated.", st.Retried},
		{"dead_lettered_total", "Documents refused and written to the dead-letter index.", st.DeadLettered},
		{"failed_total", "Documents neither indexed nor dead-lettered.", st.Failed},
		{"bulk_requests_total", "Bulk requests sent.", st.BulkRequests},
		{"bytes_total", "Bytes of bulk request bodies.", st.Bytes},
	})
	healthy := 0.0
	if st.Healthy {
		healthy = 1
	}
	gauge(e, "qwatch_elasticsearch_healthy", "Whether the last bulk request succeeded as a whole.", healthy)
}

func writeDockerLogsMetrics(e expo, st dockerlogs.Stats) {
	counters(e, "qwatch_docker_logs_", []counter{
		{"lines_total", "Container log lines emitted.", st.Lines},
		{"bytes_total", "Bytes of the container log lines emitted.", st.Bytes},
		{"joined_total", "Lines put back together from the engine's 16 KiB pieces.", st.Joined},
		{"truncated_total", "Lines cut at the line size limit.", st.Truncated},
		{"resumed_total", "Lines skipped because a checkpoint showed them taken.", st.Resumed},
		{"missed_containers_total", "--rm containers removed before their logs could be read.", st.Missed},
		{"attach_errors_total", "Failures to read a container's logs.", st.AttachErrors},
		{"checkpoint_errors_total", "Failures to read or write a checkpoint.", st.CheckpointErrors},
	})
	gauge(e, "qwatch_docker_logs_containers", "Containers followed now.", float64(st.Containers))
	e.family("qwatch_docker_logs_skipped_total", "counter", "Containers not followed, by reason.")
	for _, r := range sortedKeys(st.Skipped) {
		e.sample("qwatch_docker_logs_skipped_total", float64(st.Skipped[r]), "reason", r)
	}
}
