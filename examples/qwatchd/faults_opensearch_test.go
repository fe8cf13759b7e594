//go:build faults

package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/qnib/qwatch/internal/gelfload"
	"github.com/qnib/qwatch/internal/searchtest"
)

// TestFaultOpenSearchDown is the Elasticsearch-down fault on a real node: an OpenSearch node of
// the test's own, killed with kill -9 under load, down for 30 s and restarted on its data.
// qwatchd keeps what comes meanwhile in its spool; every message is stored exactly once.
func TestFaultOpenSearchDown(t *testing.T) {
	searchtest.OpenSearch(t)
	const rate, down = 2000, 30 * time.Second
	dir := t.TempDir()
	node := searchtest.Start(t, dir)
	p := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "none", "-http", "127.0.0.1:0", "-es-url", node.URL, "-es-template", "-es-wait")
	load := newSteady(t, "OpenSearch-down", rate, down+5*time.Second)
	first, during := 2*rate, int(down.Seconds())*rate // two seconds before, three after
	load.send(t, p.udp, rate, 0, first)
	searchtest.Stop(t, searchtest.PID(t, dir), syscall.SIGKILL)
	start := time.Now()
	load.send(t, p.udp, rate, first, first+during)
	searchtest.Start(t, dir)
	took := time.Since(start)
	load.send(t, p.udp, rate, first+during, len(load.msgs))

	deadline := time.Now().Add(3 * time.Minute)
	for node.Count(t, "qwatch-*", nil) < len(load.msgs) && time.Now().Before(deadline) {
		time.Sleep(time.Second)
	}
	tally := gelfload.NewTally(load.run, load.containers)
	for _, text := range node.Messages(t, "qwatch-*") {
		tally.Add(text)
	}
	r := tally.Report(len(load.msgs))
	drops := p.metric(`qwatch_gelf_kernel_drops_total`)
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	row(t, "a real OpenSearch 2.19 node killed (kill -9), restarted on its data",
		fmt.Sprintf("%v down (%v measured, the restart included) under %d msg/s over UDP, %d messages in all", down, took.Round(time.Second), rate, len(load.msgs)),
		fmt.Sprintf("lost %d, duplicated %d, kernel drops %.0f", r.Lost, r.Duplicated, drops))
	if r.Lost != 0 || r.Duplicated != 0 || r.Foreign != 0 || drops != 0 {
		t.Errorf("%+v, kernel drops %v", r, drops)
	}
}
