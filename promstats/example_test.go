package promstats_test

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/promstats"
	"github.com/qnib/qwatch/promstats/gelfstats"
	"github.com/qnib/qwatch/sink"
)

// Register the Hub's and a GELF source's metrics in the program's own registry, beside its
// other metrics; serve them with promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).
func Example() {
	src, err := gelf.Listen(gelf.Config{UDPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer src.Close()
	hub := qwatch.NewHub()
	hub.AddSource("gelf", src)
	hub.AddSink("stdout", &sink.Writer{})

	reg := prometheus.NewRegistry()
	reg.MustRegister(promstats.Hub(hub), gelfstats.Source(src))

	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range families[:3] {
		fmt.Println(mf.GetName(), mf.GetType())
	}
	// Output:
	// qwatch_gelf_bytes_total COUNTER
	// qwatch_gelf_chunks_evicted_total COUNTER
	// qwatch_gelf_chunks_expired_total COUNTER
}
