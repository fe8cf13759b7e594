// Package qwatch collects container logs and Docker engine events inside a Go program and
// fans them out to sinks, without a Logstash, Fluent Bit or Vector beside it.
//
// A [Hub] connects the parts. Sources produce messages: dockerlogs.Source follows every
// container's output through the engine's API (no log driver change), gelf.Source receives
// what `docker run --log-driver gelf` sends, dockerevents.Source follows the engine's events,
// and the program itself can hand messages in with [Hub.Publish] (or many at once with
// [Hub.PublishBatch]; a [BatchSource] does the same). The Hub gives each message an
// ID, runs the processors added with [Hub.Use] (enrichment, filtering, and the filter stage of
// package filter: JSON and logfmt lines into fields, levels, service names), and offers it to every
// sink: each sink has its own bounded queue and goroutine, so one slow output never steals or
// stalls another's messages. Sinks write batches: sink.Writer to standard output or any
// io.Writer, sink/elasticsearch to an Elasticsearch bulk endpoint, or any [Sink] of your own,
// which qwatchtest helps you test.
//
//	hub := qwatch.NewHub()
//	src, err := gelf.Listen(gelf.Config{UDPAddr: "127.0.0.1:12201"})
//	...
//	hub.AddSource("gelf", src) // groups a container's stack traces into one message each
//	hub.Use(filter.New(filter.Config{}).Process)
//	hub.AddSink("stdout", &sink.Writer{Format: sink.JSON})
//	err = hub.Run(ctx) // until ctx is done; then drains every queue and closes every sink
//
// Nothing is lost without being counted: every message offered to a sink ends in exactly one
// of [SinkStats] Written, Failed or Dropped, and [Hub.Stats] reports them at any time
// (promstats exposes them to Prometheus); [SinkStats.Problems] says what a health check
// should report. [WithSpool] puts a sink behind a crash-safe disk spool, so outages and
// kill -9 lose nothing.
//
// Sources and sinks do not import this package; they need only package message, and a program
// links only the clients of the parts it uses.
package qwatch
