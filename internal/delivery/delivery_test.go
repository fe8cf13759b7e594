package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/qnib/qwatch/internal/spool"
	"github.com/qnib/qwatch/message"
)

func open(t *testing.T, cfg Config) *Spool {
	t.Helper()
	cfg.Log = slog.New(slog.DiscardHandler)
	if cfg.BatchSize == 0 {
		cfg.BatchSize, cfg.BatchBytes = 100, 1<<20
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func numbered(from, n int) []message.Message {
	var out []message.Message
	for i := from; i < from+n; i++ {
		out = append(out, message.Message{ID: fmt.Sprintf("id-%04d", i), Text: fmt.Sprintf("%04d", i)})
	}
	return out
}

func texts(msgs []message.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

// deliverAll runs Deliver with write until what is on disk now is delivered.
func deliverAll(s *Spool, write WriteFunc) {
	s.Drain()
	s.Deliver(context.Background(), write)
}

// statsOnly compares what a test sets up, not the bytes a record takes.
var statsOnly = cmpopts.IgnoreFields(Stats{}, "Bytes", "MaxBytes")

// A write that fails for part of a batch is retried for that part alone, in order, and the
// batch leaves the spool once all of it is written.
func TestDeliverRetriesOnlyTheUnwritten(t *testing.T) {
	s := open(t, Config{Spool: spool.Config{Dir: t.TempDir()}})
	if _, err := s.Append(context.Background(), numbered(0, 10)); err != nil {
		t.Fatal(err)
	}
	var calls [][]string
	var during Stats
	deliverAll(s, func(_ context.Context, batch []message.Message) ([]int, error) {
		calls = append(calls, texts(batch))
		if len(calls) == 1 {
			return []int{3, 7}, errors.New("503")
		}
		during = s.Stats()
		return nil, nil
	})
	want := [][]string{texts(numbered(0, 10)), {"0003", "0007"}}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("batches written (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Stats{Spooled: 2, Written: 8, Retrying: true, LastError: "503"}, during, statsOnly); diff != "" {
		t.Errorf("stats while retrying (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Stats{Written: 10}, s.Stats(), statsOnly); diff != "" {
		t.Errorf("stats once delivered (-want +got):\n%s", diff)
	}
}

// A record that does not decode is counted as lost and leaves with its batch.
func TestUndecodableRecordIsLost(t *testing.T) {
	s := open(t, Config{Spool: spool.Config{Dir: t.TempDir()}})
	s.Append(context.Background(), numbered(0, 1))
	if err := s.sp.Append([]byte("not a message")); err != nil {
		t.Fatal(err)
	}
	s.Append(context.Background(), numbered(1, 1))
	var got []string
	deliverAll(s, func(_ context.Context, batch []message.Message) ([]int, error) {
		got = append(got, texts(batch)...)
		return nil, nil
	})
	if diff := cmp.Diff(texts(numbered(0, 2)), got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Stats{Written: 2, Lost: 1}, s.Stats(), statsOnly); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// Deliver stops at ctx's end, leaving on disk what it did not write; the next Open recovers it.
func TestUndeliveredStaysForTheNextOpen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Spool: spool.Config{Dir: dir}})
	s.Append(context.Background(), numbered(0, 5))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		s.Deliver(ctx, func(context.Context, []message.Message) ([]int, error) {
			cancel()
			return []int{0, 1, 2, 3, 4}, errors.New("down")
		})
	})
	wg.Wait()
	if diff := cmp.Diff(Stats{Spooled: 5, Retrying: true, LastError: "down"}, s.Stats(), statsOnly); diff != "" {
		t.Errorf("stats after ctx ended (-want +got):\n%s", diff)
	}
	s.Close()
	s2 := open(t, Config{Spool: spool.Config{Dir: dir}})
	if diff := cmp.Diff(Stats{Spooled: 5, Recovered: 5}, s2.Stats(), statsOnly); diff != "" {
		t.Errorf("stats after reopening (-want +got):\n%s", diff)
	}
}

// A full spool applies the overflow policy to the batch that does not fit.
func TestAppendToAFullSpool(t *testing.T) {
	// Records of one size, 4 to a segment, 12 to the spool (a record has a 20-byte header,
	// as package spool documents).
	rec := int64(20 + len(appendMessage(nil, &numbered(1000, 1)[0])))
	cfg := spool.Config{MaxBytes: 12 * rec, SegmentBytes: 4 * rec}
	for _, tt := range []struct {
		name    string
		policy  Overflow
		dropped int
		want    []string // on disk after the batch 1000..1004
	}{
		{"block gives up when ctx ends", Block, 5, texts(numbered(1000, 12))},
		{"drop-newest", DropNewest, 5, texts(numbered(1000, 12))},
		// One segment of 4 gone leaves 8, too many for 5 more; two leave room.
		{"drop-oldest", DropOldest, 8, append(texts(numbered(1008, 4)), texts(numbered(2000, 5))...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg.Dir = t.TempDir()
			s := open(t, Config{Overflow: tt.policy, Spool: cfg})
			for _, m := range numbered(1000, 12) {
				if dropped, err := s.Append(context.Background(), []message.Message{m}); dropped != 0 || err != nil {
					t.Fatalf("Append %s to a spool with room: dropped %d, %v", m.Text, dropped, err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // Block waits for room only until ctx ends
			dropped, err := s.Append(ctx, numbered(2000, 5))
			if dropped != tt.dropped || err != nil {
				t.Errorf("Append to a full spool: dropped %d, %v; want %d dropped", dropped, err, tt.dropped)
			}
			if got := s.Stats().SpoolError; got != "" {
				t.Errorf("SpoolError = %q for a spool at its bound, which is no disk error", got)
			}
			var got []string
			deliverAll(s, func(_ context.Context, batch []message.Message) ([]int, error) {
				got = append(got, texts(batch)...)
				return nil, nil
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("on disk (-want +got):\n%s", diff)
			}
		})
	}
}

// SpoolError says why Append was last refused for ErrorHold, and then clears, whether or not
// anything was appended since.
func TestRefusalHoldsThenClears(t *testing.T) {
	at := time.Date(2026, 11, 23, 22, 0, 0, 0, time.UTC)
	refused := refusal{err: "no space left on device", at: at}
	for _, tt := range []struct {
		name string
		r    refusal
		now  time.Time
		want string
	}{
		{"never refused", refusal{}, at, ""},
		{"just refused", refused, at, refused.err},
		{"within the hold", refused, at.Add(ErrorHold - time.Millisecond), refused.err},
		{"hold passed", refused, at.Add(ErrorHold), ""},
		{"long after", refused, at.Add(time.Hour), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.current(tt.now); got != tt.want {
				t.Errorf("current = %q, want %q", got, tt.want)
			}
		})
	}
}

// A message delivered while delivery keeps up (taken from memory) is the message delivery
// reads back from disk after a restart.
func TestDeliveredFromMemoryAsFromDisk(t *testing.T) {
	msgs := sampleForCodec()
	msgs[1].Time = time.Now() // local, with a monotonic reading
	collect := func(got *[]message.Message) WriteFunc {
		return func(_ context.Context, batch []message.Message) ([]int, error) {
			*got = append(*got, batch...)
			return nil, nil
		}
	}
	var fromMemory, fromDisk []message.Message
	s := open(t, Config{Spool: spool.Config{Dir: t.TempDir()}})
	if _, err := s.Append(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if n := len(s.recent.msgs) - s.recent.head; n != len(msgs) {
		t.Fatalf("%d messages kept in memory, want %d", n, len(msgs))
	}
	deliverAll(s, collect(&fromMemory))
	if n := len(s.recent.msgs) - s.recent.head; n != 0 {
		t.Errorf("%d messages still kept after delivery", n)
	}

	dir := t.TempDir()
	s = open(t, Config{Spool: spool.Config{Dir: dir}})
	if _, err := s.Append(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, Config{Spool: spool.Config{Dir: dir}})
	deliverAll(s, collect(&fromDisk))
	if diff := cmp.Diff(fromDisk, fromMemory); diff != "" {
		t.Errorf("from memory (-disk +memory):\n%s", diff)
	}
	if len(fromDisk) != len(msgs) {
		t.Errorf("delivered %d, want %d", len(fromDisk), len(msgs))
	}
}

// recent keeps the last max messages of contiguous appends, starts again after a gap, and
// forgets what was taken and everything before it.
func TestRecentKeepsTheLastAppends(t *testing.T) {
	r := recent{max: 4, maxBytes: 1 << 20}
	r.add(1, numbered(1, 3)) // seq 1..3
	r.add(4, numbered(4, 3)) // seq 4..6: 1 and 2 go
	var m message.Message
	for seq, want := range map[uint64]bool{1: false, 2: false, 7: false} {
		if r.take(seq, &m) != want {
			t.Errorf("take(%d) = %v, want %v", seq, !want, want)
		}
	}
	if !r.take(4, &m) || m.Text != "0004" {
		t.Fatalf("take(4) gave %q", m.Text)
	}
	if r.take(3, &m) {
		t.Error("3 was kept after 4 was taken")
	}
	r.add(10, numbered(10, 2)) // a gap: 5 and 6 are forgotten
	if r.take(5, &m) || !r.take(11, &m) || m.Text != "0011" {
		t.Errorf("after a gap: take(11) gave %q", m.Text)
	}
	r.add(12, numbered(12, 9)) // more than max at once: the last 4 are kept
	if r.take(16, &m) || !r.take(17, &m) || m.Text != "0017" {
		t.Errorf("after a large batch: take(17) gave %q", m.Text)
	}
	// Bounded in bytes too: a message larger than the bound is not kept, and two that
	// together pass it are not kept together.
	r = recent{max: 100, maxBytes: 3000}
	big := numbered(1, 4)
	big[1].Text = strings.Repeat("x", 3000)
	big[2].Text = strings.Repeat("y", 1500)
	big[3].Text = strings.Repeat("z", 1500)
	r.add(1, big)
	for seq, want := range map[uint64]bool{1: false, 2: false, 3: false, 4: true} {
		if r.take(seq, &m) != want {
			t.Errorf("bounded in bytes: take(%d) = %v, want %v", seq, !want, want)
		}
	}
	if r.bytes != 0 {
		t.Errorf("%d bytes counted with nothing kept", r.bytes)
	}
}

// What Append kept of a batch the spool refused is forgotten, and the bytes counted with it.
func TestRecentForgetsARefusedBatch(t *testing.T) {
	r := recent{max: 100, maxBytes: 1 << 20}
	r.add(1, numbered(1, 3))
	bytes := r.bytes
	r.add(4, numbered(4, 3))
	r.forgetFrom(4)
	var m message.Message
	if r.take(4, &m) || r.bytes != bytes {
		t.Errorf("after forgetFrom(4): take(4) gave %q, %d bytes counted, want nothing and %d", m.Text, r.bytes, bytes)
	}
	if !r.take(3, &m) || m.Text != "0003" {
		t.Errorf("take(3) gave %q, want 0003", m.Text)
	}
	r.forgetFrom(1)
	if r.bytes != 0 || r.take(4, &m) {
		t.Errorf("after forgetFrom(1): %d bytes counted, want 0", r.bytes)
	}
}
