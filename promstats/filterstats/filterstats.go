// Package filterstats exposes the counters of the filter stage's processors (package filter)
// as Prometheus metrics; see package promstats for the Hub's and for what every collector of
// the module has in common. The grouping of multi-line events runs in the sources, and their
// collectors count it.
//
//	qwatch_filter_{json,logfmt,parse_failures,fields_cut}_total  counters
//	qwatch_filter_levels_total{level}                            counter  levels read from the lines
package filterstats

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qnib/qwatch/filter"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/promstats/internal/collect"
)

// Stage collects a filter stage's Stats.
func Stage(stage interface{ Stats() filter.Stats }) prometheus.Collector {
	type st = filter.Stats
	b := &collect.Builder[st]{Prefix: "qwatch_filter_"}
	b.Counter("json_total", "Lines parsed as JSON objects into fields.", func(s st) uint64 { return s.JSON })
	b.Counter("logfmt_total", "Lines parsed as logfmt into fields.", func(s st) uint64 { return s.Logfmt })
	b.Counter("parse_failures_total", "Lines that looked structured, or had to be, left unchanged.", func(s st) uint64 { return s.ParseFailures })
	b.Counter("fields_cut_total", "Fields dropped and values shortened by the stage's bounds.", func(s st) uint64 { return s.FieldsCut })
	b.Metrics = append(b.Metrics, collect.ByKey(collect.Family{Name: "qwatch_filter_levels_total",
		Help: "Levels read from the lines, by level.", Labels: []string{"level"}},
		prometheus.CounterValue, levels, func(v uint64) float64 { return float64(v) }))
	return b.Collector(stage.Stats)
}

// levels keys the per-level counters by the level's name.
func levels(s filter.Stats) map[string]uint64 {
	m := make(map[string]uint64, len(s.Levels))
	for i, n := range s.Levels {
		m[message.Level(i).String()] = n
	}
	return m
}
