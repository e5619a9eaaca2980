package ui

// mountTwin mounts the twin's WebSocket endpoint.
func (s *Server) mountTwin() {}

// mountWeb serves the embedded web front end at /.
func (s *Server) mountWeb() {}
