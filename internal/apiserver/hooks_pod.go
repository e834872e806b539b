package apiserver

// podHooks are the server-side steps of pods.
func (s *Server) podHooks() *hooks {
	return &hooks{}
}
