package ui

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/report"
)

// maxReportVolume bounds ?volume=, the prescription's annual target.
const maxReportVolume = 100_000_000

// ReportFormats are the renderings of GET …/report?format=.
var ReportFormats = map[string]string{
	"json": "application/json",
	"html": "text/html; charset=utf-8",
	"pdf":  "application/pdf",
}

// mountReport registers the pilot-run report. Staff read every batch's
// report; a customer only its own organisation's batches, once QA released
// them (as the trace record).
func (s *Server) mountReport(g *echo.Group) {
	g.GET("/batches/:id/report", s.handleBatchReport, s.allow(everyone...))
	g.GET("/bookings/:id/report", s.handleBookingReport, s.allow(everyone...))
}

func (s *Server) handleBatchReport(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	return s.serveReport(c, func(ctx context.Context, u *mes.User) (*mes.Batch, error) {
		return s.qaBatch(ctx, u, id)
	})
}

func (s *Server) handleBookingReport(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if s.Portal.Bookings == nil {
		return unavailable("bookings")
	}
	return s.serveReport(c, func(ctx context.Context, u *mes.User) (*mes.Batch, error) {
		b, err := s.visibleBooking(ctx, u, id)
		if err != nil {
			return nil, err
		}
		if b.Batch == "" {
			return nil, mes.Errorf(mes.ECONFLICT, "booking %s has no batch yet: its run has not started", id)
		}
		return s.qaBatch(ctx, u, b.Batch)
	})
}

func (s *Server) serveReport(c echo.Context, batch func(context.Context, *mes.User) (*mes.Batch, error)) error {
	if err := checkQuery(c, "format", "volume"); err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format == "" {
		format = "json"
	}
	ctype, ok := ReportFormats[format]
	if !ok {
		return invalid("format: want json, html or pdf, got %q", truncate(format, 40))
	}
	volume, err := queryInt(c, "volume", 0, 1, maxReportVolume)
	if err != nil {
		return err
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	if s.Line == nil || s.Products == nil || s.Burs == nil || s.Events == nil {
		return unavailable("report")
	}
	ctx := c.Request().Context()
	b, err := batch(ctx, u)
	if err != nil {
		return err
	}
	r, err := s.buildReport(ctx, b, volume)
	if err != nil {
		return err
	}
	if format == "json" {
		return c.JSON(http.StatusOK, r)
	}
	var buf bytes.Buffer
	switch format {
	case "html":
		err = report.WriteHTML(&buf, r)
		c.Response().Header().Set("Content-Security-Policy", report.HTMLContentSecurityPolicy)
	case "pdf":
		err = report.WritePDF(&buf, r)
		c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", b.ID+"-report.pdf"))
	}
	if err != nil {
		return fmt.Errorf("report %s: %w", format, err)
	}
	return c.Blob(http.StatusOK, ctype, buf.Bytes())
}

// buildReport gathers a batch's burs, its window's machine events and OEE,
// and builds the report.
func (s *Server) buildReport(ctx context.Context, b *mes.Batch, volume int) (*report.Report, error) {
	src := report.Sources{Line: s.Line, Products: s.Products, Burs: s.Burs, Events: s.Events, OEE: s.KPI}
	return src.Report(ctx, b, volume, s.LineClock.Now().UTC())
}
