package ui

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// Calendar query limits.
const (
	calendarDefaultSpan = 7 * 24 * time.Hour
	calendarMaxSpan     = 370 * 24 * time.Hour
)

// CalendarView is the body of GET /api/v1/calendar. Customers get busy
// and free blocks only (their own runs marked own); staff get the
// reservations too, with whose run and which product.
type CalendarView struct {
	From         time.Time           `json:"from"`
	To           time.Time           `json:"to"`
	Busy         []mes.CalendarBlock `json:"busy"`
	Free         []mes.CalendarBlock `json:"free"`
	Reservations []*mes.Reservation  `json:"reservations,omitempty"`
	Groups       []mes.Group         `json:"groups,omitempty"`
}

// MaintenanceRequest is the body of POST /api/v1/calendar/maintenance.
type MaintenanceRequest struct {
	Groups []string `json:"groups"` // machine groups; none: the whole line
	Start  string   `json:"start"`  // RFC 3339
	End    string   `json:"end"`    // RFC 3339
	Title  string   `json:"title"`  // what is done
}

func (s *Server) handleCalendar(c echo.Context) error {
	if err := checkQuery(c, "from", "to"); err != nil {
		return err
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	from, hasFrom, err := queryTime(c, "from")
	if err != nil {
		return err
	}
	to, hasTo, err := queryTime(c, "to")
	if err != nil {
		return err
	}
	switch {
	case !hasFrom && !hasTo:
		from = s.LineClock.Now().UTC().Truncate(24 * time.Hour)
		to = from.Add(calendarDefaultSpan)
	case !hasTo:
		to = from.Add(calendarDefaultSpan)
	case !hasFrom:
		from = to.Add(-calendarDefaultSpan)
	}
	from, to = from.UTC(), to.UTC()
	if !from.Before(to) {
		return invalid("from: must be before to")
	}
	if to.Sub(from) > calendarMaxSpan {
		return invalid("to: range longer than %d days", int(calendarMaxSpan.Hours()/24))
	}
	if s.Portal.Calendar == nil {
		return unavailable("calendar")
	}
	rs, err := s.Portal.Calendar.Reservations(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	org := ""
	if !u.Staff() {
		org = u.Org
	}
	v := CalendarView{From: from, To: to}
	v.Busy, v.Free = mes.CustomerView(rs, org, from, to)
	if u.Staff() {
		v.Reservations = rs
		if v.Reservations == nil {
			v.Reservations = []*mes.Reservation{}
		}
	}
	if s.Line != nil {
		v.Groups = s.Line.Groups
	}
	if v.Busy == nil {
		v.Busy = []mes.CalendarBlock{}
	}
	if v.Free == nil {
		v.Free = []mes.CalendarBlock{}
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) handleCreateMaintenance(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	var req MaintenanceRequest
	if err := s.decodeJSON(c, &req, false); err != nil {
		return err
	}
	if err := validText("title", req.Title, true); err != nil {
		return err
	}
	for _, g := range req.Groups {
		if err := validID("groups", g); err != nil {
			return err
		}
	}
	start, err := parseBookingTime("start", req.Start)
	if err != nil {
		return err
	}
	end, err := parseBookingTime("end", req.End)
	if err != nil {
		return err
	}
	r := &mes.Reservation{Kind: mes.ReservationMaintenance, Groups: req.Groups, Start: start, End: end, Title: req.Title, By: u.ID}
	if err := r.Validate(s.Line); err != nil {
		return err
	}
	if s.Portal.Calendar == nil {
		return unavailable("calendar")
	}
	if err := s.Portal.Calendar.Reserve(c.Request().Context(), r); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

func (s *Server) handleDeleteMaintenance(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if s.Portal.Calendar == nil {
		return unavailable("calendar")
	}
	if err := s.Portal.Calendar.Unreserve(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
