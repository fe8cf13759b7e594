package elasticsearch_test

import (
	"context"
	"log"
	"time"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

// Index into daily indices with the qwatch index template, failing early if the cluster does
// not answer.
func ExampleNew() {
	es, err := elasticsearch.New(elasticsearch.Config{
		URLs:            []string{"https://es-1.example:9200", "https://es-2.example:9200"},
		APIKey:          "base64-id-and-key",
		CAFile:          "/etc/qwatch/ca.pem",
		InstallTemplate: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := es.Ping(ctx); err != nil {
		log.Fatal(err)
	}
	if err := es.Install(ctx); err != nil {
		log.Fatal(err)
	}
	hub := qwatch.NewHub()
	hub.AddSink("elasticsearch", es, qwatch.WithQueueSize(50000), qwatch.WithBatch(1000, time.Second))
}
