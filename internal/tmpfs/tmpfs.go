// Package tmpfs gives tests a small disk that fills up: a tmpfs mounted on a temporary
// directory. Mounting needs root (CAP_SYS_ADMIN) and Linux; without them the test is skipped,
// unless QWATCH_E2E=1 (as in CI), where that fails it.
package tmpfs

import (
	"os"
	"testing"
)

// Mount mounts a tmpfs of size bytes on a new temporary directory and returns the directory.
// The test's cleanup unmounts it, detached, so that files still open on it (a sink a test
// abandoned, say) do not keep it mounted.
func Mount(t testing.TB, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := mount(dir, size); err != nil {
		if os.Getenv("QWATCH_E2E") == "1" {
			t.Fatalf("QWATCH_E2E=1 but no tmpfs can be mounted (root needed): %v", err)
		}
		t.Skipf("mounting a small tmpfs needs root: %v", err)
	}
	// Registered after TempDir's removal, so it runs before it.
	t.Cleanup(func() { unmount(dir) })
	return dir
}
