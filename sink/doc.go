// Package sink holds qwatch's plain sinks. [Writer] writes messages as text, JSON or pretty
// lines to any io.Writer, standard output by default. The Elasticsearch sink lives in
// sink/elasticsearch, so a program that does not use it does not link its client.
package sink
