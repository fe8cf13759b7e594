// Package promstats exposes qwatch's counters as Prometheus metrics: a prometheus.Collector
// over each Stats a program can read, for the program to register in its own registry, one
// call each. [Hub] covers the Hub; each source or sink package has a collector package of its
// own, so a program links only the clients of what it uses (promstats itself links neither
// the Docker nor the Elasticsearch client):
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(promstats.Hub(hub), gelfstats.Source(gelfSource))
//
// [github.com/qnib/qwatch/promstats/gelfstats] for the GELF source,
// [github.com/qnib/qwatch/promstats/dockerstats] for the Docker events and logs sources,
// [github.com/qnib/qwatch/promstats/esstats] for the Elasticsearch sink,
// [github.com/qnib/qwatch/promstats/filterstats] for the filter stage,
// [github.com/qnib/qwatch/promstats/inventorystats] for a container inventory.
//
// A collector reads the Stats when it is scraped; it starts no goroutine and keeps nothing
// between scrapes. Metric names follow the Prometheus conventions (counters end in _total,
// sizes are bytes), and labels name only what a program configures (a sink, a source, a
// reason), never a container, so the number of series stays bounded. Each collector package
// lists its metrics; the Hub's are these:
//
//	qwatch_source_emitted_total{source}           counter  messages a source emitted
//	qwatch_source_late_total{source}              counter  emitted after the Hub closed, discarded
//	qwatch_sink_offered_total{sink}               counter  offered to the sink's queue
//	qwatch_sink_written_total{sink}               counter  written
//	qwatch_sink_failed_total{sink}                counter  in batches Write failed
//	qwatch_sink_dropped_total{sink}               counter  discarded by the overflow policy or at shutdown
//	qwatch_sink_filtered_total{sink}              counter  not taken by the sink's filter
//	qwatch_sink_panics_total{sink}                counter  panics recovered in the sink
//	qwatch_sink_recovered_total{sink}             counter  found in the spool at start
//	qwatch_sink_spool_lost_total{sink}            counter  in corrupt spool records, skipped
//	qwatch_sink_queue_depth{sink}                 gauge    messages in the queue
//	qwatch_sink_queue_bytes{sink}                 gauge    memory they hold
//	qwatch_sink_spooled{sink}                     gauge    messages on disk, not yet written
//	qwatch_sink_spool_bytes{sink}                 gauge    bytes of the spool's files
//	qwatch_sink_spool_max_bytes{sink}             gauge    their bound (0: no spool)
//	qwatch_sink_spool_healthy{sink}               gauge    1 while the spool takes messages
//	qwatch_sink_retrying{sink}                    gauge    1 while writes fail and are retried
//	qwatch_published_total                        counter  published by the program
//	qwatch_processor_dropped_total                counter  dropped by a processor
//	qwatch_processor_panics_total                 counter  dropped because a processor panicked
package promstats
