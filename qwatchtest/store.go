package qwatchtest

import (
	"fmt"
	"sync"
	"time"

	"github.com/qnib/qwatch/message"
)

// store is the list of messages a Recorder or a Collector has received, with a way to wait
// for it to grow. Its zero value is ready to use.
type store struct {
	mu      sync.Mutex
	msgs    []message.Message
	changed chan struct{} // closed and replaced on every change
}

func (s *store) add(msgs ...message.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, msgs...)
	s.notifyLocked()
}

func (s *store) notifyLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// Messages returns a copy of what has been received so far.
func (s *store) Messages() []message.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]message.Message(nil), s.msgs...)
}

// Len returns how many messages have been received.
func (s *store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// WaitFor waits until at least n messages have been received and returns them all; after
// timeout it returns what it has and an error saying how many were missing.
func (s *store) WaitFor(n int, timeout time.Duration) ([]message.Message, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			msgs := append([]message.Message(nil), s.msgs...)
			s.mu.Unlock()
			return msgs, nil
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			msgs := s.Messages()
			return msgs, fmt.Errorf("qwatchtest: got %d of %d messages within %v", len(msgs), n, timeout)
		}
	}
}
