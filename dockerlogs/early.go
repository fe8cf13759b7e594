package dockerlogs

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
)

// The engine refuses the logs of a --rm container once it has exited: one that prints and
// exits at once can be gone before its start event is handled. So the Source also attaches to
// each --rm container when it is created, as docker run does, and keeps what the container prints,
// up to earlyLimit bytes; when the logs endpoint refuses, those lines are emitted instead,
// stamped with the time they were read. Otherwise the capture is dropped.
const (
	earlyLimit    = 4 << 20 // bytes kept per container
	earlyMax      = 256     // containers captured at once
	earlyWaitDone = 5 * time.Second
)

// capture is what an attachment to a new container read.
type capture struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the stream ended
	mu     sync.Mutex
	buf    bytes.Buffer
	at     time.Time // when the first bytes came
	cut    bool
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		c.at = time.Now()
	}
	room := earlyLimit - c.buf.Len()
	if len(p) > room {
		c.buf.Write(p[:max(room, 0)])
		c.cut = true
		return len(p), nil
	}
	return c.buf.Write(p)
}

// attachEarly attaches to a container just created, if it is a --rm container to follow.
func (s *Source) attachEarly(ctx context.Context, wg *sync.WaitGroup, id string) {
	s.mu.Lock()
	if _, ok := s.early[id]; ok || len(s.early) >= earlyMax {
		s.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &capture{cancel: cancel, done: make(chan struct{})}
	s.early[id] = c
	s.mu.Unlock()
	// With Logs, an attachment that comes after the container began printing still gets
	// what it printed before. Registered here, attached in the background: the event loop must not wait on the
	// engine while a burst of containers is created.
	wg.Go(func() {
		defer close(c.done)
		resp, err := s.client.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true, Logs: true})
		if err != nil {
			return
		}
		defer resp.Close()
		stop := context.AfterFunc(ctx, resp.Close)
		defer stop()
		// Attached first, asked after: only a --rm container to follow needs the capture.
		info, err := s.client.ContainerInspect(ctx, id)
		if err == nil && (info.HostConfig == nil || !info.HostConfig.AutoRemove || s.skip(info) != "") {
			s.dropEarly(id)
			if reason := s.skip(info); reason != "" {
				s.mu.Lock()
				s.decided[id] = reason // known before it may be gone
				s.mu.Unlock()
			}
			return
		}
		io.Copy(c, resp.Reader)
	})
}

// takeEarly removes and returns a container's capture, or nil.
func (s *Source) takeEarly(id string) *capture {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.early[id]
	delete(s.early, id)
	return c
}

// dropEarly stops and forgets a container's capture.
func (s *Source) dropEarly(id string) {
	if c := s.takeEarly(id); c != nil {
		c.cancel()
	}
}
