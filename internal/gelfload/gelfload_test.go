package gelfload_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/internal/gelfload"
	"github.com/qnib/qwatch/qwatchtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The load, sent to a GELF source over UDP (each compression) and TCP, arrives whole: the
// tally finds nothing lost, repeated or out of order (each container sends from a socket of
// its own, and the UDP workers keep each sender's order), and the long lines came chunked.
func TestLoadThroughTheGELFSource(t *testing.T) {
	for _, tc := range []struct{ proto, compression string }{
		{"udp", "gzip"}, {"udp", "zlib"}, {"udp", "none"}, {"tcp", "none"},
	} {
		t.Run(tc.proto+"/"+tc.compression, func(t *testing.T) {
			const n = 2000
			cfg := gelfload.Config{Run: "t", Count: n, Compression: tc.compression}
			msgs, err := gelfload.Make(cfg, tc.proto == "udp")
			if err != nil {
				t.Fatal(err)
			}
			src, err := gelf.Listen(gelf.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", UDPWorkers: 4, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			addr := src.UDPAddr().String()
			if tc.proto == "tcp" {
				addr = src.TCPAddr().String()
			}
			var c qwatchtest.Collector
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx, c.Emit) }()
			// Paced, so that the kernel's socket buffer is no part of this test.
			sent, err := gelfload.Send(ctx, tc.proto, addr, msgs, 20000, 3)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.WaitFor(n, 20*time.Second)
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			tally := gelfload.NewTally("t", 10)
			for _, m := range got {
				tally.Add(m.Text)
			}
			want := gelfload.Report{Sent: n, Unique: n}
			if r := tally.Report(n); r != want {
				t.Errorf("report %+v, want %+v", r, want)
			}
			if chunked := sent.Packets - sent.Messages; tc.proto == "udp" && chunked < n/25 {
				t.Errorf("%d extra chunks for %d messages: the long lines did not chunk", chunked, n)
			}
			if got[0].Container.ID == "" || got[0].Container.Name == "" {
				t.Errorf("no container fields: %+v", got[0].Container)
			}
		})
	}
}

// The tally tells lost, repeated and reordered lines apart.
func TestTally(t *testing.T) {
	tally := gelfload.NewTally("r", 2)
	for _, line := range []string{"r c0 0 x", "r c0 2 x", "r c0 1 x", "r c1 0", "r c1 0", "other", "r c9 0"} {
		tally.Add(line)
	}
	want := gelfload.Report{Sent: 6, Unique: 4, Lost: 2, Duplicated: 1, Reordered: 1, Foreign: 2}
	if r := tally.Report(6); r != want {
		t.Errorf("report %+v, want %+v", r, want)
	}
}
