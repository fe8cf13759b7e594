package tmpfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/qnib/qwatch/internal/tmpfs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The disk fills up at its size: a write past it fails with ENOSPC.
func TestMountFillsUp(t *testing.T) {
	dir := tmpfs.Mount(t, 64<<10)
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for written := 0; ; written += len(block) {
		if _, err = f.Write(block); err != nil {
			break
		}
		if written > 1<<20 {
			t.Fatalf("wrote %d bytes to a 64 KiB tmpfs", written)
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("a write past the size = %v, want ENOSPC", err)
	}
}
