// Package collect builds the collectors of promstats and its subpackages: a collector reads a
// Stats snapshot at each scrape and hands its metrics over as constant metrics; it starts no
// goroutine and holds no state of its own.
package collect

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric is one metric family read from a stats snapshot of type S.
type Metric[S any] struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	// values gives the samples: a value and the label values, in the order of the desc's
	// variable labels.
	values func(S, func(v float64, labels ...string))
}

// Family describes one metric family: its name, help and variable labels, plus the constant
// labels every metric of the collector carries.
type Family struct {
	Name, Help string
	Labels     []string
	Constant   prometheus.Labels
}

func (f Family) desc() *prometheus.Desc {
	return prometheus.NewDesc(f.Name, f.Help, f.Labels, f.Constant)
}

// Counter is a counter family of one sample, read by get.
func Counter[S any](f Family, get func(S) uint64) Metric[S] {
	return Metric[S]{desc: f.desc(), typ: prometheus.CounterValue,
		values: func(st S, emit func(float64, ...string)) { emit(float64(get(st))) }}
}

// gauge is a gauge family of one sample, read by get.
func gauge[S any](f Family, get func(S) float64) Metric[S] {
	return Metric[S]{desc: f.desc(), typ: prometheus.GaugeValue,
		values: func(st S, emit func(float64, ...string)) { emit(get(st)) }}
}

// ByKey is a family with a sample for each key of the map get reads from the snapshot, the
// key as its one variable label, in the order of the keys.
func ByKey[S any, K ~string, V any](f Family, typ prometheus.ValueType, get func(S) map[K]V, value func(V) float64) Metric[S] {
	return Metric[S]{desc: f.desc(), typ: typ,
		values: func(st S, emit func(float64, ...string)) {
			m := get(st)
			for _, k := range slices.Sorted(maps.Keys(m)) {
				emit(value(m[k]), string(k))
			}
		}}
}

// Bool is 1 for true, 0 for false.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// New returns a collector of metrics over the snapshots stats takes.
func New[S any](stats func() S, metrics []Metric[S]) prometheus.Collector {
	return &collector[S]{stats: stats, metrics: metrics}
}

type collector[S any] struct {
	stats   func() S
	metrics []Metric[S]
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

// Builder gathers the counters and gauges of one source or sink, all named with one prefix
// and carrying the same constant labels.
type Builder[S any] struct {
	Prefix   string
	Constant prometheus.Labels
	Metrics  []Metric[S]
}

// Counter adds a counter named Prefix+name.
func (b *Builder[S]) Counter(name, help string, get func(S) uint64) {
	b.Metrics = append(b.Metrics, Counter(b.family(name, help), get))
}

// Gauge adds a gauge named Prefix+name.
func (b *Builder[S]) Gauge(name, help string, get func(S) float64) {
	b.Metrics = append(b.Metrics, gauge(b.family(name, help), get))
}

// CounterByKey adds a counter named Prefix+name with a sample for each key of the map get
// reads, the key as the label named label.
func CounterByKey[S any, K ~string](b *Builder[S], name, help, label string, get func(S) map[K]uint64) {
	f := b.family(name, help)
	f.Labels = []string{label}
	b.Metrics = append(b.Metrics, ByKey(f, prometheus.CounterValue, get, func(v uint64) float64 { return float64(v) }))
}

func (b *Builder[S]) family(name, help string) Family {
	return Family{Name: b.Prefix + name, Help: help, Constant: b.Constant}
}

// Collector returns the collector of the metrics added, over the snapshots stats takes.
func (b *Builder[S]) Collector(stats func() S) prometheus.Collector {
	return New(stats, b.Metrics)
}
