package ui

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/booking"
)

// Portal holds the services of the booking portal: bookings, the capacity
// calendar, quotes and portal notifications. With Bookings nil those
// endpoints answer 503.
type Portal struct {
	Bookings      mes.BookingService
	Calendar      mes.CalendarService
	Notifications mes.NotificationService
	// Quoter prices requests; a new request is quoted at once when it can
	// be, so the customer sees the quote before accepting. Nil: engineers
	// cannot quote and requests wait.
	Quoter *booking.Quoter
	// LockOut closes cancellation by the customer this long before the
	// run's start (staff may still cancel). Zero: booking.DefaultBookingLockOut.
	LockOut time.Duration
}

// systemActor is who automatic quotes are recorded by.
const systemActor = "system"

// bookingActions maps POST /api/v1/bookings/{id}/{action} to its target
// state and the roles it admits. A customer reaches only its own
// organisation's bookings (others answer 404).
var bookingActions = map[string]struct {
	to    mes.BookingState
	roles []mes.Role
}{
	"quote":   {mes.BookingQuoted, []mes.Role{mes.RoleEngineer, mes.RoleAdmin}},
	"accept":  {mes.BookingAccepted, []mes.Role{mes.RoleCustomer, mes.RoleEngineer, mes.RoleAdmin}},
	"confirm": {mes.BookingConfirmed, []mes.Role{mes.RoleEngineer, mes.RoleAdmin}},
	"decline": {mes.BookingDeclined, []mes.Role{mes.RoleEngineer, mes.RoleAdmin}},
	"cancel":  {mes.BookingCancelled, []mes.Role{mes.RoleCustomer, mes.RoleEngineer, mes.RoleAdmin}},
	"deliver": {mes.BookingDelivered, []mes.Role{mes.RoleEngineer, mes.RoleAdmin}},
}

// mountBookings registers the booking portal's API: bookings, the
// calendar and notifications.
func (s *Server) mountBookings(g *echo.Group) {
	bookers := s.allow(mes.RoleCustomer, mes.RoleEngineer, mes.RoleAdmin)
	engineers := s.allow(mes.RoleEngineer, mes.RoleAdmin)
	g.GET("/bookings", s.handleListBookings, s.allow(everyone...))
	g.POST("/bookings", s.handleCreateBooking, bookers)
	g.GET("/bookings/:id", s.handleGetBooking, s.allow(everyone...))
	for action, a := range bookingActions {
		g.POST("/bookings/:id/"+action, s.handleBookingAction(action), s.allow(a.roles...))
	}
	g.GET("/calendar", s.handleCalendar, s.allow(everyone...))
	g.POST("/calendar/maintenance", s.handleCreateMaintenance, engineers)
	g.DELETE("/calendar/maintenance/:id", s.handleDeleteMaintenance, engineers)
	g.GET("/notifications", s.handleListNotifications, s.allow(everyone...))
}

// BookingRequest is the body of POST /api/v1/bookings.
type BookingRequest struct {
	// Org is the customer organisation; staff must give it, a customer
	// books for its own (and may leave it out).
	Org           string             `json:"org"`
	Product       string             `json:"product"` // ISO 6360 number: an existing product, or the new one of spec
	Spec          *SpecRequest       `json:"spec"`
	Quantity      int                `json:"quantity"`
	QA            mes.QARequirements `json:"qa"`
	EarliestStart string             `json:"earliest_start"` // RFC 3339
	Deadline      string             `json:"deadline"`       // RFC 3339
	Notes         string             `json:"notes"`
}

// SpecRequest is a new bur type: its ISO 6360 number (product), names,
// shank, nominals with tolerances, and the existing product whose route it
// is made on.
type SpecRequest struct {
	Name       string                   `json:"name"`
	NameZH     string                   `json:"name_zh"`
	ShankType  string                   `json:"shank_type"`
	Tolerances map[string]mes.Tolerance `json:"tolerances"`
	RouteFrom  string                   `json:"route_from"` // ISO 6360 number of an existing product
}

// ReasonRequest is the body of the booking actions: why. Decline and
// cancel need one.
type ReasonRequest struct {
	Reason string `json:"reason"`
}

// BookingProgress is how far a booking's run has come on the line.
type BookingProgress struct {
	BatchState mes.BatchState `json:"batch_state"`
	Progress
	// TraceURL is the batch's trace download, once QA has released it.
	TraceURL string `json:"trace_url,omitempty"`
}

// bookingView is a booking as the API shows it.
type bookingView struct {
	*mes.Booking
	Run *BookingProgress `json:"run,omitempty"`
	// CancelUntil is when the customer's cancellation closes.
	CancelUntil *time.Time `json:"cancel_until,omitempty"`
	// QuoteError says why a new request could not be quoted at once.
	QuoteError string `json:"quote_error,omitempty"`
}

type bookingList struct {
	Bookings []bookingView `json:"bookings"`
}

func (s *Server) lockOut() time.Duration {
	if s.Portal.LockOut > 0 {
		return s.Portal.LockOut
	}
	return booking.DefaultBookingLockOut
}

// viewBooking adds the run's progress from its batch.
func (s *Server) viewBooking(ctx context.Context, b *mes.Booking) bookingView {
	if b.Transitions == nil {
		b.Transitions = []mes.BookingTransition{}
	}
	v := bookingView{Booking: b}
	if start := b.RunStart(); !start.IsZero() && slices.Contains([]mes.BookingState{mes.BookingQuoted, mes.BookingAccepted, mes.BookingConfirmed}, b.State) {
		until := start.Add(-s.lockOut())
		v.CancelUntil = &until
	}
	if b.Batch != "" && s.Batches != nil {
		if batch, err := s.Batches.FindBatch(ctx, b.Batch); err == nil {
			v.Run = &BookingProgress{BatchState: batch.State, Progress: progressOf(batch)}
			if batch.State == mes.BatchQAReleased {
				v.Run.TraceURL = APIPrefix + "/batches/" + batch.ID + "/trace"
			}
		} else {
			s.Logger.Warn("booking: batch", "booking", b.ID, "batch", b.Batch, "err", err)
		}
	}
	return v
}

// visibleBooking returns the booking if u may see it. Another
// organisation's booking answers exactly like one that does not exist.
func (s *Server) visibleBooking(ctx context.Context, u *mes.User, id string) (*mes.Booking, error) {
	b, err := s.Portal.Bookings.FindBooking(ctx, id)
	if mes.ErrorCode(err) == mes.ENOTFOUND || err == nil && !u.CanSee(b.Org) {
		return nil, mes.Errorf(mes.ENOTFOUND, "booking %q not found", id)
	}
	return b, err
}

// allBookingStates is the list ?state= accepts.
func parseBookingStates(c echo.Context) ([]mes.BookingState, error) {
	var states []mes.BookingState
	for _, v := range c.QueryParams()["state"] {
		for _, st := range strings.Split(v, ",") {
			st = strings.TrimSpace(st)
			if !mes.BookingState(st).Valid() {
				names := make([]string, len(mes.BookingStates))
				for i, s := range mes.BookingStates {
					names[i] = string(s)
				}
				return nil, invalid("state: unknown booking state %q (want %s)", truncate(st, 40), strings.Join(names, ", "))
			}
			if !slices.Contains(states, mes.BookingState(st)) {
				states = append(states, mes.BookingState(st))
			}
		}
	}
	return states, nil
}

// orgScope is the organisation a list is limited to: a customer's own
// always, ?org= for staff.
func orgScope(c echo.Context, u *mes.User) (string, error) {
	org := c.QueryParam("org")
	if org != "" {
		if err := validID("org", org); err != nil {
			return "", err
		}
	}
	if !u.Staff() {
		return u.Org, nil
	}
	return org, nil
}

func (s *Server) handleListBookings(c echo.Context) error {
	if err := checkQuery(c, "state", "org"); err != nil {
		return err
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	states, err := parseBookingStates(c)
	if err != nil {
		return err
	}
	org, err := orgScope(c, u)
	if err != nil {
		return err
	}
	if s.Portal.Bookings == nil {
		return unavailable("bookings")
	}
	ctx := c.Request().Context()
	bs, err := s.Portal.Bookings.ListBookings(ctx, mes.BookingFilter{Org: org, States: states})
	if err != nil {
		return err
	}
	out := bookingList{Bookings: make([]bookingView, 0, len(bs))}
	for _, b := range bs {
		out.Bookings = append(out.Bookings, s.viewBooking(ctx, b))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) handleGetBooking(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if s.Portal.Bookings == nil {
		return unavailable("bookings")
	}
	ctx := c.Request().Context()
	b, err := s.visibleBooking(ctx, u, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.viewBooking(ctx, b))
}

// parseBookingTime parses a required RFC 3339 time of the body.
func parseBookingTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, invalid("%s: required (RFC 3339, e.g. 2026-04-01T06:00:00Z)", field)
	}
	t, err := parseTime(field, v)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// bookingFromRequest validates the whole request and builds the booking;
// nothing is stored yet.
func (s *Server) bookingFromRequest(ctx context.Context, u *mes.User, req *BookingRequest) (*mes.Booking, error) {
	org := req.Org
	if !u.Staff() {
		if org != "" && org != u.Org {
			return nil, invalid("org: a customer books for its own organisation (%s)", u.Org)
		}
		org = u.Org
	}
	if err := validID("org", org); err != nil {
		return nil, err
	}
	if u.Staff() {
		if err := s.existingOrg(ctx, "org", org); err != nil {
			return nil, err
		}
	}
	if i := strings.IndexFunc(req.Notes, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }); i >= 0 {
		return nil, invalid("notes: control character at byte %d", i)
	}
	start, err := parseBookingTime("earliest_start", req.EarliestStart)
	if err != nil {
		return nil, err
	}
	deadline, err := parseBookingTime("deadline", req.Deadline)
	if err != nil {
		return nil, err
	}
	if !deadline.After(s.LineClock.Now()) {
		return nil, invalid("deadline: already passed")
	}
	b := &mes.Booking{Org: org, RequestedBy: u.ID, Product: req.Product, Quantity: req.Quantity, QA: req.QA,
		EarliestStart: start, Deadline: deadline, Notes: req.Notes}
	if sp := req.Spec; sp != nil {
		for _, f := range []struct{ name, v string }{{"spec.name", sp.Name}, {"spec.name_zh", sp.NameZH}} {
			if err := validText(f.name, f.v, f.name == "spec.name"); err != nil {
				return nil, err
			}
		}
		if err := validTolerances("spec.tolerances", sp.Tolerances); err != nil {
			return nil, err
		}
		if err := validID("spec.route_from", sp.RouteFrom); err != nil {
			return nil, err
		}
		if s.Products == nil {
			return nil, unavailable("products")
		}
		base, err := s.Products.FindProduct(ctx, sp.RouteFrom)
		if mes.ErrorCode(err) == mes.ENOTFOUND || err == nil && !base.VisibleTo(org) {
			return nil, invalid("spec.route_from: unknown product %q", sp.RouteFrom)
		} else if err != nil {
			return nil, err
		}
		// The new bur type is the organisation's design, not the line's.
		b.Spec = &mes.Product{ISO: req.Product, Name: sp.Name, NameZH: sp.NameZH, ShankType: sp.ShankType,
			Tolerances: sp.Tolerances, Route: slices.Clone(base.Route), Org: org}
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return b, nil
}

func (s *Server) handleCreateBooking(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	var req BookingRequest
	if err := s.decodeJSON(c, &req, false); err != nil {
		return err
	}
	if s.Portal.Bookings == nil {
		return unavailable("bookings")
	}
	ctx := c.Request().Context()
	b, err := s.bookingFromRequest(ctx, u, &req)
	if err != nil {
		return err
	}
	if err := s.Portal.Bookings.CreateBooking(ctx, b); err != nil {
		return err
	}
	var quoteErr string
	if s.Portal.Quoter != nil {
		if nb, err := s.quoteBooking(ctx, b, systemActor, "automatic quote"); err == nil {
			b = nb
		} else if code := mes.ErrorCode(err); code == mes.EINVALID || code == mes.ECONFLICT {
			quoteErr = mes.ErrorMessage(err) + "; an engineer will look at the request"
		} else {
			s.Logger.Error("booking: automatic quote", "booking", b.ID, "err", err)
			quoteErr = "no automatic quote; an engineer will look at the request"
		}
	}
	v := s.viewBooking(ctx, b)
	v.QuoteError = quoteErr
	return c.JSON(http.StatusCreated, v)
}

// quoteBooking prices b and records the quote.
func (s *Server) quoteBooking(ctx context.Context, b *mes.Booking, by, reason string) (*mes.Booking, error) {
	q, err := s.Portal.Quoter.Quote(ctx, b)
	if err != nil {
		return nil, err
	}
	return s.Portal.Bookings.ChangeBooking(ctx, b.ID, mes.BookingChange{To: mes.BookingQuoted, By: by, Reason: reason, At: s.LineClock.Now(), Quote: q})
}

func (s *Server) handleBookingAction(action string) echo.HandlerFunc {
	to := bookingActions[action].to
	return func(c echo.Context) error {
		if err := checkQuery(c); err != nil {
			return err
		}
		u, err := signedIn(c)
		if err != nil {
			return err
		}
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		var req ReasonRequest
		if err := s.decodeJSON(c, &req, true); err != nil {
			return err
		}
		needReason := to == mes.BookingDeclined || to == mes.BookingCancelled
		if err := validText("reason", req.Reason, needReason); err != nil {
			return err
		}
		if s.Portal.Bookings == nil {
			return unavailable("bookings")
		}
		ctx := c.Request().Context()
		b, err := s.visibleBooking(ctx, u, id)
		if err != nil {
			return err
		}
		if to == mes.BookingQuoted {
			if s.Portal.Quoter == nil {
				return unavailable("quotes")
			}
			if !mes.CanTransitionBooking(b.State, mes.BookingQuoted) {
				return mes.Errorf(mes.ECONFLICT, "booking %s is %s: cannot be quoted", b.ID, b.State)
			}
			nb, err := s.quoteBooking(ctx, b, u.ID, req.Reason)
			if err != nil {
				return err
			}
			return c.JSON(http.StatusOK, s.viewBooking(ctx, nb))
		}
		ch := mes.BookingChange{To: to, By: u.ID, Reason: req.Reason, At: s.LineClock.Now()}
		if to == mes.BookingCancelled && !u.Staff() {
			ch.LockOut = s.lockOut()
		}
		nb, err := s.Portal.Bookings.ChangeBooking(ctx, b.ID, ch)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, s.viewBooking(ctx, nb))
	}
}

// notificationList is the body of GET /api/v1/notifications.
type notificationList struct {
	Notifications []*mes.Notification `json:"notifications"`
}

func (s *Server) handleListNotifications(c echo.Context) error {
	if err := checkQuery(c, "org", "limit"); err != nil {
		return err
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	org, err := orgScope(c, u)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	if s.Portal.Notifications == nil {
		return unavailable("notifications")
	}
	ns, err := s.Portal.Notifications.ListNotifications(c.Request().Context(), org, limit)
	if err != nil {
		return err
	}
	if ns == nil {
		ns = []*mes.Notification{}
	}
	return c.JSON(http.StatusOK, notificationList{Notifications: ns})
}
