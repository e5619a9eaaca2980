package ui

// routes registers every route of the server.
func (s *Server) routes() {
	s.mountAPI()
	s.mountAlarms(s.echo.Group(APIPrefix))
	s.mountQA(s.echo.Group(APIPrefix))
	s.mountBookings(s.echo.Group(APIPrefix))
	s.mountTwin()
	s.mountWeb()
}
