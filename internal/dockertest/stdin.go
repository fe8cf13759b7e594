package dockertest

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// DockerInput runs the docker command line with stdin as its standard input (for
// `docker run -i`) and returns its standard output; it fails the test if the command fails.
func DockerInput(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker %v: %v: %s", args, err, stderr.Bytes())
	}
	return string(out)
}
