package main

import (
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/live"
)

// mountLive serves the inventory at GET /inventory and, unless -live=false, the live page at
// / on mux, fed by a sink of its own whose queue drops its oldest messages, so a browser never
// slows the Hub. With -http-token both require the token; /metrics and /healthz never do.
func (d *daemon) mountLive(mux *http.ServeMux, addr net.Addr) error {
	protect := func(h http.Handler) http.Handler { return h }
	if d.cfg.HTTPToken != "" {
		protect = func(h http.Handler) http.Handler { return live.RequireToken(d.cfg.HTTPToken, h) }
	}
	mux.Handle("GET /inventory", protect(d.inv))
	if !d.cfg.Live {
		return nil
	}
	s := live.NewSink(live.SinkConfig{})
	// A small queue: what it drops when full is only what pages would have shown, and its
	// bytes add to those of the pages' queues (live.SinkConfig.Pages × PageBytes).
	if err := d.hub.AddSink("live", s, qwatch.WithOverflow(qwatch.DropOldest), qwatch.WithQueueBytes(liveQueueBytes)); err != nil {
		return err
	}
	h := live.NewHandler(s, live.Config{Inventory: d.inv, Stats: d.hub.Stats})
	mux.Handle("/", protect(h))
	d.reg.MustRegister(liveCollectors(s)...)
	d.closers = append(d.closers, h.Close)
	how := "no token needed on loopback"
	if d.cfg.HTTPToken != "" {
		how = "with the token of -http-token"
	}
	d.say("http: live page on http://%s/ (%s)", addr, how)
	return nil
}

// liveQueueBytes bounds the live sink's queue in the Hub.
const liveQueueBytes = 16 << 20

// liveCollectors are the live page's counters, beside the Hub's for its sink.
func liveCollectors(s *live.Sink) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "qwatch_live_pages", Help: "Live pages open now."},
			func() float64 { return float64(s.Stats().Pages) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "qwatch_live_page_dropped_total", Help: "Lines dropped from live pages' queues because a page did not keep up."},
			func() float64 { return float64(s.Stats().Dropped) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "qwatch_live_history_bytes", Help: "Bytes of the recent lines a live page gets when it opens."},
			func() float64 { return float64(s.Stats().HistoryBytes) }),
	}
}
