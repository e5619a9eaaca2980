package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/twin"
)

// ShutdownTimeout bounds graceful shutdown of the HTTP server.
const ShutdownTimeout = 5 * time.Second

// Server is Pilotline's HTTP server. Set the fields, then call Open.
type Server struct {
	Addr   string // listen address, e.g. "127.0.0.1:8080"; port 0 picks a free port
	Logger *slog.Logger

	Line     *mes.LineConfig
	Products mes.ProductService
	Batches  mes.BatchService
	Burs     mes.BurService
	Events   mes.EventStore
	Backup   mes.Backuper
	Twin     *twin.Hub // live line: GET /ws/twin and GET /api/v1/line

	echo *echo.Echo
	ln   net.Listener
}

// Open builds the routes and starts listening. It returns once the listener
// is bound; URL then tells where.
func (s *Server) Open() error {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s.echo = e
	s.routes()
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.Addr, err)
	}
	s.ln = ln
	go func() {
		if err := e.Server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("http server", "err", err)
		}
	}()
	return nil
}

// URL is the base URL of the web view, e.g. "http://127.0.0.1:8080/".
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String() + "/"
}

// Handler returns the server's http.Handler (for tests with httptest).
func (s *Server) Handler() http.Handler { return s.echo }

// Close shuts the server down gracefully within ShutdownTimeout.
func (s *Server) Close() error {
	if s.echo == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	return s.echo.Shutdown(ctx)
}
