package promstats_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/promstats"
	"github.com/qnib/qwatch/qwatchtest"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixed is a Stater with set stats.
type fixed[S any] struct{ st S }

func (f fixed[S]) Stats() S { return f.st }

// Every collector's metrics pass the Prometheus linter (names, _total, units, help).
func TestCollectorsFollowConventions(t *testing.T) {
	for name, c := range map[string]prometheus.Collector{
		"hub": promstats.Hub(fixed[qwatch.Stats]{qwatch.Stats{
			Sources: map[string]qwatch.SourceStats{"gelf": {}}, Sinks: map[string]qwatch.SinkStats{"es": {}}}}),
		"gelf": promstats.GELF(fixed[gelf.Stats]{gelf.Stats{Rejected: map[gelf.Reason]uint64{gelf.ReasonJSON: 1},
			Discarded: map[string]uint64{"udp_unread": 1}}}),
		"dockerevents":  promstats.DockerEvents(fixed[dockerevents.Stats]{}),
		"dockerlogs":    promstats.DockerLogs(fixed[dockerlogs.Stats]{dockerlogs.Stats{Skipped: map[string]uint64{"label": 1}}}),
		"elasticsearch": promstats.Elasticsearch(fixed[elasticsearch.Stats]{}, "es"),
	} {
		t.Run(name, func(t *testing.T) {
			problems, err := testutil.CollectAndLint(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("%s: %s", p.Metric, p.Text)
			}
			if n := testutil.CollectAndCount(c); n == 0 {
				t.Error("no metrics")
			}
		})
	}
}

// The values are the stats', with their labels.
func TestHubValues(t *testing.T) {
	c := promstats.Hub(fixed[qwatch.Stats]{qwatch.Stats{
		Sources:   map[string]qwatch.SourceStats{"gelf": {Emitted: 7}},
		Sinks:     map[string]qwatch.SinkStats{"es": {Offered: 7, Written: 5, Failed: 1, Dropped: 1, SpooledBytes: 512, SpoolMaxBytes: 1024, SpoolError: "disk full", Retrying: true}},
		Published: 2,
	}})
	want := `
# HELP qwatch_sink_written_total Messages a sink wrote.
# TYPE qwatch_sink_written_total counter
qwatch_sink_written_total{sink="es"} 5
# HELP qwatch_sink_spool_bytes Bytes of a sink's spool files on disk.
# TYPE qwatch_sink_spool_bytes gauge
qwatch_sink_spool_bytes{sink="es"} 512
# HELP qwatch_sink_spool_max_bytes The bound on a sink's spool files; 0 without a spool.
# TYPE qwatch_sink_spool_max_bytes gauge
qwatch_sink_spool_max_bytes{sink="es"} 1024
# HELP qwatch_sink_spool_healthy Whether a sink's spool takes messages (0 on a disk error such as a full disk).
# TYPE qwatch_sink_spool_healthy gauge
qwatch_sink_spool_healthy{sink="es"} 0
# HELP qwatch_sink_retrying Whether a sink's writes fail and are being retried from its spool.
# TYPE qwatch_sink_retrying gauge
qwatch_sink_retrying{sink="es"} 1
# HELP qwatch_source_emitted_total Messages a source emitted.
# TYPE qwatch_source_emitted_total counter
qwatch_source_emitted_total{source="gelf"} 7
# HELP qwatch_published_total Messages the program published into the hub.
# TYPE qwatch_published_total counter
qwatch_published_total 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "qwatch_sink_written_total", "qwatch_sink_spool_bytes",
		"qwatch_sink_spool_max_bytes", "qwatch_sink_spool_healthy", "qwatch_sink_retrying", "qwatch_source_emitted_total", "qwatch_published_total"); err != nil {
		t.Error(err)
	}
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
	reg.MustRegister(promstats.Hub(hub), promstats.GELF(src))
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
# HELP qwatch_gelf_messages_total Messages decoded and emitted.
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
