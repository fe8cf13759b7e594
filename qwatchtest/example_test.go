package qwatchtest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

// A Recorder stands in for a real sink in a test of the code that feeds a Hub.
func ExampleRecorder() {
	rec := &qwatchtest.Recorder{}
	hub := qwatch.NewHub()
	hub.AddSink("rec", rec, qwatch.WithBatch(10, time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- hub.Run(ctx) }()

	hub.Publish(ctx, message.Message{Text: "first"})
	hub.Publish(ctx, message.Message{Text: "second"})
	msgs, err := rec.WaitFor(2, 5*time.Second)
	cancel()
	<-done
	fmt.Println(len(msgs), msgs[0].Text, msgs[1].Text, err, rec.Closed())
	// Output:
	// 2 first second <nil> true
}
