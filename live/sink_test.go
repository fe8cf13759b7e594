package live

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/message"
)

var _ qwatch.Sink = (*Sink)(nil)

func logLine(id, container, text string) message.Message {
	return message.Message{ID: id, Time: time.Unix(1795472805, 0).UTC(), Level: message.LevelInfo, Text: text,
		Container: message.Container{ID: container, Name: container + "-name"}}
}

func write(t *testing.T, s *Sink, msgs ...message.Message) {
	t.Helper()
	if err := s.Write(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

func ids(t *testing.T, lines [][]byte) []string {
	t.Helper()
	var out []string
	for _, b := range lines {
		var l line
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		out = append(out, l.ID)
	}
	return out
}

func TestHistoryBounds(t *testing.T) {
	one := len(encode(&message.Message{ID: "00", Text: strings.Repeat("x", 100)}))
	for _, tt := range []struct {
		name string
		cfg  SinkConfig
		want []string
	}{
		{"by count", SinkConfig{HistoryLines: 3, HistoryBytes: 1 << 20}, []string{"07", "08", "09"}},
		{"by bytes", SinkConfig{HistoryLines: 100, HistoryBytes: int64(4*one + one/2)}, []string{"06", "07", "08", "09"}},
		{"one line larger than the bound", SinkConfig{HistoryLines: 100, HistoryBytes: 10}, []string{"09"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSink(tt.cfg)
			for i := range 10 {
				write(t, s, message.Message{ID: "0" + string(rune('0'+i)), Text: strings.Repeat("x", 100)})
			}
			_, history, err := s.open()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(t, history)); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
			st := s.Stats()
			if st.History != len(tt.want) || st.HistoryBytes != int64(len(tt.want)*one) || st.Lines != 10 {
				t.Errorf("Stats = %+v, want %d lines of %d bytes in the history, 10 written", st, len(tt.want), one)
			}
		})
	}
}

// A page that does not take its lines loses the oldest, counted for it and for the Sink,
// while another page that keeps up loses none.
func TestPageDropsOldest(t *testing.T) {
	s := NewSink(SinkConfig{PageLines: 3})
	slow, _, _ := s.open()
	fast, _, _ := s.open()
	var fastGot []string
	for i := range 5 {
		write(t, s, logLine(string(rune('a'+i)), "c1", "hello"))
		fastGot = append(fastGot, ids(t, s.take(fast))...)
	}
	if diff := cmp.Diff([]string{"c", "d", "e"}, ids(t, s.take(slow))); diff != "" {
		t.Errorf("slow page got (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, fastGot); diff != "" {
		t.Errorf("fast page got (-want +got):\n%s", diff)
	}
	if got := s.pageDropped(slow); got != 2 {
		t.Errorf("slow page dropped %d, want 2", got)
	}
	if got := s.pageDropped(fast); got != 0 {
		t.Errorf("fast page dropped %d, want 0", got)
	}
	s.close(slow)
	if st := s.Stats(); st.Dropped != 2 || st.Pages != 1 {
		t.Errorf("Stats = %+v, want 2 dropped and 1 page open after the slow one closed", st)
	}
}

func TestPagesBounded(t *testing.T) {
	s := NewSink(SinkConfig{Pages: 2})
	a, _, errA := s.open()
	_, _, errB := s.open()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if _, _, err := s.open(); !errors.Is(err, errTooManyPages) {
		t.Fatalf("a third page: %v, want errTooManyPages", err)
	}
	s.close(a)
	if _, _, err := s.open(); err != nil {
		t.Errorf("a page after one closed: %v", err)
	}
}

func TestRates(t *testing.T) {
	now := time.Unix(1795472805, 0)
	s := NewSink(SinkConfig{Containers: 2})
	s.now = func() time.Time { return now }
	write(t, s, logLine("1", "a", "x"), logLine("2", "a", "x"), logLine("3", "b", "x"),
		message.Message{Kind: message.KindEvent, Container: message.Container{ID: "a"}}) // events are not lines
	now = now.Add(2 * time.Minute)
	write(t, s, logLine("4", "a", "x"))
	got := s.Rates()
	want := make([]uint32, RateMinutes)
	want[RateMinutes-3], want[RateMinutes-1] = 2, 1
	if diff := cmp.Diff(want, got["a"]); diff != "" {
		t.Errorf("rates of a (-want +got):\n%s", diff)
	}
	// A third container makes room by forgetting the one that logged least recently, b.
	write(t, s, logLine("5", "c", "x"))
	got = s.Rates()
	if _, ok := got["b"]; ok || len(got) != 2 {
		t.Errorf("rates kept for %v, want a and c", got)
	}
	// Past the window, nothing is left of a's minutes.
	now = now.Add(RateMinutes * time.Minute)
	if diff := cmp.Diff(make([]uint32, RateMinutes), s.Rates()["a"]); diff != "" {
		t.Errorf("rates of a after %d minutes (-want +got):\n%s", RateMinutes, diff)
	}
}

func TestEncode(t *testing.T) {
	m := logLine("id1", "c1", `<img src=x onerror=alert(1)>`)
	m.Fields = map[string]any{"n": math.NaN(), "user": "bob"}
	m.FullText = "first\n\tat second"
	var got line
	if err := json.Unmarshal(encode(&m), &got); err != nil {
		t.Fatal(err)
	}
	want := line{ID: "id1", Time: m.Time, Kind: "log", Level: 6, Text: m.Text, FullText: m.FullText, Container: "c1", Name: "c1-name",
		Fields: map[string]any{"n": "NaN", "user": "bob"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("encoded (-want +got):\n%s", diff)
	}
}

func TestSinkClose(t *testing.T) {
	s := NewSink(SinkConfig{})
	p, _, _ := s.open()
	for range 2 {
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-p.done:
	default:
		t.Error("an open page's done is not closed by Close")
	}
	if err := s.Write(context.Background(), []message.Message{logLine("1", "c", "x")}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if _, _, err := s.open(); !errors.Is(err, ErrClosed) {
		t.Errorf("open after Close = %v, want ErrClosed", err)
	}
}

// Messages written while no page is open are kept unencoded and encoded when a page opens:
// every page still gets the whole history, oldest first, whether its lines came in while
// pages were open or not.
func TestHistoryAcrossPages(t *testing.T) {
	s := NewSink(SinkConfig{HistoryLines: 100})
	for _, id := range []string{"01", "02", "03"} {
		write(t, s, logLine(id, "c1", "unwatched"))
	}
	a, history, err := s.open()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"01", "02", "03"}, ids(t, history)); diff != "" {
		t.Errorf("first page's history (-want +got):\n%s", diff)
	}
	write(t, s, logLine("04", "c1", "watched"), logLine("05", "c1", "watched"))
	if diff := cmp.Diff([]string{"04", "05"}, ids(t, s.take(a))); diff != "" {
		t.Errorf("first page's queue (-want +got):\n%s", diff)
	}
	s.close(a)
	write(t, s, logLine("06", "c1", "unwatched again"), logLine("07", "c1", "unwatched again"))
	if st := s.Stats(); st.History != 7 || st.Lines != 7 {
		t.Errorf("Stats = %+v, want 7 lines in the history, 7 written", st)
	}
	write(t, s, logLine("08", "c1", "after Stats"))
	_, history, err = s.open()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"01", "02", "03", "04", "05", "06", "07", "08"}, ids(t, history)); diff != "" {
		t.Errorf("second page's history (-want +got):\n%s", diff)
	}
}

// The unencoded history is bounded by bytes as the encoded one is: its estimate never
// exceeds what encoding makes of a message, so it keeps no fewer messages than the history
// will, and one sender's large lines push out the older ones.
func TestUnencodedHistoryBounds(t *testing.T) {
	for _, m := range []message.Message{
		{},
		logLine("01", "c1", `quotes " and \ and <script>`),
		{ID: "x", Text: "t", FullText: "full", Host: "h", Source: "gelf", Fields: map[string]any{"a": "b", "n": 1.5, "ok": true, "nan": math.NaN()},
			Event: message.Event{Type: "container", Action: "start"}, Service: message.Service{Name: "web"}},
	} {
		if e, n := estimate(&m), len(encode(&m)); e > int64(n) {
			t.Errorf("estimate %d > encoded %d for %+v", e, n, m)
		}
	}
	big := strings.Repeat("x", 1<<20)
	s := NewSink(SinkConfig{HistoryLines: 1000, HistoryBytes: 3 << 20})
	for i := range 10 {
		write(t, s, logLine(string(rune('a'+i)), "c1", big))
	}
	s.mu.Lock()
	n, bytes := s.unencoded.n, s.unencoded.bytes
	s.mu.Unlock()
	if n > 3 || bytes > 3<<20 {
		t.Errorf("%d messages, %d bytes kept unencoded; want at most 3 MiB", n, bytes)
	}
	_, history, err := s.open()
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(t, history); len(got) == 0 || got[len(got)-1] != "j" {
		t.Errorf("history %v, want the newest line last", got)
	}
}

// BenchmarkWrite is a 100-byte log line written with no page open (kept unencoded) and with
// one page open (encoded for it), batches of 64: the first is what the Sink costs a daemon
// nobody watches.
func BenchmarkWrite(b *testing.B) {
	batch := make([]message.Message, 64)
	for i := range batch {
		batch[i] = logLine("0123456789abcdef", "c0ffee", strings.Repeat("x", 100))
	}
	for _, watched := range []bool{false, true} {
		name := "unwatched"
		if watched {
			name = "watched"
		}
		b.Run(name, func(b *testing.B) {
			s := NewSink(SinkConfig{})
			var p *page
			if watched {
				var err error
				if p, _, err = s.open(); err != nil {
					b.Fatal(err)
				}
				defer s.close(p)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s.Write(context.Background(), batch)
				if p != nil && i%64 == 0 {
					s.take(p)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/line")
		})
	}
}
