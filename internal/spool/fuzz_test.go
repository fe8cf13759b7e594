package spool

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadSegment opens a spool whose one segment holds arbitrary bytes after some valid
// records, and reads it all: it must never panic or hang, must hand over every valid record
// before the first damage, in order, and must only ever hand over records it was given.
func FuzzReadSegment(f *testing.F) {
	var seed []byte
	for i := range 3 {
		seed = appendRecord(seed, uint64(i+1), []byte("record"))
	}
	f.Add(3, seed[len(seed)-10:])
	f.Add(0, seed)
	f.Add(1, []byte{})
	f.Add(2, appendRecord(nil, 9, bytes.Repeat([]byte{0xff}, 100))[:40])
	f.Fuzz(func(t *testing.T, valid int, tail []byte) {
		valid = valid % 8
		if valid < 0 {
			valid = -valid
		}
		var data []byte
		var want [][]byte
		for i := range valid {
			rec := bytes.Repeat([]byte{byte('a' + i)}, i+1)
			want = append(want, rec)
			data = appendRecord(data, uint64(i+1), rec)
		}
		data = append(data, tail...)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.seg"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Config{Dir: dir, Sync: SyncNever})
		if err != nil {
			return // refused clearly is fine
		}
		defer s.Close()
		var got []Record
		// Read returns at once while records remain, and waits for more only when none do.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for {
			recs, err := s.Read(ctx, nil, 64, 1<<20, nil)
			if err != nil || len(recs) == 0 {
				break
			}
			got = append(got, recs...)
			if len(got) > valid+len(tail)/headerLen+1 {
				t.Fatalf("%d records read from %d valid ones and %d bytes more", len(got), valid, len(tail))
			}
		}
		if len(got) < valid {
			t.Fatalf("%d of the %d valid records read", len(got), valid)
		}
		for i, w := range want {
			if !bytes.Equal(got[i].Data, w) || got[i].Seq != uint64(i+1) {
				t.Fatalf("record %d: seq %d %q, want %d %q", i, got[i].Seq, got[i].Data, i+1, w)
			}
		}
		for _, r := range got[valid:] {
			if !bytes.Contains(tail, r.Data) {
				t.Fatalf("record %q not in the input", r.Data)
			}
		}
	})
}
