package apiserver

// serviceAccountHooks are the server-side steps of serviceaccounts.
func (s *Server) serviceAccountHooks() *hooks {
	return &hooks{}
}
