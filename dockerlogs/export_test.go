package dockerlogs

// Following reports whether s follows the container now. Tests wait for a stopped
// container's follower to end: after that no line of it is still to come.
func Following(s *Source, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.following[id]
	return ok
}
