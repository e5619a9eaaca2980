package ui

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// handleBackup streams a consistent copy of the store while the line runs.
// The status and headers go out before the copy, so a failure half-way can
// only cut the stream short: the client sees a truncated body (no
// X-Pilotline-Backup-Bytes trailer) and the server logs the error.
func (s *Server) handleBackup(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	if s.Backup == nil {
		return unavailable("backup")
	}
	name := "pilotline-" + s.WallClock.Now().UTC().Format("20060102T150405Z") + ".db"
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMEOctetStream)
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", name))
	h.Set("Cache-Control", "no-store")
	h.Set("Trailer", "X-Pilotline-Backup-Bytes")
	c.Response().WriteHeader(http.StatusOK)
	start := s.WallClock.Now()
	n, err := s.Backup.Backup(c.Request().Context(), c.Response())
	if err != nil {
		return fmt.Errorf("backup after %d bytes: %w", n, err)
	}
	h.Set("X-Pilotline-Backup-Bytes", strconv.FormatInt(n, 10))
	s.Logger.Info("backup streamed", "bytes", n, "duration", s.WallClock.Since(start))
	return nil
}
