package gelfstats_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/promstats"
	"github.com/qnib/qwatch/promstats/gelfstats"
	"github.com/qnib/qwatch/promstats/internal/promtest"
	"github.com/qnib/qwatch/qwatchtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFollowsConventions(t *testing.T) {
	promtest.Lint(t, gelfstats.Source(promtest.Fixed[gelf.Stats]{St: gelf.Stats{
		Rejected: map[gelf.Reason]uint64{gelf.ReasonJSON: 1}, Discarded: map[string]uint64{"udp_unread": 1}}}))
}

// A real Hub with a GELF source on a loopback socket and a spooled sink: a datagram sent
// shows up in the registry's metrics, as the Hub and the source count it.
func TestRealHubAndSource(t *testing.T) {
	src, err := gelf.Listen(gelf.Config{UDPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hub := qwatch.NewHub(qwatch.WithLogger(slog.New(slog.DiscardHandler)))
	rec := &qwatchtest.Recorder{}
	if err := hub.AddSink("rec", rec, qwatch.WithSpool(qwatch.SpoolConfig{Dir: t.TempDir(), MaxBytes: 64 << 20})); err != nil {
		t.Fatal(err)
	}
	if err := hub.AddSource("gelf", src); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promstats.Hub(hub), gelfstats.Source(src))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	conn, err := net.Dial("udp", src.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte(`{"version":"1.1","host":"h","short_message":"counted"}`))
	if _, err := rec.WaitFor(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP qwatch_gelf_messages_total Messages decoded.
# TYPE qwatch_gelf_messages_total counter
qwatch_gelf_messages_total 1
# HELP qwatch_source_emitted_total Messages a source emitted.
# TYPE qwatch_source_emitted_total counter
qwatch_source_emitted_total{source="gelf"} 1
# HELP qwatch_sink_spool_max_bytes The bound on a sink's spool files; 0 without a spool.
# TYPE qwatch_sink_spool_max_bytes gauge
qwatch_sink_spool_max_bytes{sink="rec"} 6.7108864e+07
# HELP qwatch_sink_written_total Messages a sink wrote.
# TYPE qwatch_sink_written_total counter
qwatch_sink_written_total{sink="rec"} 1
`
	// The Hub counts a message written once Write has returned, a moment after the recorder
	// has it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := testutil.GatherAndCompare(reg, strings.NewReader(want), "qwatch_gelf_messages_total", "qwatch_source_emitted_total",
			"qwatch_sink_spool_max_bytes", "qwatch_sink_written_total")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A stack trace sent to a real source shows up in the multiline metrics: one group of its
// three lines, nothing held once it is out.
func TestMultilineMetrics(t *testing.T) {
	src, err := gelf.Listen(gelf.Config{UDPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c := &qwatchtest.Collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, c.Emit) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	conn, err := net.Dial("udp", src.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i, line := range []string{"java.lang.IllegalStateException: boom", "\tat a.B.c(B.java:1)", "\tat a.B.main(B.java:2)"} {
		fmt.Fprintf(conn, `{"version":"1.1","host":"h","short_message":%q,"timestamp":1795472805.%06d,"level":3,"_container_id":"c1"}`, line, i)
	}
	if _, err := c.WaitFor(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(gelfstats.Source(src))
	want := `
# HELP qwatch_gelf_multiline_groups_total Multiline events emitted: lines grouped into one, or parts of a group split at a bound.
# TYPE qwatch_gelf_multiline_groups_total counter
qwatch_gelf_multiline_groups_total 1
# HELP qwatch_gelf_multiline_joined_lines_total Lines in multiline events.
# TYPE qwatch_gelf_multiline_joined_lines_total counter
qwatch_gelf_multiline_joined_lines_total 3
# HELP qwatch_gelf_multiline_held_bytes Text bytes of the lines held for grouping.
# TYPE qwatch_gelf_multiline_held_bytes gauge
qwatch_gelf_multiline_held_bytes 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "qwatch_gelf_multiline_groups_total",
		"qwatch_gelf_multiline_joined_lines_total", "qwatch_gelf_multiline_held_bytes"); err != nil {
		t.Error(err)
	}
}
