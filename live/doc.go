// Package live shows a host's containers, their logs and the engine's events in a browser,
// as they happen.
//
// A [Sink] is added to a qwatch Hub like any other sink, with a queue that drops its oldest
// messages (qwatch.WithOverflow(qwatch.DropOldest)), so a slow or stuck browser never slows
// the Hub. It keeps a bounded history of recent lines (bounded in bytes and in count), counts
// each container's lines per minute for the last [RateMinutes] minutes, and hands every new
// line to each open page through a bounded queue of the page's own that drops its oldest
// lines, counted.
//
// A [Handler] serves the page and what it reads: the page itself (HTML, CSS and script
// embedded in the binary; nothing from any other origin), a stream of server-sent events
// with the history, then new lines in batches, the inventory and the sinks' health, and
// heartbeats. Mount it next to a program's own routes, under a prefix with
// http.StripPrefix if need be:
//
//	s := live.NewSink(live.SinkConfig{})
//	hub.AddSink("live", s, qwatch.WithOverflow(qwatch.DropOldest))
//	h := live.NewHandler(s, live.Config{Inventory: inv, Stats: hub.Stats})
//	mux.Handle("/live/", http.StripPrefix("/live", h))
//	srv.RegisterOnShutdown(h.Close)
//
// Every log line and container name is untrusted: the page renders them as text only, and
// the Handler sends a Content-Security-Policy that forbids inline script and every other
// origin. Anywhere but on loopback, wrap the Handler in [RequireToken].
package live
