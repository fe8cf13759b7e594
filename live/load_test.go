package live

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
)

// paced emits total lines of one container at perSecond, then waits for the end.
type paced struct{ perSecond, total int }

func (p paced) Run(ctx context.Context, emit func(message.Message)) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	text := strings.Repeat("a line of a busy container, ", 4)
	start := time.Now()
	for sent := 0; sent < p.total; {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		// As many as are due by now, so a late tick does not lower the rate.
		due := min(int(time.Since(start).Seconds()*float64(p.perSecond)), p.total)
		for sent < due {
			emit(message.Message{Time: time.Now(), Level: message.LevelInfo, Text: fmt.Sprintf("%s%d", text, sent),
				Container: message.Container{ID: "busy0123456789", Name: "busy-1", ImageName: "logger:test"},
				Fields:    map[string]any{"stream": "stdout"}})
			sent++
		}
	}
	<-ctx.Done()
	return nil
}

// counting is a sink that only counts, so the heap measured is the Hub's and the page's.
type counting struct{ n atomic.Uint64 }

func (c *counting) Write(_ context.Context, b []message.Message) error {
	c.n.Add(uint64(len(b)))
	return nil
}
func (c *counting) Close(context.Context) error { return nil }

// Many open pages and a container printing 20,000 lines a second: the other sink loses
// nothing, pages that do not read lose their oldest lines (counted), and the heap stays
// bounded.
func TestLoadManyPages(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const (
		perSecond = 20000
		total     = 3 * perSecond
		readers   = 20
		stuck     = 2
		heapBound = 256 << 20
	)
	other := &counting{}
	s := NewSink(SinkConfig{})
	h := NewHandler(s, Config{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()

	hub := qwatch.NewHub()
	must(t, hub.AddSource("busy", paced{perSecond: perSecond, total: total}))
	must(t, hub.AddSink("other", other))
	must(t, hub.AddSink("live", s, qwatch.WithOverflow(qwatch.DropOldest)))

	// Readers that keep up, counting the lines they get.
	var got [readers]atomic.Int64
	var wg sync.WaitGroup
	for i := range readers {
		st := openStream(t, srv.URL+"/stream")
		st.waitFor("status", func(string) bool { return true })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				name, data, err := st.next()
				if err != nil {
					return
				}
				if name == "lines" {
					got[i].Add(int64(bytes.Count([]byte(data), []byte(`{"id":`))))
				}
			}
		}()
	}
	// Pages that never read: their queues fill and drop.
	var conns []net.Conn
	for range stuck {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		must(t, err)
		fmt.Fprintf(c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
		conns = append(conns, c)
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	start := time.Now()
	go func() { runErr <- hub.Run(ctx) }()
	var peak uint64
	for {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapInuse)
		st := hub.Stats().Sinks
		if st["other"].Written == total && st["live"].Written+st["live"].Dropped == total {
			break
		}
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("after 2 minutes: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	for _, c := range conns {
		c.Close()
	}
	cancel()
	must(t, <-runErr)
	wg.Wait()

	st := hub.Stats()
	other0, live := st.Sinks["other"], st.Sinks["live"]
	if other0.Offered != total || other0.Written != total || other.n.Load() != total {
		t.Errorf("other sink: %+v, counted %d; want all %d written", other0, other.n.Load(), total)
	}
	ls := s.Stats()
	if ls.Dropped == 0 {
		t.Errorf("live: %+v; the pages that never read dropped nothing", ls)
	}
	var least, most int64 = total, 0
	for i := range got {
		least, most = min(least, got[i].Load()), max(most, got[i].Load())
	}
	t.Logf("%d lines in %v (%.0f/s) to %d reading pages and %d that never read", total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), readers, stuck)
	t.Logf("other sink: offered %d, written %d; live sink: written %d, dropped by the Hub %d; pages dropped %d; reading pages got %d to %d lines",
		other0.Offered, other0.Written, live.Written, live.Dropped, ls.Dropped, least, most)
	t.Logf("heap in use: %.1f MiB before, %.1f MiB at peak; %s", float64(before.HeapInuse)/(1<<20), float64(peak)/(1<<20), peakRSS())
	if peak > heapBound {
		t.Errorf("heap in use peaked at %d MiB, want under %d MiB", peak>>20, heapBound>>20)
	}
}

// peakRSS reports the process's peak resident memory, where Linux says it.
func peakRSS() string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "peak RSS unknown"
	}
	for l := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return "peak RSS " + strings.TrimSpace(rest)
		}
	}
	return "peak RSS unknown"
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
