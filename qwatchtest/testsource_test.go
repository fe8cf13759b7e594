package qwatchtest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
)

var _ qwatch.Source = (*qwatchtest.Replay)(nil)

func TestReplayConformance(t *testing.T) {
	qwatchtest.TestSource(t, qwatchtest.SourceKit{
		New: func(t *testing.T) qwatch.Source { return qwatchtest.NewReplay(qwatchtest.SampleMessages(100)...) },
	})
}

// fedSource emits what Feed puts into its channel; its flaw breaks one rule of the contract.
type fedSource struct {
	flaw string
	in   chan message.Message
}

func (f *fedSource) Run(ctx context.Context, emit func(message.Message)) error {
	switch f.flaw {
	case "leaks":
		go func() { select {} }()
	case "ignores-cancel":
		select {}
	case "late-emit":
		// Emits from a goroutine that Run does not wait for.
		go func() {
			for m := range f.in {
				time.Sleep(50 * time.Millisecond)
				emit(m)
			}
		}()
		<-ctx.Done()
		return nil
	case "lossy":
		// Hands messages on through a small buffer, dropping what does not fit.
		buf := make(chan message.Message, 10)
		var wg sync.WaitGroup
		wg.Go(func() {
			for m := range buf {
				emit(m)
			}
		})
		defer wg.Wait()
		defer close(buf)
		for {
			select {
			case m := <-f.in:
				select {
				case buf <- m:
				default:
				}
			case <-ctx.Done():
				return nil
			}
		}
	}
	for {
		select {
		case m := <-f.in:
			emit(m)
		case <-ctx.Done():
			if f.flaw == "error-on-cancel" {
				return ctx.Err()
			}
			return nil
		}
	}
}

// fedBatchSource is a fedSource that also hands over batches: what is waiting in its channel
// at once. With the flaw "batch-late-emit" its RunBatch emits from a goroutine it does not
// wait for; Run keeps the contract.
type fedBatchSource struct{ fedSource }

func (f *fedBatchSource) RunBatch(ctx context.Context, emit func([]message.Message)) error {
	var late sync.WaitGroup
	if inner := emit; f.flaw == "batch-late-emit" {
		emit = func(batch []message.Message) {
			batch = slices.Clone(batch)
			late.Go(func() {
				time.Sleep(50 * time.Millisecond)
				inner(batch)
			})
		}
	}
	var batch []message.Message
	for {
		select {
		case m := <-f.in:
			batch = append(batch[:0], m)
			for more := true; more && len(batch) < 64; {
				select {
				case m := <-f.in:
					batch = append(batch, m)
				default:
					more = false
				}
			}
			emit(batch)
		case <-ctx.Done():
			return nil
		}
	}
}

func fedKit(flaw string) qwatchtest.SourceKit {
	var src *fedSource
	return qwatchtest.SourceKit{
		New: func(t *testing.T) qwatch.Source {
			src = &fedSource{flaw: flaw, in: make(chan message.Message, 1000)}
			if strings.HasPrefix(flaw, "batch") {
				b := &fedBatchSource{*src}
				src = &b.fedSource
				return b
			}
			return src
		},
		Feed: func(t *testing.T, n int) {
			for _, m := range qwatchtest.SampleMessages(n) {
				src.in <- m
			}
		},
		NewInvalid: func(t *testing.T) error {
			if flaw == "no-constructor-error" {
				return nil
			}
			return errors.New("address in use")
		},
		Wait: 3 * time.Second,
	}
}

// TestFedSourceConformance shows that the harness passes a source that keeps the contract,
// and a batch source that does, through Run and RunBatch.
func TestFedSourceConformance(t *testing.T) {
	qwatchtest.TestSource(t, fedKit(""))
	qwatchtest.TestSource(t, fedKit("batch"))
}

// TestBrokenSource runs the harness against one broken source; it is meant to fail.
func TestBrokenSource(t *testing.T) {
	qwatchtest.TestSource(t, fedKit(os.Getenv("QWATCHTEST_FLAW")))
}

func TestHarnessCatchesBrokenSources(t *testing.T) {
	tests := []struct{ flaw, run, want string }{
		{"error-on-cancel", "", "want nil"},
		{"leaks", "", "goroutines left behind after Run returned"},
		{"ignores-cancel", "/CancelledBeforeRun", "did not return within"},
		{"late-emit", "/NoEmitAfterReturn", "time(s) after Run returned"},
		{"lossy", "", "while emit was blocked"},
		{"no-constructor-error", "/InvalidSettings", "returned no error"},
		{"batch-late-emit", "/RunBatch/NoEmitAfterReturn", "time(s) after Run returned"},
	}
	for _, tt := range tests {
		t.Run(tt.flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenSource$"+tt.run, "-test.count=1")
			cmd.Env = append(os.Environ(), "QWATCHTEST_FLAW="+tt.flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the harness passed a source with flaw %q:\n%s", tt.flaw, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("flaw %q: output lacks %q:\n%s", tt.flaw, tt.want, out)
			}
		})
	}
}
