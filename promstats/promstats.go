package promstats

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/promstats/internal/collect"
)

// Hub collects a Hub's Stats: per source and per sink, labelled source and sink.
func Hub(h interface{ Stats() qwatch.Stats }) prometheus.Collector {
	type st = qwatch.Stats
	src := func(name, help string, get func(qwatch.SourceStats) uint64) collect.Metric[st] {
		return collect.ByKey(collect.Family{Name: name, Help: help, Labels: []string{"source"}}, prometheus.CounterValue,
			func(s st) map[string]qwatch.SourceStats { return s.Sources }, func(v qwatch.SourceStats) float64 { return float64(get(v)) })
	}
	sink := func(name, help string, typ prometheus.ValueType, get func(qwatch.SinkStats) float64) collect.Metric[st] {
		return collect.ByKey(collect.Family{Name: name, Help: help, Labels: []string{"sink"}}, typ,
			func(s st) map[string]qwatch.SinkStats { return s.Sinks }, get)
	}
	count := prometheus.CounterValue
	level := prometheus.GaugeValue
	return collect.New(h.Stats, []collect.Metric[st]{
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
		sink("qwatch_sink_spool_healthy", "Whether a sink's spool takes messages (0 on a disk error such as a full disk).", level, func(s qwatch.SinkStats) float64 { return collect.Bool(s.SpoolError == "") }),
		sink("qwatch_sink_retrying", "Whether a sink's writes fail and are being retried from its spool.", level, func(s qwatch.SinkStats) float64 { return collect.Bool(s.Retrying) }),
		collect.Counter(collect.Family{Name: "qwatch_published_total", Help: "Messages the program published into the hub."}, func(s st) uint64 { return s.Published }),
		collect.Counter(collect.Family{Name: "qwatch_processor_dropped_total", Help: "Messages a processor dropped."}, func(s st) uint64 { return s.ProcessorDropped }),
		collect.Counter(collect.Family{Name: "qwatch_processor_panics_total", Help: "Messages dropped because a processor panicked on them."}, func(s st) uint64 { return s.ProcessorPanics }),
	})
}
