package gelfload

import (
	"strconv"
	"strings"
)

// Tally counts what a receiver got of a load: give it each line received with Add.
type Tally struct {
	run  string
	seen []map[int]int // per container: seq → times received
	high []int         // per container: the highest seq received so far
	// Received counts the load's lines received, repeats included; Reordered those that came
	// after a higher number of the same container.
	Received, Reordered int
	Foreign             int // lines not of this run
}

// NewTally tallies the load of run over containers containers.
func NewTally(run string, containers int) *Tally {
	t := &Tally{run: run, seen: make([]map[int]int, containers), high: make([]int, containers)}
	for i := range t.seen {
		t.seen[i], t.high[i] = map[int]int{}, -1
	}
	return t
}

// Add counts one line received.
func (t *Tally) Add(text string) {
	f := strings.SplitN(text, " ", 4)
	if len(f) < 3 || f[0] != t.run || !strings.HasPrefix(f[1], "c") {
		t.Foreign++
		return
	}
	c, err1 := strconv.Atoi(f[1][1:])
	seq, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || c < 0 || c >= len(t.seen) {
		t.Foreign++
		return
	}
	t.Received++
	t.seen[c][seq]++
	if seq < t.high[c] {
		t.Reordered++
	}
	t.high[c] = max(t.high[c], seq)
}

// Report is what a tally found of count messages sent.
type Report struct {
	Sent, Unique, Lost, Duplicated, Reordered, Foreign int
}

// Report compares what was received with the count messages sent.
func (t *Tally) Report(count int) Report {
	r := Report{Sent: count, Reordered: t.Reordered, Foreign: t.Foreign}
	for _, s := range t.seen {
		for _, n := range s {
			r.Unique++
			r.Duplicated += n - 1
		}
	}
	r.Lost = count - r.Unique
	return r
}
