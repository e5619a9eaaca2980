package ui

// routes registers every route of the server.
func (s *Server) routes() {
	s.mountAPI()
	s.mountTwin()
	s.mountWeb()
}
