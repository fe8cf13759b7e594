package promstats

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

// Stater is anything with a Stats method: a Hub, a source, a sink.
type Stater[S any] interface{ Stats() S }

// metric is one metric family read from a stats snapshot.
type metric[S any] struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	// values returns the samples: a value and the label values, in the order of the desc's
	// variable labels.
	values func(S, func(v float64, labels ...string))
}

// collector reads a snapshot at each scrape and hands its metrics over as constant metrics;
// it starts no goroutine and holds no state of its own.
type collector[S any] struct {
	stats   func() S
	metrics []metric[S]
}

func (c *collector[S]) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

func (c *collector[S]) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for _, m := range c.metrics {
		m.values(st, func(v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, v, labels...)
		})
	}
}

// family describes one metric family: its name, help and variable labels, plus the constant
// labels every metric of the collector carries.
type family struct {
	name, help string
	labels     []string
	constant   prometheus.Labels
}

func counter[S any](f family, get func(S) uint64) metric[S] {
	return metric[S]{desc: prometheus.NewDesc(f.name, f.help, f.labels, f.constant), typ: prometheus.CounterValue,
		values: func(st S, emit func(float64, ...string)) { emit(float64(get(st))) }}
}

func gauge[S any](f family, get func(S) float64) metric[S] {
	return metric[S]{desc: prometheus.NewDesc(f.name, f.help, f.labels, f.constant), typ: prometheus.GaugeValue,
		values: func(st S, emit func(float64, ...string)) { emit(get(st)) }}
}

// byKey is a family with a sample for each key of a map in the snapshot, the key as its one
// variable label.
func byKey[S any, K ~string, V any](f family, typ prometheus.ValueType, get func(S) map[K]V, value func(V) float64) metric[S] {
	return metric[S]{desc: prometheus.NewDesc(f.name, f.help, f.labels, f.constant), typ: typ,
		values: func(st S, emit func(float64, ...string)) {
			m := get(st)
			for _, k := range slices.Sorted(maps.Keys(m)) {
				emit(value(m[k]), string(k))
			}
		}}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Hub collects a Hub's Stats: per source and per sink, labelled source and sink.
func Hub(h Stater[qwatch.Stats]) prometheus.Collector {
	type st = qwatch.Stats
	src := func(name, help string, get func(qwatch.SourceStats) uint64) metric[st] {
		return byKey(family{name: name, help: help, labels: []string{"source"}}, prometheus.CounterValue,
			func(s st) map[string]qwatch.SourceStats { return s.Sources }, func(v qwatch.SourceStats) float64 { return float64(get(v)) })
	}
	sink := func(name, help string, typ prometheus.ValueType, get func(qwatch.SinkStats) float64) metric[st] {
		return byKey(family{name: name, help: help, labels: []string{"sink"}}, typ,
			func(s st) map[string]qwatch.SinkStats { return s.Sinks }, get)
	}
	count := prometheus.CounterValue
	level := prometheus.GaugeValue
	return &collector[st]{stats: h.Stats, metrics: []metric[st]{
		src("qwatch_source_emitted_total", "Messages a source emitted.", func(s qwatch.SourceStats) uint64 { return s.Emitted }),
		src("qwatch_source_late_total", "Messages a source emitted after the hub closed, discarded.", func(s qwatch.SourceStats) uint64 { return s.Late }),
		sink("qwatch_sink_offered_total", "Messages offered to a sink's queue.", count, func(s qwatch.SinkStats) float64 { return float64(s.Offered) }),
		sink("qwatch_sink_written_total", "Messages a sink wrote.", count, func(s qwatch.SinkStats) float64 { return float64(s.Written) }),
		sink("qwatch_sink_failed_total", "Messages in batches a sink failed to write.", count, func(s qwatch.SinkStats) float64 { return float64(s.Failed) }),
		sink("qwatch_sink_dropped_total", "Messages a sink's overflow policy or the shutdown timeout discarded.", count, func(s qwatch.SinkStats) float64 { return float64(s.Dropped) }),
		sink("qwatch_sink_filtered_total", "Messages a sink's filter did not take.", count, func(s qwatch.SinkStats) float64 { return float64(s.Filtered) }),
		sink("qwatch_sink_panics_total", "Panics recovered in a sink's Write, Close or filter.", count, func(s qwatch.SinkStats) float64 { return float64(s.Panics) }),
		sink("qwatch_sink_recovered_total", "Messages found in a sink's spool at start.", count, func(s qwatch.SinkStats) float64 { return float64(s.Recovered) }),
		sink("qwatch_sink_spool_lost_total", "Messages in corrupt spool records, skipped.", count, func(s qwatch.SinkStats) float64 { return float64(s.Lost) }),
		sink("qwatch_sink_queue_depth", "Messages waiting in a sink's queue.", level, func(s qwatch.SinkStats) float64 { return float64(s.Queued) }),
		sink("qwatch_sink_queue_bytes", "Memory the messages in a sink's queue hold.", level, func(s qwatch.SinkStats) float64 { return float64(s.QueuedBytes) }),
		sink("qwatch_sink_spooled", "Messages in a sink's spool on disk, not yet written.", level, func(s qwatch.SinkStats) float64 { return float64(s.Spooled) }),
		sink("qwatch_sink_spool_bytes", "Bytes of a sink's spool files on disk.", level, func(s qwatch.SinkStats) float64 { return float64(s.SpooledBytes) }),
		sink("qwatch_sink_spool_max_bytes", "The bound on a sink's spool files; 0 without a spool.", level, func(s qwatch.SinkStats) float64 { return float64(s.SpoolMaxBytes) }),
		sink("qwatch_sink_spool_healthy", "Whether a sink's spool takes messages (0 on a disk error such as a full disk).", level, func(s qwatch.SinkStats) float64 { return boolValue(s.SpoolError == "") }),
		sink("qwatch_sink_retrying", "Whether a sink's writes fail and are being retried from its spool.", level, func(s qwatch.SinkStats) float64 { return boolValue(s.Retrying) }),
		counter(family{name: "qwatch_published_total", help: "Messages the program published into the hub."}, func(s st) uint64 { return s.Published }),
		counter(family{name: "qwatch_processor_filtered_total", help: "Messages a processor dropped."}, func(s st) uint64 { return s.ProcessorDropped }),
		counter(family{name: "qwatch_processor_panics_total", help: "Messages dropped because a processor panicked on them."}, func(s st) uint64 { return s.ProcessorPanics }),
	}}
}

// counters and gauges of one source or sink, all with the same constant labels.
type builder[S any] struct {
	prefix   string
	constant prometheus.Labels
	metrics  []metric[S]
}

func (b *builder[S]) counter(name, help string, get func(S) uint64) {
	b.metrics = append(b.metrics, counter(family{name: b.prefix + name, help: help, constant: b.constant}, get))
}

func (b *builder[S]) gauge(name, help string, get func(S) float64) {
	b.metrics = append(b.metrics, gauge(family{name: b.prefix + name, help: help, constant: b.constant}, get))
}

func (b *builder[S]) collector(stats func() S) prometheus.Collector {
	return &collector[S]{stats: stats, metrics: b.metrics}
}

// GELF collects a GELF source's Stats.
func GELF(src Stater[gelf.Stats]) prometheus.Collector {
	type st = gelf.Stats
	b := &builder[st]{prefix: "qwatch_gelf_"}
	b.counter("datagrams_total", "UDP datagrams read.", func(s st) uint64 { return s.Datagrams })
	b.counter("chunks_total", "UDP datagrams that were chunks.", func(s st) uint64 { return s.Chunks })
	b.counter("tcp_frames_total", "TCP messages read.", func(s st) uint64 { return s.TCPFrames })
	b.counter("http_requests_total", "HTTP requests received.", func(s st) uint64 { return s.HTTPRequests })
	b.counter("bytes_total", "Bytes read, before decompression.", func(s st) uint64 { return s.Bytes })
	b.counter("messages_total", "Messages decoded and emitted.", func(s st) uint64 { return s.Messages })
	b.counter("chunks_expired_total", "Chunked messages dropped because their chunks took too long.", func(s st) uint64 { return s.Expired })
	b.counter("chunks_evicted_total", "Chunked messages dropped to stay within the reassembly limits.", func(s st) uint64 { return s.Evicted })
	b.counter("duplicate_chunks_total", "Chunks received twice.", func(s st) uint64 { return s.DuplicateChunks })
	b.counter("joined_pieces_total", "Pieces of long Docker lines joined to the piece before them.", func(s st) uint64 { return s.JoinedPieces })
	b.counter("join_released_total", "Split Docker lines let go before their end came.", func(s st) uint64 { return s.JoinReleased })
	b.counter("clamped_total", "Messages whose timestamp was too far from the receive time, replaced.", func(s st) uint64 { return s.Clamped })
	b.counter("kernel_drops_total", "UDP datagrams the kernel dropped because the socket's receive buffer was full.", func(s st) uint64 { return s.KernelDrops })
	b.gauge("tcp_connections", "Open TCP connections.", func(s st) float64 { return float64(s.TCPConnections) })
	b.gauge("incomplete_messages", "Chunked messages waiting for chunks.", func(s st) float64 { return float64(s.Incomplete) })
	b.gauge("incomplete_bytes", "Bytes the chunked messages waiting for chunks hold.", func(s st) float64 { return float64(s.IncompleteBytes) })
	b.metrics = append(b.metrics,
		byKey(family{name: "qwatch_gelf_discarded_total", help: "What the sockets held at shutdown past the drain timeout, discarded, by cause.", labels: []string{"cause"}},
			prometheus.CounterValue, func(s st) map[string]uint64 { return s.Discarded }, func(v uint64) float64 { return float64(v) }),
		byKey(family{name: "qwatch_gelf_rejected_total", help: "Input rejected, by reason.", labels: []string{"reason"}},
			prometheus.CounterValue, func(s st) map[gelf.Reason]uint64 { return s.Rejected }, func(v uint64) float64 { return float64(v) }))
	return b.collector(src.Stats)
}

// DockerEvents collects a Docker events source's Stats.
func DockerEvents(src Stater[dockerevents.Stats]) prometheus.Collector {
	type st = dockerevents.Stats
	b := &builder[st]{prefix: "qwatch_docker_"}
	b.counter("events_total", "Engine events received and emitted.", func(s st) uint64 { return s.Events })
	b.counter("duplicates_total", "Events replayed twice at a reconnection, dropped.", func(s st) uint64 { return s.Duplicates })
	b.counter("ignored_total", "Events dropped as configured.", func(s st) uint64 { return s.Ignored })
	b.counter("reconnects_total", "Event streams re-established.", func(s st) uint64 { return s.Reconnects })
	b.counter("gaps_total", "Windows of events that may be lost, reported.", func(s st) uint64 { return s.Gaps })
	b.counter("backlog_dropped_total", "Events dropped because the backlog of events waiting to be emitted was full (reported as gaps).", func(s st) uint64 { return s.Dropped })
	b.counter("state_errors_total", "Failures to read or save the events position.", func(s st) uint64 { return s.StateErrors })
	b.gauge("backlog", "Events read from the engine and not yet emitted.", func(s st) float64 { return float64(s.Backlog) })
	b.gauge("containers", "Containers in the inventory.", func(s st) float64 { return float64(s.Containers) })
	b.gauge("connected", "Whether the event stream is up.", func(s st) float64 { return boolValue(s.Connected) })
	return b.collector(src.Stats)
}

// DockerLogs collects a Docker logs source's Stats.
func DockerLogs(src Stater[dockerlogs.Stats]) prometheus.Collector {
	type st = dockerlogs.Stats
	b := &builder[st]{prefix: "qwatch_docker_logs_"}
	b.counter("lines_total", "Container log lines emitted.", func(s st) uint64 { return s.Lines })
	b.counter("bytes_total", "Bytes of the container log lines emitted.", func(s st) uint64 { return s.Bytes })
	b.counter("joined_total", "Lines put back together from the engine's 16 KiB pieces.", func(s st) uint64 { return s.Joined })
	b.counter("truncated_total", "Lines cut at the line size limit.", func(s st) uint64 { return s.Truncated })
	b.counter("resumed_total", "Lines skipped because a checkpoint showed them taken.", func(s st) uint64 { return s.Resumed })
	b.counter("missed_containers_total", "--rm containers removed before their logs could be read.", func(s st) uint64 { return s.Missed })
	b.counter("attach_errors_total", "Failures to read a container's logs.", func(s st) uint64 { return s.AttachErrors })
	b.counter("checkpoint_errors_total", "Failures to read or write a checkpoint.", func(s st) uint64 { return s.CheckpointErrors })
	b.gauge("containers", "Containers followed now.", func(s st) float64 { return float64(s.Containers) })
	b.gauge("backfilling", "Containers reading what they wrote while not followed.", func(s st) float64 { return float64(s.Backfilling) })
	b.gauge("backfills_waiting", "Containers waiting to read what they wrote while not followed.", func(s st) float64 { return float64(s.BackfillsWaiting) })
	b.gauge("connected", "Whether the engine's container events are being followed.", func(s st) float64 { return boolValue(s.Connected) })
	b.metrics = append(b.metrics, byKey(family{name: "qwatch_docker_logs_skipped_total", help: "Containers not followed, by reason.", labels: []string{"reason"}},
		prometheus.CounterValue, func(s st) map[string]uint64 { return s.Skipped }, func(v uint64) float64 { return float64(v) }))
	return b.collector(src.Stats)
}

// Elasticsearch collects an Elasticsearch sink's Stats, labelled with the name the sink was
// added to the Hub under, so that the sink's metrics join the Hub's qwatch_sink_ ones.
func Elasticsearch(sink Stater[elasticsearch.Stats], name string) prometheus.Collector {
	type st = elasticsearch.Stats
	b := &builder[st]{prefix: "qwatch_elasticsearch_", constant: prometheus.Labels{"sink": name}}
	b.counter("indexed_total", "Documents created.", func(s st) uint64 { return s.Indexed })
	b.counter("already_present_total", "Documents found indexed by an earlier attempt.", func(s st) uint64 { return s.AlreadyPresent })
	b.counter("retried_total", "Document sends repeated.", func(s st) uint64 { return s.Retried })
	b.counter("dead_lettered_total", "Documents refused and written to the dead-letter index.", func(s st) uint64 { return s.DeadLettered })
	b.counter("failed_total", "Documents neither indexed nor dead-lettered.", func(s st) uint64 { return s.Failed })
	b.counter("bulk_requests_total", "Bulk requests sent.", func(s st) uint64 { return s.BulkRequests })
	b.counter("bytes_total", "Bytes of bulk request bodies.", func(s st) uint64 { return s.Bytes })
	b.gauge("healthy", "Whether the last bulk request succeeded as a whole.", func(s st) float64 { return boolValue(s.Healthy) })
	return b.collector(sink.Stats)
}
