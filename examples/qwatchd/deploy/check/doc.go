// Package check holds the test that checks examples/qwatchd/deploy: the alert rules load
// with Prometheus's own rule parser, every expression of the rules and of the Grafana
// dashboard parses as PromQL, and every metric they name is one the promstats collectors
// (or client_golang's Go and process collectors) expose. It is a module of its own so that
// Prometheus's dependencies stay out of the library's go.mod:
//
//	cd examples/qwatchd/deploy/check && go test ./...
package check
