package spool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qnib/qwatch/internal/tmpfs"
)

func TestMain(m *testing.M) {
	if os.Getenv("SPOOL_CRASH_CHILD") != "" {
		crashChild(os.Getenv("SPOOL_CRASH_CHILD"))
		return
	}
	goleak.VerifyTestMain(m)
}

func open(t *testing.T, cfg Config) *Spool {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendN(t *testing.T, s *Spool, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := s.Append([]byte(fmt.Sprintf("record %d", i))); err != nil {
			t.Fatal(err)
		}
	}
}

// readAll reads what is there now, and returns the payloads. Read waits only when it has
// nothing to return, so a context that is already done makes it return what there is, and
// then the context's error.
func readAll(t *testing.T, s *Spool) ([]string, uint64) {
	t.Helper()
	var out []string
	var last uint64
	now, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		recs, err := s.Read(now, nil, 100, 1<<20, nil)
		for _, r := range recs {
			out = append(out, string(r.Data))
			last = r.Seq
		}
		if errors.Is(err, context.Canceled) {
			return out, last
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
	}
}

func want(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("record %d", i))
	}
	return out
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %d records %v\nwant %d %v", len(got), short(got), len(want), short(want))
	}
}

func short(s []string) []string {
	if len(s) > 6 {
		return append(append(s[:3:3], "…"), s[len(s)-3:]...)
	}
	return s
}

func TestRoundTripAndResumeAfterAck(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir, SegmentBytes: 200})
	appendN(t, s, 0, 50)
	got, _ := readAll(t, s)
	equal(t, got, want(0, 50))
	if err := s.Ack(20); err != nil { // records 0..19 (seq 1..20)
		t.Fatal(err)
	}
	if st := s.Stats(); st.Messages != 30 || st.Appended != 50 || st.Acked != 20 || st.Segments < 2 || st.MaxBytes != DefaultMaxBytes {
		t.Errorf("stats %+v", st)
	}
	s.Close()
	s2 := open(t, Config{Dir: dir, SegmentBytes: 200})
	if st := s2.Stats(); st.Recovered != 30 {
		t.Errorf("Recovered = %d, want 30", st.Recovered)
	}
	got, last := readAll(t, s2)
	equal(t, got, want(20, 50))
	s2.Ack(last)
	appendN(t, s2, 50, 5)
	got, _ = readAll(t, s2)
	equal(t, got, want(50, 55))
	if st := s2.Stats(); st.Lost != 0 {
		t.Errorf("Lost = %d", st.Lost)
	}
}

// The cursor is a hint: from the future, the past, or garbage, it neither wedges nor skips.
func TestCursorOutOfStep(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cursor func(path string)
	}{
		{"future", func(p string) { writeRawCursor(p, 1_000_000) }},
		{"past", func(p string) { writeRawCursor(p, 0) }},
		{"garbage", func(p string) { os.WriteFile(p, []byte("nonsense!!"), 0o600) }},
		{"missing", func(p string) { os.Remove(p) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, Config{Dir: dir, SegmentBytes: 100})
			appendN(t, s, 0, 20)
			readAll(t, s)
			s.Ack(5)
			s.Close()
			tt.cursor(filepath.Join(dir, "ack"))
			s2 := open(t, Config{Dir: dir, SegmentBytes: 100})
			got, _ := readAll(t, s2)
			// At least once: everything not acknowledged comes, in order, maybe more.
			if len(got) < 15 || got[len(got)-1] != "record 19" || !strings.HasSuffix(strings.Join(got, ","), strings.Join(want(5, 20), ",")) {
				t.Errorf("after a %s cursor got %v", tt.name, short(got))
			}
		})
	}
}

func writeRawCursor(path string, seq uint64) {
	s := &Spool{cfg: Config{Dir: filepath.Dir(path)}, acked: seq}
	s.writeCursor()
}

// A torn tail (a crash mid-write), cut at every byte of the last record, is cut off; every
// record before it is kept; appending goes on after it.
func TestTornTailAtEveryOffset(t *testing.T) {
	base := t.TempDir()
	s := open(t, Config{Dir: filepath.Join(base, "orig")})
	appendN(t, s, 0, 3)
	s.Close()
	seg := filepath.Join(base, "orig", fmt.Sprintf("%020d.seg", 1))
	data, _ := os.ReadFile(seg)
	lastLen := headerLen + len("record 2")
	for cut := len(data) - lastLen + 1; cut < len(data); cut++ {
		dir := filepath.Join(base, strconv.Itoa(cut))
		os.MkdirAll(dir, 0o700)
		os.WriteFile(filepath.Join(dir, filepath.Base(seg)), data[:cut], 0o600)
		s := open(t, Config{Dir: dir})
		appendN(t, s, 3, 1)
		got, _ := readAll(t, s)
		if strings.Join(got, ",") != "record 0,record 1,record 3" {
			t.Errorf("cut at %d: got %v", cut, got)
		}
		if st := s.Stats(); st.Lost != 0 {
			t.Errorf("cut at %d: a torn tail counted as lost", cut)
		}
		s.Close()
	}
}

// A garbled record in the middle is skipped and counted; the records after it still come.
func TestCorruptMiddleRecordAndSegment(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir, SegmentBytes: 150})
	appendN(t, s, 0, 30)
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 4 {
		t.Fatalf("%d segments", len(segs))
	}
	// A byte of one record's payload in the first segment, and the whole of the third.
	data, _ := os.ReadFile(segs[0])
	data[headerLen+2] ^= 0xff
	os.WriteFile(segs[0], data, 0o600)
	os.WriteFile(segs[2], []byte(strings.Repeat("garbage ", 20)), 0o600)
	s2 := open(t, Config{Dir: dir, SegmentBytes: 150})
	got, _ := readAll(t, s2)
	st := s2.Stats()
	if int(st.Lost)+len(got) != 30 || st.Lost < 2 || got[len(got)-1] != "record 29" || got[0] != "record 1" {
		t.Errorf("got %d records (%v), lost %d; want the rest of 30 with the lost counted", len(got), short(got), st.Lost)
	}
}

func TestMaxBytesAndDropOldest(t *testing.T) {
	s := open(t, Config{Dir: t.TempDir(), MaxBytes: 1000, SegmentBytes: 200})
	n := 0
	var err error
	for ; n < 1000; n++ {
		if err = s.Append([]byte(fmt.Sprintf("record %d", n))); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Append past MaxBytes = %v, want ErrFull", err)
	}
	if st := s.Stats(); st.Bytes > 1000 || st.MaxBytes != 1000 {
		t.Errorf("%d bytes on disk with MaxBytes 1000 (Stats.MaxBytes %d)", st.Bytes, st.MaxBytes)
	}
	// The reader has begun the first segment: that one stays, the next goes.
	first, err := s.Read(context.Background(), nil, 1, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := s.Stats().Messages
	dropped, err := s.DropOldest()
	if err != nil || dropped == 0 {
		t.Fatalf("DropOldest = %d, %v", dropped, err)
	}
	if got := s.Stats().Messages; got != before-int64(dropped) {
		t.Errorf("Messages %d after dropping %d of %d", got, dropped, before)
	}
	if err := s.Append([]byte("after the drop")); err != nil {
		t.Errorf("Append after DropOldest = %v", err)
	}
	rest, last := readAll(t, s)
	if len(rest)+1 != n-dropped+1 || string(first[0].Data) != "record 0" || rest[len(rest)-1] != "after the drop" {
		t.Errorf("after dropping %d of %d: got %q then %d records", dropped, n, first[0].Data, len(rest))
	}
	s.Ack(last)
	if st := s.Stats(); st.Messages != 0 || st.Lost != 0 || st.Acked != uint64(n-dropped+1) {
		t.Errorf("after acking all: %+v", st)
	}
}

// A full disk: Append fails with the I/O error, the spool stays readable, and once acks free
// room it takes records again.
func TestFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 256<<10)
	s, err := Open(Config{Dir: dir, SegmentBytes: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	payload := make([]byte, 1000)
	n := 0
	for ; n < 1000; n++ {
		if err = s.Append(payload); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk = %v, want ENOSPC", err)
	}
	recs, err := s.Read(context.Background(), nil, n, 1<<30, nil)
	if err != nil || len(recs) != n {
		t.Fatalf("Read on a full disk: %d of %d, %v", len(recs), n, err)
	}
	if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
		t.Fatalf("Ack on a full disk: %v", err)
	}
	if err := s.Append(payload); err != nil {
		t.Errorf("Append after acks freed room = %v", err)
	}
}

func TestUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(Config{Dir: filepath.Join(file, "spool")}); err == nil {
		t.Error("Open under a regular file succeeded")
	}
}

// childAppending is the line the crash child prints once its first append is on disk.
const childAppending = "appending"

// crashChild appends numbered records and acks in a loop, noting in files what it has
// appended and acknowledged, until it is killed. It prints childAppending once its first
// append has returned, so that the parent kills it only while it works.
func crashChild(dir string) {
	s, err := Open(Config{Dir: dir, SegmentBytes: 4096})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	next := int(s.nextSeq - 1) // record i has sequence number i+1
	for first := true; ; first = false {
		batch := make([][]byte, 0, 10)
		for range 10 {
			batch = append(batch, []byte(strconv.Itoa(next)))
			next++
		}
		if err := s.Append(batch...); err != nil {
			fmt.Println("append:", err)
			os.Exit(1)
		}
		// Written to the OS: from here on the records must survive a kill.
		tmp := filepath.Join(dir, "next.tmp")
		os.WriteFile(tmp, []byte(strconv.Itoa(next)), 0o600)
		os.Rename(tmp, filepath.Join(dir, "next"))
		if first {
			fmt.Println(childAppending)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		recs, _ := s.Read(ctx, nil, 7, 1<<20, nil)
		cancel()
		if len(recs) > 0 {
			last := recs[len(recs)-1]
			// Noted before the Ack, so the checker knows of every acknowledgement the spool
			// may have recorded; one noted but not recorded only comes again.
			f, _ := os.OpenFile(filepath.Join(dir, "acked"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			fmt.Fprintf(f, "%s\n", last.Data)
			f.Close()
			s.Ack(last.Seq)
		}
	}
}

// Killed at random moments many times, the spool loses nothing it accepted, and what comes
// again after a restart is only what was acknowledged after the last cursor write.
func TestKillNineAtRandomPoints(t *testing.T) {
	dir := t.TempDir()
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	for range rounds {
		killWhileAppending(t, dir)
	}
	// Everything appended is on disk: what was never acknowledged comes now, and nothing of
	// the numbers 0..next is missing between the acknowledged and the rest.
	s := open(t, Config{Dir: dir, SegmentBytes: 4096})
	got, _ := readAll(t, s)
	next, _ := os.ReadFile(filepath.Join(dir, "next"))
	total, _ := strconv.Atoi(string(next)) // Append returned for records 0..total-1
	ackedLines, _ := os.ReadFile(filepath.Join(dir, "acked"))
	lastAcked := -1
	for _, l := range strings.Fields(string(ackedLines)) {
		v, _ := strconv.Atoi(l)
		lastAcked = max(lastAcked, v)
	}
	if total == 0 || len(got) == 0 && lastAcked < total-1 {
		t.Fatalf("nothing came back: total %d, last acknowledged %d", total, lastAcked)
	}
	first, _ := strconv.Atoi(got[0])
	if first > lastAcked+1 {
		t.Errorf("records %d..%d were neither acknowledged nor delivered", lastAcked+1, first-1)
	}
	for i := 1; i < len(got); i++ {
		a, _ := strconv.Atoi(got[i-1])
		b, _ := strconv.Atoi(got[i])
		if b != a+1 {
			t.Fatalf("delivered out of order or with a hole: %d then %d", a, b)
		}
	}
	if last, _ := strconv.Atoi(got[len(got)-1]); last < total-1 {
		t.Errorf("the last record appended (%d) did not come back (last %d)", total-1, last)
	}
	if st := s.Stats(); st.Lost != 0 {
		t.Errorf("Lost = %d after kills", st.Lost)
	}
}

// killWhileAppending starts a crash child on dir, waits until it says it is appending (a
// child built with the race detector can take a while to start), and kills it with SIGKILL
// at a random moment of the next 50 ms.
func killWhileAppending(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SPOOL_CRASH_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Signal(syscall.SIGKILL)
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != childAppending {
		t.Fatalf("the crash child said %q (%v), want %q", line, err, childAppending)
	}
	time.Sleep(time.Duration(rand.IntN(50_000)) * time.Microsecond)
}

// Draining a large backlog streams it: memory stays flat, whatever the backlog's size.
func TestBacklogDrainsInFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 128 MiB")
	}
	s := open(t, Config{Dir: t.TempDir(), Sync: SyncNever})
	payload := make([]byte, 1024)
	batch := make([][]byte, 256)
	for i := range batch {
		batch[i] = payload
	}
	for range 512 { // 128 MiB
		if err := s.Append(batch...); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	read := 0
	for read < 512*256 {
		recs, err := s.Read(context.Background(), nil, 500, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		read += len(recs)
		s.Ack(recs[len(recs)-1].Seq)
		if read%(64*500) == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if grown := int64(peak) - int64(base); grown > 32<<20 {
		t.Errorf("heap grew by %d MiB while draining a 128 MiB backlog", grown>>20)
	}
	if st := s.Stats(); st.Messages != 0 || st.Segments != 1 {
		t.Errorf("after draining: %+v", st)
	}
}

// Read appends to the slice it is given; a record the caller says it has comes without its
// payload, the others with theirs, which stay valid after later reads refill the read buffer.
func TestReadLeavesOutThePayloadsTheCallerHas(t *testing.T) {
	s := open(t, Config{Dir: t.TempDir()})
	payload := func(i int) string { return fmt.Sprintf("%d:%s", i, strings.Repeat(string(rune('a'+i)), 100_000)) }
	const n = 15 // 1.5 MB: more than one read of the segment
	for i := range n {
		if err := s.Append([]byte(payload(i))); err != nil {
			t.Fatal(err)
		}
	}
	var asked []uint64
	have := func(seq uint64) bool {
		asked = append(asked, seq)
		return seq%2 == 0
	}
	recs := []Record{{Seq: 999}}
	for len(recs) < 1+n {
		var err error
		if recs, err = s.Read(context.Background(), recs, 5, 1<<30, have); err != nil {
			t.Fatal(err)
		}
	}
	if len(recs) != 1+n || recs[0].Seq != 999 {
		t.Fatalf("read %d records after the one given (%+v), want %d", len(recs)-1, recs[0], n)
	}
	for i, r := range recs[1:] {
		switch {
		case r.Seq != asked[i]:
			t.Errorf("record %d: seq %d, but have was asked about %d", i, r.Seq, asked[i])
		case r.Seq%2 == 0 && r.Data != nil:
			t.Errorf("record %d (seq %d) came with %.10q, which the caller has", i, r.Seq, r.Data)
		case r.Seq%2 != 0 && string(r.Data) != payload(i):
			t.Errorf("record %d (seq %d) = %.10q…, want %.10q…", i, r.Seq, r.Data, payload(i))
		}
	}
}
