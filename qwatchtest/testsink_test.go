package qwatchtest_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

func TestMain(m *testing.M) {
	// TestBrokenSink and TestBrokenSource are meant to fail: they run only in the child
	// processes that TestHarnessCatchesBrokenSinks and TestHarnessCatchesBrokenSources start.
	if os.Getenv("QWATCHTEST_FLAW") == "" {
		_ = flag.Set("test.skip", "^(TestBrokenSink|TestBrokenSource)$")
	}
	goleak.VerifyTestMain(m)
}

// brokenSink breaks one rule of the contract, chosen by its flaw.
type brokenSink struct {
	flaw   string
	kept   []message.Message
	closed bool
	stop   chan struct{}
}

func (b *brokenSink) Write(ctx context.Context, batch []message.Message) error {
	if b.closed && b.flaw != "write-after-close" {
		return context.Canceled
	}
	switch b.flaw {
	case "aliasing":
		b.kept = append(b.kept, batch[:0]...)
		b.kept = batch // keeps the caller's slice instead of copying
		return nil
	case "drops-last":
		if len(batch) > 1 {
			batch = batch[:len(batch)-1]
		}
	case "ignores-cancel":
		if ctx.Err() != nil {
			return context.DeadlineExceeded
		}
	}
	b.kept = append(b.kept, batch...)
	return nil
}

func (b *brokenSink) Close(context.Context) error {
	if b.flaw == "leaks" && b.stop == nil {
		b.stop = make(chan struct{})
		go func() { <-b.stop }()
	}
	b.closed = true
	return nil
}

// TestBrokenSink runs the harness against one broken sink; it is meant to fail.
func TestBrokenSink(t *testing.T) {
	flaw := os.Getenv("QWATCHTEST_FLAW")
	var s *brokenSink
	qwatchtest.TestSink(t,
		func(t *testing.T) qwatch.Sink { s = &brokenSink{flaw: flaw}; return s },
		func(t *testing.T) []message.Message { return append([]message.Message(nil), s.kept...) })
}

func TestHarnessCatchesBrokenSinks(t *testing.T) {
	tests := []struct{ flaw, want string }{
		{"aliasing", "StoresEveryMessageInOrder"},
		{"drops-last", "stored messages differ from those written"},
		{"write-after-close", "Write after Close = nil, want an error"},
		{"ignores-cancel", "want nil or an error wrapping context.Canceled"},
		{"leaks", "goroutines left behind after Close"},
	}
	for _, tt := range tests {
		t.Run(tt.flaw, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenSink$", "-test.count=1")
			cmd.Env = append(os.Environ(), "QWATCHTEST_FLAW="+tt.flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the harness passed a sink with flaw %q:\n%s", tt.flaw, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("flaw %q: output lacks %q:\n%s", tt.flaw, tt.want, out)
			}
		})
	}
}

func TestRecorderWaitFor(t *testing.T) {
	r := &qwatchtest.Recorder{}
	go func() {
		for i := range 5 {
			_ = r.Write(context.Background(), []message.Message{{Text: string(rune('a' + i))}})
		}
	}()
	got, err := r.WaitFor(5, 5*time.Second)
	if err != nil || len(got) != 5 {
		t.Fatalf("WaitFor(5) = %d messages, %v", len(got), err)
	}
	if _, err := r.WaitFor(6, 20*time.Millisecond); err == nil || !strings.Contains(err.Error(), "got 5 of 6") {
		t.Errorf("WaitFor(6) = %v, want a timeout saying 5 of 6", err)
	}
}

func TestReplay(t *testing.T) {
	msgs := qwatchtest.SampleMessages(3)
	r := qwatchtest.NewReplay(msgs...)
	ctx, cancel := context.WithCancel(context.Background())
	var got []message.Message
	done := make(chan error)
	go func() { done <- r.Run(ctx, func(m message.Message) { got = append(got, m) }) }()
	<-r.Done()
	select {
	case <-done:
		t.Fatal("Replay returned before ctx was done")
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].ID != msgs[2].ID {
		t.Errorf("replayed %d messages", len(got))
	}
}
