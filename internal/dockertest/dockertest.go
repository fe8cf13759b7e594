// Package dockertest gives tests a Docker engine: the real one, or a fake in the test's own
// process.
//
// End-to-end tests call [Engine] for the engine at DOCKER_HOST: when none answers it skips the
// test, unless QWATCH_E2E=1 (as in CI), where a missing engine fails it. [Image] imports an
// image holding the logger program, whose lines the package lines describes, so a test knows
// what every line must be; [StartPrivateEngine] starts an engine a test may stop and restart.
//
// Unit tests use [NewFake]: an engine that speaks the same API in the same formats, needs
// nothing installed, and injects the faults a real engine shows only now and then (streams
// cut mid-way, error answers, a follow stream that ends before the last lines, an engine
// that is down or restarts). Its logs endpoint sends whatever [Line]s a test feeds it, so a
// test chooses every time stamp, stream and text. TestFakeLikeEngine checks, against the
// real engine, that the fake sends logs as it does.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/qnib/qwatch/internal/dockerclient"
)

// ImageName is the image Image imports; it holds the logger program at /logger.
const ImageName = "qwatch-logger:test"

// Required reports whether end-to-end tests must run (QWATCH_E2E=1) rather than skip.
func Required() bool { return os.Getenv("QWATCH_E2E") == "1" }

// Engine returns a client for the engine at DOCKER_HOST, negotiating the API version. When no
// engine answers it skips the test, or fails it when Required.
func Engine(t testing.TB) *client.Client {
	t.Helper()
	c, err := dockerclient.New("")
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = c.Ping(ctx)
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		if Required() {
			t.Fatalf("QWATCH_E2E=1 but no Docker engine answers: %v", err)
		}
		t.Skipf("no Docker engine answers (set DOCKER_HOST; QWATCH_E2E=1 makes this a failure): %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var (
	imageOnce sync.Once
	imageErr  error
)

// Image builds the logger program statically, imports it as ImageName once per test binary,
// and returns ImageName.
func Image(t testing.TB) string {
	t.Helper()
	c := Engine(t)
	imageOnce.Do(func() { imageErr = importLogger(c) })
	if imageErr != nil {
		t.Fatalf("building the test image: %v", imageErr)
	}
	return ImageName
}

// ImageOn imports the logger image into the engine c talks to (a private engine, say) and
// returns ImageName.
func ImageOn(t testing.TB, c *client.Client) string {
	t.Helper()
	if err := importLogger(c); err != nil {
		t.Fatalf("importing the test image: %v", err)
	}
	return ImageName
}

func importLogger(c *client.Client) error {
	_, self, _, _ := runtime.Caller(0)
	dir, err := os.MkdirTemp("", "qwatch-logger")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "logger")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(filepath.Dir(self), "logger")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return &buildError{out: out, err: err}
	}
	prog, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: "logger", Mode: 0o755, Size: int64(len(prog))}); err != nil {
		return err
	}
	tw.Write(prog)
	tw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rc, err := c.ImageImport(ctx, image.ImportSource{Source: &layer, SourceName: "-"}, ImageName, image.ImportOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = bytes.NewBuffer(nil).ReadFrom(rc)
	return err
}

type buildError struct {
	out []byte
	err error
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + ": " + string(e.out) }

// Docker runs the docker command line against the same engine and returns its standard
// output; it fails the test if the command fails.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := DockerErr(args...)
	if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return out
}

// DockerErr runs the docker command line and returns its standard output, or an error that
// includes what it printed on standard error.
func DockerErr(args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), &buildError{out: stderr.Bytes(), err: err}
	}
	return string(out), nil
}
