package filter_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/filter"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

// The stage's steps are qwatch.Processors: a Hub runs them on every message before any sink
// sees it. Here a Compose service's JSON line and a Python logging line written to stderr
// arrive as the logs source emits them.
func Example() {
	compose := map[string]string{"com.docker.compose.service": "api", "com.docker.compose.project": "shop"}
	src := qwatchtest.NewReplay(
		message.Message{Text: `{"level":"warn","msg":"disk almost full","disk":{"free_mb":512}}`,
			Level: message.LevelInfo, Fields: map[string]any{"stream": "stdout"},
			Container: message.Container{Name: "shop-api-1", Labels: compose}},
		message.Message{Text: "INFO:root:listening on :8080",
			Level: message.LevelErr, Fields: map[string]any{"stream": "stderr"},
			Container: message.Container{Name: "shop-api-1", Labels: compose}},
	)
	rec := &qwatchtest.Recorder{}
	stage := filter.New(filter.Config{})

	hub := qwatch.NewHub()
	// After any processor that fills in labels, such as dockerevents' Enrich for GELF.
	hub.Use(stage.Process)
	hub.AddSource("replay", src)
	hub.AddSink("rec", rec, qwatch.WithBatch(10, time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- hub.Run(ctx) }()
	<-src.Done()
	cancel()
	if err := <-done; err != nil {
		fmt.Println(err)
	}

	for _, m := range rec.Messages() {
		fmt.Printf("%s/%s %s %q %v\n", m.Service.Namespace, m.Service.Name, m.Level, m.Text, m.Fields)
	}
	// Output:
	// shop/api warning "disk almost full" map[disk.free_mb:512 stream:stdout]
	// shop/api info "INFO:root:listening on :8080" map[stream:stderr]
}

func ExampleStage_Parse() {
	stage := filter.New(filter.Config{})
	for _, line := range []string{
		`{"time":"2026-11-29T19:37:57.525Z","level":"ERROR","msg":"request failed","status":502,"err":{"op":"dial"}}`,
		`time=2026-11-29T19:37:57.525Z level=WARN msg="disk almost full" disk.free_mb=512`,
		`{"level":30,"time":1795981105921,"pid":7,"msg":"listening"}`,
		`2026-11-29 19:38:15,587 - app - ERROR - request failed`,
		`E1129 19:38:15.768238       1 main.go:39] request failed`,
		`no error found`,
	} {
		m := message.Message{Text: line, Level: message.LevelInfo}
		stage.Parse(&m)
		fmt.Printf("%-7s %q", m.Level, m.Text)
		for _, k := range slices.Sorted(maps.Keys(m.Fields)) {
			fmt.Printf(" %s=%v", k, m.Fields[k])
		}
		fmt.Println()
	}
	st := stage.Stats()
	fmt.Println("json:", st.JSON, "logfmt:", st.Logfmt, "errors found:", st.Levels[message.LevelErr])
	// Output:
	// err     "request failed" err.op=dial status=502 time=2026-11-29T19:37:57.525Z
	// warning "disk almost full" disk.free_mb=512 time=2026-11-29T19:37:57.525Z
	// info    "listening" pid=7 time=1.795981105921e+12
	// err     "2026-11-29 19:38:15,587 - app - ERROR - request failed"
	// err     "E1129 19:38:15.768238       1 main.go:39] request failed"
	// info    "no error found"
	// json: 2 logfmt: 1 errors found: 3
}

func ExampleService() {
	m := message.Message{Container: message.Container{Labels: map[string]string{
		"com.docker.swarm.service.name": "shop_web", "com.docker.stack.namespace": "shop",
	}}}
	var p qwatch.Processor = filter.Service // a plain func, usable as a qwatch.Processor
	p(&m)
	fmt.Printf("%+v\n", m.Service)
	// Output:
	// {Name:web Namespace:shop}
}

// A label on the container chooses how its lines are parsed, whatever the default.
func ExampleLabelParse() {
	stage := filter.New(filter.Config{}) // auto: JSON and logfmt
	m := message.Message{Text: `a=1 b=2`, Container: message.Container{
		Labels: map[string]string{filter.LabelParse: "off"}}}
	stage.Parse(&m)
	fmt.Println(m.Text, m.Fields)
	// Output:
	// a=1 b=2 map[]
}
