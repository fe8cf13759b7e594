package dockerevents_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/sink"
)

// Follow the engine's container events, without the noise of docker exec and health checks,
// and print them; Enrich adds container names and labels to the log lines of other sources.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	events, err := dockerevents.NewSource(dockerevents.Config{
		Filters:       map[string][]string{"type": {"container"}},
		IgnoreActions: []string{"exec_create", "exec_start", "exec_die"},
	})
	if err != nil {
		log.Fatal(err)
	}
	hub := qwatch.NewHub()
	hub.AddSource("docker", events)
	hub.Use(events.Enrich)
	hub.AddSink("stdout", &sink.Writer{})
	if err := hub.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
