// Package promstats exposes qwatch's counters as Prometheus metrics: a
// prometheus.Collector over each Stats a program can read (the Hub's, and those of the GELF,
// Docker events and Docker logs sources and of the Elasticsearch sink), for the program to
// register in its own registry, one call each:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(promstats.Hub(hub), promstats.GELF(gelfSource))
//
// A collector reads the Stats when it is scraped; it starts no goroutine and keeps nothing
// between scrapes. Metric names follow the Prometheus conventions (counters end in _total,
// sizes are bytes), and labels name only what a program configures (a sink, a source, a
// reason), never a container, so the number of series stays bounded.
//
// # Metrics
//
//	Hub
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
//	qwatch_processor_filtered_total               counter  dropped by a processor
//	qwatch_processor_panics_total                 counter  dropped because a processor panicked
//
//	GELF source
//	qwatch_gelf_{datagrams,chunks,tcp_frames,http_requests,bytes,messages}_total  counters of input
//	qwatch_gelf_{chunks_expired,chunks_evicted,duplicate_chunks}_total            chunk reassembly
//	qwatch_gelf_{joined_pieces,join_released,clamped}_total                       lines joined, let go, timestamps replaced
//	qwatch_gelf_kernel_drops_total                counter  datagrams the kernel dropped (full socket buffer)
//	qwatch_gelf_discarded_total{cause}            counter  held by the sockets at shutdown, discarded
//	qwatch_gelf_rejected_total{reason}            counter  input rejected
//	qwatch_gelf_{tcp_connections,incomplete_messages,incomplete_bytes}            gauges
//
//	Docker events source
//	qwatch_docker_{events,duplicates,ignored,reconnects,gaps,backlog_dropped,state_errors}_total  counters
//	qwatch_docker_{backlog,containers,connected}  gauges
//
//	Docker logs source
//	qwatch_docker_logs_{lines,bytes,joined,truncated,resumed,missed_containers,attach_errors,checkpoint_errors}_total  counters
//	qwatch_docker_logs_skipped_total{reason}      counter
//	qwatch_docker_logs_{containers,backfilling,backfills_waiting,connected}  gauges
//
//	Elasticsearch sink, labelled with its sink name
//	qwatch_elasticsearch_{indexed,already_present,retried,dead_lettered,failed,bulk_requests,bytes}_total  counters
//	qwatch_elasticsearch_healthy{sink}            gauge    1 while bulk requests succeed
//
// The package links what it reads the stats of, the Docker and Elasticsearch clients
// included; a program that wants only some of them can write a collector of its own in the
// same way over the Stats it has.
package promstats
