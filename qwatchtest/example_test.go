package qwatchtest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
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

// A Collector's Emit stands in for the Hub when a test runs a source by itself.
func ExampleCollector() {
	src := qwatchtest.NewReplay(message.Message{Text: "hello"}, message.Message{Text: "world"})
	var c qwatchtest.Collector
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, c.Emit) }()

	msgs, err := c.WaitFor(2, 5*time.Second)
	cancel()
	fmt.Println(msgs[0].Text, msgs[1].Text, err, <-done)
	// Output:
	// hello world <nil> <nil>
}

// countSink is a complete custom sink: it counts lines per container. The Hub calls Write and
// Close from one goroutine, so it needs no lock of its own for that; Counts may be read only
// after the Hub's Run has returned.
type countSink struct {
	counts map[string]int
	closed bool
}

func (s *countSink) Write(ctx context.Context, batch []message.Message) error {
	if s.closed {
		return errors.New("countsink: closed")
	}
	for i := range batch {
		s.counts[batch[i].Container.Name]++ // read-only: messages are shared with other sinks
	}
	return nil
}

func (s *countSink) Close(context.Context) error {
	s.closed = true
	return nil
}

// A custom sink runs behind a Hub like any other; a Replay source feeds it in a test.
func Example_customSink() {
	msgs := []message.Message{
		{Text: "a", Container: message.Container{Name: "web"}},
		{Text: "b", Container: message.Container{Name: "db"}},
		{Text: "c", Container: message.Container{Name: "web"}},
	}
	src := qwatchtest.NewReplay(msgs...)
	sink := &countSink{counts: map[string]int{}}
	hub := qwatch.NewHub()
	hub.AddSource("replay", src)
	hub.AddSink("count", sink, qwatch.WithBatch(10, time.Millisecond))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- hub.Run(ctx) }()
	<-src.Done()
	cancel()
	err := <-done // Run drains every queue into its sink before it returns
	st := hub.Stats().Sinks["count"]
	fmt.Println(sink.counts["web"], sink.counts["db"], st.Written, err)
	// Output:
	// 2 1 3 <nil>
}

// Run TestSink against your own sink in one of its package's tests: newSink makes a fresh
// sink, stored reads back what it holds (from the file or server it writes to). The harness
// checks the qwatch.Sink contract: every message stored once, a cancelled ctx honoured,
// Close idempotent, and so on.
func ExampleTestSink() {
	testMySink := func(t *testing.T) {
		var rec *qwatchtest.Recorder // your sink here
		qwatchtest.TestSink(t,
			func(t *testing.T) qwatch.Sink { rec = &qwatchtest.Recorder{}; return rec },
			func(t *testing.T) []message.Message { return rec.Messages() })
	}
	_ = testMySink // as: func TestMySink(t *testing.T) { ... }
}

// Run TestSource against your own source: New makes one with its sockets bound, Feed makes it
// produce n messages while it runs.
func ExampleTestSource() {
	testMySource := func(t *testing.T) {
		var replay *qwatchtest.Replay // your source here
		qwatchtest.TestSource(t, qwatchtest.SourceKit{
			New: func(t *testing.T) qwatch.Source {
				replay = qwatchtest.NewReplay(qwatchtest.SampleMessages(100)...)
				return replay
			},
		})
	}
	_ = testMySource // as: func TestMySource(t *testing.T) { ... }
}
