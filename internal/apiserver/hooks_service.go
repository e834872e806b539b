package apiserver

// serviceHooks are the server-side steps of services.
func (s *Server) serviceHooks() *hooks {
	return &hooks{}
}
