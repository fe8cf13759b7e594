//go:build faults

// The fault suite: the qwatchd binary under the faults its users meet, each measured by what
// was lost. It runs with go test -tags faults ./examples/qwatchd (.ci/faults), takes a few
// minutes, and writes a row of RELIABILITY.md for each fault to the file named by
// QWATCH_RELIABILITY_ROWS.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qnib/qwatch/internal/gelfload"
)

// row records one fault's outcome for RELIABILITY.md.
func row(t *testing.T, fault, size, outcome string) {
	t.Helper()
	line := fmt.Sprintf("| %s | %s | %s |\n", fault, size, outcome)
	t.Log(strings.TrimSpace(line))
	if path := os.Getenv("QWATCH_RELIABILITY_ROWS"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString(line)
	}
}

// steady is numbered GELF load (gzip, as Docker's driver sends it) at a rate.
type steady struct {
	run        string
	containers int
	msgs       []gelfload.Message
}

func newSteady(t *testing.T, run string, rate int, d time.Duration) *steady {
	t.Helper()
	n := int(float64(rate) * d.Seconds())
	msgs, err := gelfload.Make(gelfload.Config{Run: run, Count: n, MaxLine: 1000}, true)
	if err != nil {
		t.Fatal(err)
	}
	return &steady{run: run, containers: 10, msgs: msgs}
}

// send sends the messages from..to at rate to addr.
func (s *steady) send(t *testing.T, addr string, rate, from, to int) {
	t.Helper()
	if _, err := gelfload.Send(context.Background(), "udp", addr, s.msgs[from:to], rate, 1); err != nil {
		t.Fatal(err)
	}
}

// tally counts what the store holds of the load: each distinct message text, each time it
// was stored under another ID.
func (s *steady) tally(store *bulkStore) gelfload.Report {
	tally := gelfload.NewTally(s.run, s.containers)
	for text, n := range store.messages() {
		for range n {
			tally.Add(text)
		}
	}
	return tally.Report(len(s.msgs))
}

// counts returns how many times the store holds each message of the load, by container and
// number.
func (s *steady) counts(store *bulkStore) map[[2]int]int {
	out := map[[2]int]int{}
	for text, n := range store.messages() {
		var c, seq int
		var run string
		if _, err := fmt.Sscanf(text, "%s c%d %d", &run, &c, &seq); err == nil && run == s.run {
			out[[2]int{c, seq}] += n
		}
	}
	return out
}

// waitStored waits until the store holds every message of the load, or the timeout passes.
func (s *steady) waitStored(store *bulkStore, timeout time.Duration) gelfload.Report {
	deadline := time.Now().Add(timeout)
	r := s.tally(store)
	for r.Unique < r.Sent && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		r = s.tally(store)
	}
	return r
}

// outage runs the load at 5,000 msg/s through qwatchd into a bulk store with the fault on
// for the middle of it, and checks that every message is stored exactly once.
func outage(t *testing.T, fault string, on, off func(*bulkStore), d time.Duration) {
	const rate = 5000
	store, es := newBulkStore(t)
	p := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "none", "-http", "127.0.0.1:0", "-es-url", es.URL, "-es-wait")
	load := newSteady(t, strings.ReplaceAll(fault, " ", "-"), rate, d+5*time.Second)
	n := len(load.msgs)
	first := 2 * rate // two seconds before, three after
	load.send(t, p.udp, rate, 0, first)
	on(store)
	start := time.Now()
	var peak float64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				peak = max(peak, p.metric(`qwatch_sink_spooled{sink="elasticsearch"}`))
			}
		}
	})
	load.send(t, p.udp, rate, first, first+int(d.Seconds())*rate)
	off(store)
	took := time.Since(start)
	load.send(t, p.udp, rate, first+int(d.Seconds())*rate, n)
	r := load.waitStored(store, 2*time.Minute)
	close(stop)
	wg.Wait()
	drops := p.metric(`qwatch_gelf_kernel_drops_total`)
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	row(t, fault, fmt.Sprintf("%d msg/s, %v of %d messages", rate, took.Round(time.Second), n),
		fmt.Sprintf("lost %d, duplicated %d, kernel drops %.0f; at most %.0f messages spooled", r.Lost, r.Duplicated, drops, peak))
	if r.Lost != 0 || r.Duplicated != 0 || r.Foreign != 0 || drops != 0 {
		t.Errorf("%+v, kernel drops %v", r, drops)
	}
}

func TestFaultElasticsearchDown(t *testing.T) {
	outage(t, "Elasticsearch down (503)", func(b *bulkStore) { b.down.Store(true) }, func(b *bulkStore) { b.down.Store(false) }, 60*time.Second)
}

func TestFault429Storm(t *testing.T) {
	outage(t, "half the items refused with 429", func(b *bulkStore) { b.refuseHalf.Store(true) }, func(b *bulkStore) { b.refuseHalf.Store(false) }, 30*time.Second)
}

func TestFaultResetAfterIndexing(t *testing.T) {
	outage(t, "every third request indexed, then its connection reset", func(b *bulkStore) { b.resetEvery.Store(3) }, func(b *bulkStore) { b.resetEvery.Store(0) }, 20*time.Second)
}

func TestFaultUnauthorized(t *testing.T) {
	outage(t, "Elasticsearch answers 401 (a rotated key)", func(b *bulkStore) { b.status.Store(401) }, func(b *bulkStore) { b.status.Store(0) }, 20*time.Second)
}

// kill -9 three times under load, the third time with Elasticsearch down. What was sent at
// least 300 ms before a kill (the spool's documented flush interval of 200 ms, and slack) is
// stored exactly once after the last restart. What was sent in those last 300 ms may be lost
// (unread in the socket, or not yet in the spool), and what was sent while qwatchd was down
// was never accepted: both are counted, not asserted.
func TestFaultKillNine(t *testing.T) {
	const rate, rounds = 5000, 3
	store, es := newBulkStore(t)
	args := []string{"-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "none", "-http", "127.0.0.1:0", "-es-url", es.URL, "-es-wait", "-state-dir", t.TempDir()}
	load := newSteady(t, "kill-9", rate, rounds*4*time.Second)
	per := len(load.msgs) / rounds
	var mu sync.Mutex
	sentAt := make([]time.Time, len(load.msgs))
	var kills []time.Time
	for round := range rounds {
		store.down.Store(round == rounds-1)
		p := startDaemon(t, args...)
		// The sender goes on; the kill comes 3 s into the round.
		killed := make(chan struct{})
		go func() {
			time.Sleep(3 * time.Second)
			mu.Lock()
			kills = append(kills, time.Now())
			mu.Unlock()
			p.cmd.Process.Kill()
			<-p.done
			close(killed)
		}()
		for i := round * per; i < (round+1)*per; i += rate / 100 {
			mu.Lock()
			for k := i; k < min(i+rate/100, (round+1)*per); k++ {
				sentAt[k] = time.Now()
			}
			mu.Unlock()
			gelfload.Send(context.Background(), "udp", p.udp, load.msgs[i:min(i+rate/100, (round+1)*per)], 0, 1)
			time.Sleep(10 * time.Millisecond)
		}
		<-killed
	}
	store.down.Store(false)
	p := startDaemon(t, args...)
	defer p.stop()
	time.Sleep(time.Second)
	deadline := time.Now().Add(time.Minute)
	var mustHave, windowLost, downLost, lost, dup int
	for {
		mustHave, windowLost, downLost, lost, dup = 0, 0, 0, 0, 0
		stored := load.counts(store)
		for i, m := range load.msgs {
			kill := kills[i/per]
			window := !sentAt[i].After(kill) && sentAt[i].After(kill.Add(-300*time.Millisecond))
			down := sentAt[i].After(kill)
			switch n := stored[[2]int{m.Container, m.Seq}]; {
			case n > 1:
				dup++
			case n == 1:
			case down:
				downLost++
			case window:
				windowLost++
			default:
				lost++
			}
			if !window && !down {
				mustHave++
			}
		}
		if lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	row(t, "kill -9, three times, the third with Elasticsearch down", fmt.Sprintf("%d msg/s, %d messages", rate, len(load.msgs)),
		fmt.Sprintf("lost %d of %d sent over 300 ms before a kill, duplicated %d; %d sent in the last 300 ms before a kill lost (in the socket or not yet spooled); %d sent while qwatchd was down never accepted",
			lost, mustHave, dup, windowLost, downLost))
	if lost != 0 || dup != 0 {
		t.Errorf("lost %d, duplicated %d", lost, dup)
	}
}
