package ui

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/kpi"
)

// KPI query bounds.
const (
	DefaultKPISpan = 8 * time.Hour
	MaxKPISpan     = 400 * 24 * time.Hour // a year and then some; longer ranges are reports, not requests
	maxKPILastN    = 10000
)

// KPIFunc computes the KPI report for a validated query. Server.KPI lets
// the integrator pass a shift-calendar zone or a cache; tests pass a stub.
type KPIFunc func(ctx context.Context, q kpi.Query) (*kpi.Report, error)

// computeKPI is the default KPIFunc: kpi.Compute over the stored events,
// with the released and running batches as the demand behind the target takt.
func (s *Server) computeKPI(ctx context.Context, q kpi.Query) (*kpi.Report, error) {
	if s.Line == nil || s.Events == nil || s.Batches == nil {
		return nil, unavailable("kpi")
	}
	// Every batch: the open ones are today's demand, the others a past
	// window's schedule (the engine picks by the batches' states and plans).
	batches, err := s.Batches.ListBatches(ctx, mes.BatchFilter{})
	if err != nil {
		return nil, err
	}
	in := kpi.Input{Line: s.Line, Events: s.Events, Batches: batches, Now: s.LineClock.Now()}
	if s.Portal.Calendar != nil {
		if in.Reservations, err = s.Portal.Calendar.Reservations(ctx, q.From, q.To); err != nil {
			return nil, err
		}
	}
	return kpi.Compute(ctx, in, q)
}

func (s *Server) handleKPI(c echo.Context) error {
	if err := checkQuery(c, "from", "to", "machine", "group", "shift", "last_n"); err != nil {
		return err
	}
	var q kpi.Query
	var err error
	if q.From, q.To, err = s.queryRange(c, DefaultKPISpan, MaxKPISpan); err != nil {
		return err
	}
	if q.Machine, err = s.machineParam(c); err != nil {
		return err
	}
	if q.Group = c.QueryParam("group"); q.Group != "" {
		if err := validID("group", q.Group); err != nil {
			return err
		}
		if s.Line != nil && !s.knownGroup(q.Group) {
			return invalid("group: unknown group %q", q.Group)
		}
	}
	if q.Shift = c.QueryParam("shift"); q.Shift != "" {
		if err := validText("shift", q.Shift, false); err != nil {
			return err
		}
		if s.Line != nil && !s.knownShift(q.Shift) {
			return invalid("shift: unknown shift %q", truncate(q.Shift, 40))
		}
	}
	if q.LastN, err = queryInt(c, "last_n", 0, 1, maxKPILastN); err != nil {
		return err
	}
	rep, err := s.KPI(c.Request().Context(), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rep)
}

// knownShift reports whether name is a shift of the line's calendar.
func (s *Server) knownShift(name string) bool {
	for _, sh := range s.Line.Shifts {
		if sh.Name == name {
			return true
		}
	}
	return false
}
