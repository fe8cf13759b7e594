// Package esstats exposes the Elasticsearch sink's counters as Prometheus metrics, labelled
// with the sink's name; see package promstats for the Hub's and for what every collector of
// the module has in common.
//
//	qwatch_elasticsearch_{indexed,already_present,retried,dead_lettered,failed,bulk_requests,bytes}_total{sink}  counters
//	qwatch_elasticsearch_healthy{sink}            gauge    1 while bulk requests succeed
package esstats

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qnib/qwatch/promstats/internal/collect"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

// Sink collects an Elasticsearch sink's Stats, labelled with the name the sink was added to
// the Hub under, so that the sink's metrics join the Hub's qwatch_sink_ ones.
func Sink(sink interface{ Stats() elasticsearch.Stats }, name string) prometheus.Collector {
	type st = elasticsearch.Stats
	b := &collect.Builder[st]{Prefix: "qwatch_elasticsearch_", Constant: prometheus.Labels{"sink": name}}
	b.Counter("indexed_total", "Documents created.", func(s st) uint64 { return s.Indexed })
	b.Counter("already_present_total", "Documents found indexed by an earlier attempt.", func(s st) uint64 { return s.AlreadyPresent })
	b.Counter("retried_total", "Document sends repeated.", func(s st) uint64 { return s.Retried })
	b.Counter("dead_lettered_total", "Documents refused and written to the dead-letter index.", func(s st) uint64 { return s.DeadLettered })
	b.Counter("failed_total", "Documents neither indexed nor dead-lettered.", func(s st) uint64 { return s.Failed })
	b.Counter("bulk_requests_total", "Bulk requests sent.", func(s st) uint64 { return s.BulkRequests })
	b.Counter("bytes_total", "Bytes of bulk request bodies.", func(s st) uint64 { return s.Bytes })
	b.Gauge("healthy", "Whether the last bulk request succeeded as a whole.", func(s st) float64 { return collect.Bool(s.Healthy) })
	return b.Collector(sink.Stats)
}
