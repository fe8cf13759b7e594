package qwatch_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
	"github.com/qnib/qwatch/sink"
)

// A Hub with one source and two sinks: every message goes to the text sink, and only errors
// to the second one.
func Example() {
	at := time.Date(2026, 11, 23, 22, 26, 45, 850_000_000, time.UTC)
	src := qwatchtest.NewReplay(
		message.Message{Time: at, Level: message.LevelInfo, Text: "Hello World", Container: message.Container{Name: "web-1"}},
		message.Message{Time: at, Level: message.LevelErr, Text: "disk full", Container: message.Container{Name: "db-1"}},
	)
	var all, errs bytes.Buffer
	hub := qwatch.NewHub()
	if err := hub.AddSource("replay", src); err != nil {
		panic(err)
	}
	if err := hub.AddSink("all", &sink.Writer{Out: &all}); err != nil {
		panic(err)
	}
	onlyErrors := qwatch.WithFilter(func(m *message.Message) bool { return m.Level <= message.LevelErr })
	if err := hub.AddSink("errors", &sink.Writer{Out: &errs, Format: sink.JSON}, onlyErrors); err != nil {
		panic(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-src.Done(); cancel() }() // a real program runs until it is told to stop
	if err := hub.Run(ctx); err != nil {   // drains both queues before it returns
		panic(err)
	}
	fmt.Print(all.String())
	fmt.Println(hub.Stats().Sinks["errors"].Written, "error(s)")
	// Output:
	// 2026-11-23T22:26:45.850Z info web-1 Hello World
	// 2026-11-23T22:26:45.850Z err db-1 disk full
	// 1 error(s)
}
