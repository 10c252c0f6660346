package graphsim

// SetMaxSyncStates changes how many delta state tokens the simulator keeps
// before the oldest fall out (default 50,000, across tenants), as Exchange's
// sync-state cache forgets them. A benchmark of a tenant with tens of
// thousands of folders needs more, or its idle cycle turns into resyncs.
// n <= 0 restores the default.
func (s *Server) SetMaxSyncStates(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxSyncStates = n
}
