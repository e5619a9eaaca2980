package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mes/booking"
)

// portalClock is the settable clock of the portal tests.
type portalClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *portalClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *portalClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// portal is a test server with the booking portal on one bbolt store,
// two customers of different organisations and an engineer.
type portal struct {
	s                    *Server
	clock                *portalClock
	bookings             *bolt.BookingService
	batches              mes.BatchService
	acme, beta, engineer string // bearer tokens
	qa                   string
}

func newPortal(tb testing.TB) *portal {
	tb.Helper()
	line := MustLine(tb)
	clk := &portalClock{t: testNow}
	db, err := bolt.Open(filepath.Join(tb.TempDir(), "pilotline.db"), bolt.Options{SerialPattern: line.SerialPattern,
		MaxDelay: time.Millisecond, Line: mes.LineClockFrom(clk.Now), Wall: mes.NewWallClock(clk.Now), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(tb, err)
	tb.Cleanup(func() { assert.NoError(tb, db.Close()) })
	products := bolt.NewProductService(db)
	require.NoError(tb, products.CreateProduct(context.Background(), &line.Products[0]))
	be := backend{Products: products, Batches: bolt.NewBatchService(db), Burs: bolt.NewBurService(db),
		Events: bolt.NewEventStore(db), Backup: db}
	s, _ := newTestServer(tb, line, be)
	s.LineClock, s.WallClock = mes.LineClockFrom(clk.Now), mes.NewWallClock(clk.Now)
	bk := bolt.NewBookingService(db)
	cal := bolt.NewCalendarService(db, line)
	s.Portal = Portal{Bookings: bk, Calendar: cal, Notifications: bk, LockOut: 48 * time.Hour,
		Quoter: &booking.Quoter{Line: line, Products: products, Calendar: cal, Events: be.Events, Batches: be.Batches,
			Location: time.UTC, Clock: mes.LineClockFrom(clk.Now)}}
	return &portal{s: s, clock: clk, bookings: bk, batches: be.Batches,
		acme:     mustToken(tb, s, mustUser(tb, s, "ana", mes.RoleCustomer, "acme")),
		beta:     mustToken(tb, s, mustUser(tb, s, "bo", mes.RoleCustomer, "beta")),
		engineer: mustToken(tb, s, mustUser(tb, s, "eng.wu", mes.RoleEngineer, "")),
		qa:       mustToken(tb, s, mustUser(tb, s, "qa.li", mes.RoleQA, "")),
	}
}

func (p *portal) as(tb testing.TB, tok, method, target, body string) *httpResult {
	tb.Helper()
	return &httpResult{send(tb, p.s, method, target, body, bearer(tok)...)}
}

// bookingBody is a valid request for qty burs of the demo product.
func bookingBody(qty int, extra string) string {
	return fmt.Sprintf(`{"product":"500314001001014","quantity":%d,"qa":{"characteristics":["head_diameter"],"sampling":{"mode":"per_lot","n":2,"lot":10}},
		"earliest_start":"2026-03-09T06:00:00Z","deadline":"2026-04-30T00:00:00Z","notes":"first article\nplease"%s}`, qty, extra)
}

func (p *portal) allBookings(tb testing.TB) []*mes.Booking {
	tb.Helper()
	bs, err := p.bookings.ListBookings(context.Background(), mes.BookingFilter{})
	require.NoError(tb, err)
	return bs
}

func TestBookings_Flow(t *testing.T) {
	p := newPortal(t)

	rec := p.as(t, p.acme, http.MethodPost, "/api/v1/bookings", bookingBody(1000, ""))
	requireStatus(t, http.StatusCreated, rec.ResponseRecorder)
	b := decode[bookingView](t, rec.ResponseRecorder)
	assert.Equal(t, "acme", b.Org)
	assert.Equal(t, "ana", b.RequestedBy)
	require.Equal(t, mes.BookingQuoted, b.State, "quoted at once: %s", b.QuoteError)
	require.NotNil(t, b.Quote)
	assert.Equal(t, mes.QuoteNominal, b.Quote.Basis, "no history on a new line")
	assert.Equal(t, time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC), b.Quote.Start, "earliest start plus the set-up")
	assert.Equal(t, testNow.Add(booking.DefaultQuoteValidity), b.Quote.Expires)
	require.NotNil(t, b.CancelUntil)
	assert.Equal(t, b.Quote.Start.Add(-48*time.Hour), *b.CancelUntil)
	url := "/api/v1/bookings/" + b.ID

	// The other organisation sees nothing of it, on every endpoint.
	for _, r := range []struct{ method, target, body string }{
		{http.MethodGet, url, ""},
		{http.MethodPost, url + "/accept", ""},
		{http.MethodPost, url + "/cancel", `{"reason":"mine now"}`},
	} {
		other := p.as(t, p.beta, r.method, r.target, r.body)
		missing := p.as(t, p.beta, r.method, "/api/v1/bookings/BK000999"+strings.TrimPrefix(r.target, url), r.body)
		assertJSONError(t, other.ResponseRecorder, http.StatusNotFound, mes.ENOTFOUND, "")
		assert.Equal(t, strings.ReplaceAll(missing.Body.String(), "BK000999", b.ID), other.Body.String(), "exactly like a booking that does not exist")
	}
	list := decode[bookingList](t, p.as(t, p.beta, http.MethodGet, "/api/v1/bookings", "").ResponseRecorder)
	assert.Empty(t, list.Bookings)
	list = decode[bookingList](t, p.as(t, p.beta, http.MethodGet, "/api/v1/bookings?org=acme", "").ResponseRecorder)
	assert.Empty(t, list.Bookings, "?org= does not widen a customer's view")
	list = decode[bookingList](t, p.as(t, p.acme, http.MethodGet, "/api/v1/bookings", "").ResponseRecorder)
	require.Len(t, list.Bookings, 1)

	// Roles: a customer cannot confirm, QA cannot accept.
	assertJSONError(t, p.as(t, p.acme, http.MethodPost, url+"/confirm", "").ResponseRecorder, http.StatusForbidden, mes.EFORBIDDEN, "")
	assertJSONError(t, p.as(t, p.qa, http.MethodPost, url+"/accept", "").ResponseRecorder, http.StatusForbidden, mes.EFORBIDDEN, "")
	assertJSONError(t, p.as(t, p.engineer, http.MethodPost, url+"/confirm", "").ResponseRecorder, http.StatusConflict, mes.ECONFLICT, "cannot move to confirmed")

	rec = p.as(t, p.acme, http.MethodPost, url+"/accept", `{"reason":"PO 4711"}`)
	requireStatus(t, http.StatusOK, rec.ResponseRecorder)
	assert.Equal(t, mes.BookingAccepted, decode[bookingView](t, rec.ResponseRecorder).State)
	rec = p.as(t, p.engineer, http.MethodPost, url+"/confirm", `{"reason":"fits the plan"}`)
	requireStatus(t, http.StatusOK, rec.ResponseRecorder)
	b = decode[bookingView](t, rec.ResponseRecorder)
	assert.Equal(t, mes.BookingConfirmed, b.State)
	require.NotEmpty(t, b.Reservation)
	last := b.Transitions[len(b.Transitions)-1]
	assert.Equal(t, mes.BookingTransition{From: mes.BookingAccepted, To: mes.BookingConfirmed, By: "eng.wu", At: testNow, Reason: "fits the plan"}, last)

	// The calendar: beta sees a busy block and nothing about whose; acme its own run.
	cal := "/api/v1/calendar?from=2026-03-09T00:00:00Z&to=2026-03-23T00:00:00Z"
	rec = p.as(t, p.beta, http.MethodGet, cal, "")
	requireStatus(t, http.StatusOK, rec.ResponseRecorder)
	for _, leak := range []string{"acme", "500314001001014", b.ID, "ana", "eng.wu", "reservations"} {
		assert.NotContains(t, rec.Body.String(), leak)
	}
	view := decode[CalendarView](t, rec.ResponseRecorder)
	require.Len(t, view.Busy, 1)
	assert.Equal(t, b.Quote.Start.Add(-2*time.Hour), view.Busy[0].Start)
	assert.False(t, view.Busy[0].Own)
	own := decode[CalendarView](t, p.as(t, p.acme, http.MethodGet, cal, "").ResponseRecorder)
	require.Len(t, own.Busy, 1)
	assert.True(t, own.Busy[0].Own)
	staff := decode[CalendarView](t, p.as(t, p.engineer, http.MethodGet, cal, "").ResponseRecorder)
	require.Len(t, staff.Reservations, 1)
	assert.Equal(t, b.ID, staff.Reservations[0].Booking)
	assert.Equal(t, "acme", staff.Reservations[0].Org)

	// A second request for the same days is placed after the first run.
	rec = p.as(t, p.beta, http.MethodPost, "/api/v1/bookings", bookingBody(200, ""))
	requireStatus(t, http.StatusCreated, rec.ResponseRecorder)
	second := decode[bookingView](t, rec.ResponseRecorder)
	require.Equal(t, mes.BookingQuoted, second.State)
	assert.False(t, second.Quote.Start.Add(-2*time.Hour).Before(b.Quote.End.Add(30*time.Minute)), "after the first run's changeover")

	// Cancelling: the customer is locked out two days before the start; staff are not.
	p.clock.Add(b.Quote.Start.Sub(testNow) - 47*time.Hour)
	assertJSONError(t, p.as(t, p.acme, http.MethodPost, url+"/cancel", `{"reason":"budget"}`).ResponseRecorder, http.StatusConflict, mes.ECONFLICT, "cancellation closed")
	assertJSONError(t, p.as(t, p.engineer, http.MethodPost, url+"/cancel", ``).ResponseRecorder, http.StatusBadRequest, mes.EINVALID, "reason")
	rec = p.as(t, p.engineer, http.MethodPost, url+"/cancel", `{"reason":"spindle repair"}`)
	requireStatus(t, http.StatusOK, rec.ResponseRecorder)
	assert.Empty(t, decode[bookingView](t, rec.ResponseRecorder).Reservation)

	// Notifications: acme's own, newest first; beta's separately.
	ns := decode[notificationList](t, p.as(t, p.acme, http.MethodGet, "/api/v1/notifications", "").ResponseRecorder)
	var states []mes.BookingState
	for _, n := range ns.Notifications {
		assert.Equal(t, "acme", n.Org)
		states = append(states, n.State)
	}
	assert.Equal(t, []mes.BookingState{mes.BookingCancelled, mes.BookingConfirmed, mes.BookingQuoted}, states)
	ns = decode[notificationList](t, p.as(t, p.beta, http.MethodGet, "/api/v1/notifications?org=acme", "").ResponseRecorder)
	require.Len(t, ns.Notifications, 1)
	assert.Equal(t, "beta", ns.Notifications[0].Org)
}

func TestBookings_BadRequestsStoreNothing(t *testing.T) {
	p := newPortal(t)
	tests := []struct {
		name   string
		tok    func(p *portal) string
		body   string
		status int
		want   string
	}{
		{"unknown field", (*portal).customer, bookingBody(10, `,"price":1`), 400, "unknown field"},
		{"quantity type", (*portal).customer, strings.Replace(bookingBody(10, ""), `"quantity":10`, `"quantity":"ten"`, 1), 400, "quantity"},
		{"zero quantity", (*portal).customer, bookingBody(0, ""), 400, "quantity"},
		{"bad time", (*portal).customer, strings.Replace(bookingBody(10, ""), "2026-03-09T06:00:00Z", "next monday", 1), 400, "earliest_start"},
		{"deadline first", (*portal).customer, strings.Replace(bookingBody(10, ""), "2026-04-30T00:00:00Z", "2026-03-08T00:00:00Z", 1), 400, "deadline"},
		{"deadline passed", (*portal).customer, strings.NewReplacer("2026-04-30T00:00:00Z", "2026-03-01T00:00:00Z", "2026-03-09T06:00:00Z", "2026-02-01T00:00:00Z").Replace(bookingBody(10, "")), 400, "deadline"},
		{"unknown product", (*portal).customer, strings.Replace(bookingBody(10, ""), "500314001001014", "500314001002014", 1), 400, "unknown product"},
		{"other org", (*portal).customer, bookingBody(10, `,"org":"beta"`), 400, "own organisation"},
		{"staff without org", (*portal).staff, bookingBody(10, ""), 400, "org"},
		{"sampling", (*portal).customer, strings.Replace(bookingBody(10, ""), `"n":2`, `"n":50`, 1), 400, "qa.sampling"},
		{"control char", (*portal).customer, strings.Replace(bookingBody(10, ""), `please`, `ple\u0007ase`, 1), 400, "notes"},
		{"spec route unknown", (*portal).customer, strings.Replace(bookingBody(10, `,"spec":{"name":"x","shank_type":"FG","tolerances":{"head_diameter":{"nominal_mm":1.4,"lsl_mm":1.38,"usl_mm":1.42}},"route_from":"500314001009014"}`), "500314001001014", "500314001002014", 1), 400, "route_from"},
		{"spec of existing", (*portal).customer, bookingBody(10, `,"spec":{"name":"x","shank_type":"FG","tolerances":{"head_diameter":{"nominal_mm":1.4,"lsl_mm":1.38,"usl_mm":1.42}},"route_from":"500314001001014"}`), 400, "exists"},
		{"not json", (*portal).customer, "quantity=10", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := p.as(t, tt.tok(p), http.MethodPost, "/api/v1/bookings", tt.body)
			assertJSONError(t, rec.ResponseRecorder, tt.status, mes.EINVALID, tt.want)
		})
	}
	assert.Empty(t, p.allBookings(t), "nothing stored")

	// A new bur type on the demo route is fine, and is quoted.
	body := strings.Replace(bookingBody(10, `,"spec":{"name":"Round bur 1.6","name_zh":"球钻 1.6","shank_type":"FG","tolerances":{"head_diameter":{"nominal_mm":1.6,"lsl_mm":1.58,"usl_mm":1.62},"radial_runout":{"nominal_mm":0,"lsl_mm":0,"usl_mm":0.02}},"route_from":"500314001001014"}`),
		"500314001001014", "500314001001016", 1)
	rec := p.as(t, p.acme, http.MethodPost, "/api/v1/bookings", body)
	requireStatus(t, http.StatusCreated, rec.ResponseRecorder)
	b := decode[bookingView](t, rec.ResponseRecorder)
	require.NotNil(t, b.Spec)
	assert.Len(t, b.Spec.Route, 5, "the route of route_from")
	assert.Equal(t, mes.BookingQuoted, b.State)

	// Bad action bodies change nothing either.
	before := p.allBookings(t)
	for _, body := range []string{`{"reason":1}`, `{"why":"x"}`, `[]`, `{"reason":"` + strings.Repeat("x", 600) + `"}`} {
		rec := p.as(t, p.acme, http.MethodPost, "/api/v1/bookings/"+b.ID+"/accept", body)
		assert.Equal(t, http.StatusBadRequest, rec.Code, body)
	}
	assertJSONError(t, p.as(t, p.engineer, http.MethodPost, "/api/v1/bookings/"+b.ID+"/decline", `{"reason":""}`).ResponseRecorder, 400, mes.EINVALID, "reason")
	assertJSONError(t, p.as(t, p.acme, http.MethodGet, "/api/v1/bookings?state=lost", "").ResponseRecorder, 400, mes.EINVALID, "state")
	assertJSONError(t, p.as(t, p.acme, http.MethodGet, "/api/v1/bookings/..%2Fx", "").ResponseRecorder, 400, mes.EINVALID, "")
	assert.Equal(t, before, p.allBookings(t))
}

func (p *portal) customer() string { return p.acme }
func (p *portal) staff() string    { return p.engineer }

func TestBookings_ExpiredQuoteAndTakenWindow(t *testing.T) {
	p := newPortal(t)
	first := decode[bookingView](t, p.as(t, p.acme, http.MethodPost, "/api/v1/bookings", bookingBody(300, "")).ResponseRecorder)
	second := decode[bookingView](t, p.as(t, p.beta, http.MethodPost, "/api/v1/bookings", bookingBody(300, "")).ResponseRecorder)
	require.Equal(t, first.Quote.Start, second.Quote.Start, "both quoted the same free window")

	requireStatus(t, http.StatusOK, p.as(t, p.acme, http.MethodPost, "/api/v1/bookings/"+first.ID+"/accept", "").ResponseRecorder)
	requireStatus(t, http.StatusOK, p.as(t, p.beta, http.MethodPost, "/api/v1/bookings/"+second.ID+"/accept", "").ResponseRecorder)
	requireStatus(t, http.StatusOK, p.as(t, p.engineer, http.MethodPost, "/api/v1/bookings/"+first.ID+"/confirm", "").ResponseRecorder)
	assertJSONError(t, p.as(t, p.engineer, http.MethodPost, "/api/v1/bookings/"+second.ID+"/confirm", "").ResponseRecorder,
		http.StatusConflict, mes.ECONFLICT, "taken")
	// The engineer quotes it again: the next free window.
	rec := p.as(t, p.engineer, http.MethodPost, "/api/v1/bookings/"+second.ID+"/quote", `{"reason":"window taken"}`)
	assertJSONError(t, rec.ResponseRecorder, http.StatusConflict, mes.ECONFLICT, "cannot be quoted")
	requireStatus(t, http.StatusOK, p.as(t, p.engineer, http.MethodPost, "/api/v1/bookings/"+second.ID+"/decline", `{"reason":"window taken, please request again"}`).ResponseRecorder)

	third := decode[bookingView](t, p.as(t, p.beta, http.MethodPost, "/api/v1/bookings", bookingBody(300, "")).ResponseRecorder)
	require.Equal(t, mes.BookingQuoted, third.State)
	assert.True(t, third.Quote.Start.After(first.Quote.End))
	p.clock.Add(booking.DefaultQuoteValidity)
	assertJSONError(t, p.as(t, p.beta, http.MethodPost, "/api/v1/bookings/"+third.ID+"/accept", "").ResponseRecorder,
		http.StatusConflict, mes.ECONFLICT, "expired")
	rec = p.as(t, p.engineer, http.MethodPost, "/api/v1/bookings/"+third.ID+"/quote", `{"reason":"requote"}`)
	requireStatus(t, http.StatusOK, rec.ResponseRecorder)
	assert.Equal(t, p.clock.Now().Add(booking.DefaultQuoteValidity), decode[bookingView](t, rec.ResponseRecorder).Quote.Expires)
	requireStatus(t, http.StatusOK, p.as(t, p.beta, http.MethodPost, "/api/v1/bookings/"+third.ID+"/accept", "").ResponseRecorder)

	// No window before the deadline: the request waits for an engineer.
	tight := strings.Replace(bookingBody(5000, ""), "2026-04-30T00:00:00Z", "2026-03-12T00:00:00Z", 1)
	rec = p.as(t, p.acme, http.MethodPost, "/api/v1/bookings", tight)
	requireStatus(t, http.StatusCreated, rec.ResponseRecorder)
	v := decode[bookingView](t, rec.ResponseRecorder)
	assert.Equal(t, mes.BookingRequested, v.State)
	assert.Contains(t, v.QuoteError, "deadline")
}

func TestBookings_RunProgress(t *testing.T) {
	p := newPortal(t)
	b := decode[bookingView](t, p.as(t, p.acme, http.MethodPost, "/api/v1/bookings", bookingBody(20, "")).ResponseRecorder)
	requireStatus(t, http.StatusOK, p.as(t, p.acme, http.MethodPost, "/api/v1/bookings/"+b.ID+"/accept", "").ResponseRecorder)
	requireStatus(t, http.StatusOK, p.as(t, p.engineer, http.MethodPost, "/api/v1/bookings/"+b.ID+"/confirm", "").ResponseRecorder)
	sched := &booking.Scheduler{Bookings: p.bookings, Batches: p.batches, Products: p.s.Products, AutoRelease: true, Clock: mes.LineClockFrom(p.clock.Now)}
	p.clock.Add(b.Quote.Start.Sub(testNow))
	require.NoError(t, sched.Tick(context.Background()))

	got := decode[bookingView](t, p.as(t, p.acme, http.MethodGet, "/api/v1/bookings/"+b.ID, "").ResponseRecorder)
	assert.Equal(t, mes.BookingRunning, got.State)
	require.NotNil(t, got.Run)
	assert.Equal(t, mes.BatchReleased, got.Run.BatchState)
	assert.Equal(t, 20, got.Run.Quantity)
	assert.Empty(t, got.Run.TraceURL)

	// The customer now sees its batch, the other customer does not.
	requireStatus(t, http.StatusOK, p.as(t, p.acme, http.MethodGet, "/api/v1/batches/"+got.Batch, "").ResponseRecorder)
	assert.Equal(t, http.StatusNotFound, p.as(t, p.beta, http.MethodGet, "/api/v1/batches/"+got.Batch, "").Code)

	ctx := context.Background()
	for _, st := range []mes.BatchState{mes.BatchRunning, mes.BatchCompleted, mes.BatchQAReleased} {
		_, err := p.batches.TransitionBatch(ctx, got.Batch, st, "line", "", time.Time{})
		require.NoError(t, err)
	}
	require.NoError(t, sched.Tick(ctx))
	got = decode[bookingView](t, p.as(t, p.acme, http.MethodGet, "/api/v1/bookings/"+b.ID, "").ResponseRecorder)
	assert.Equal(t, mes.BookingCompleted, got.State)
	assert.Equal(t, "/api/v1/batches/"+got.Batch+"/trace", got.Run.TraceURL)
	ns := decode[notificationList](t, p.as(t, p.acme, http.MethodGet, "/api/v1/notifications?limit=1", "").ResponseRecorder)
	require.Len(t, ns.Notifications, 1)
	assert.Equal(t, mes.BookingCompleted, ns.Notifications[0].State)

	rec := p.as(t, p.engineer, http.MethodPost, "/api/v1/bookings/"+b.ID+"/deliver", `{"reason":"DHL 123"}`)
	requireStatus(t, http.StatusOK, rec.ResponseRecorder)
	assert.Equal(t, mes.BookingDelivered, decode[bookingView](t, rec.ResponseRecorder).State)
}

func TestCalendar_Maintenance(t *testing.T) {
	p := newPortal(t)
	body := `{"groups":["FLT"],"start":"2026-03-10T06:00:00Z","end":"2026-03-10T14:00:00Z","title":"wheel change FLT"}`
	assertJSONError(t, p.as(t, p.acme, http.MethodPost, "/api/v1/calendar/maintenance", body).ResponseRecorder, http.StatusForbidden, mes.EFORBIDDEN, "")
	rec := p.as(t, p.engineer, http.MethodPost, "/api/v1/calendar/maintenance", body)
	requireStatus(t, http.StatusCreated, rec.ResponseRecorder)
	r := decode[mes.Reservation](t, rec.ResponseRecorder)
	assert.Equal(t, "eng.wu", r.By)
	assertJSONError(t, p.as(t, p.engineer, http.MethodPost, "/api/v1/calendar/maintenance", body).ResponseRecorder, http.StatusConflict, mes.ECONFLICT, "FLT")

	for _, bad := range []string{
		`{"groups":["PAINT"],"start":"2026-03-11T06:00:00Z","end":"2026-03-11T14:00:00Z","title":"x"}`,
		`{"start":"2026-03-11T06:00:00Z","end":"2026-03-11T05:00:00Z","title":"x"}`,
		`{"start":"2026-03-11T06:00:00Z","end":"2026-03-11T08:00:00Z"}`,
		`{"start":"2026-03-11","end":"2026-03-11T08:00:00Z","title":"x"}`,
	} {
		assert.Equal(t, http.StatusBadRequest, p.as(t, p.engineer, http.MethodPost, "/api/v1/calendar/maintenance", bad).Code, bad)
	}
	view := decode[CalendarView](t, p.as(t, p.engineer, http.MethodGet, "/api/v1/calendar?from=2026-03-09T00:00:00Z&to=2026-03-16T00:00:00Z", "").ResponseRecorder)
	assert.Len(t, view.Reservations, 1, "bad requests stored nothing")
	assert.Len(t, view.Groups, 5)

	// A booking's quote avoids the maintenance on the groups it needs.
	b := decode[bookingView](t, p.as(t, p.acme, http.MethodPost, "/api/v1/bookings", strings.Replace(bookingBody(100, ""), "2026-03-09T06:00:00Z", "2026-03-10T00:00:00Z", 1)).ResponseRecorder)
	require.NotNil(t, b.Quote)
	assert.False(t, b.Quote.Window().Overlaps(mes.Interval{Start: r.BlockedStart(), End: r.BlockedEnd()}))

	for _, q := range []string{"?from=2026-03-09", "?from=2026-03-09T00:00:00Z&to=2026-03-08T00:00:00Z", "?from=2026-01-01T00:00:00Z&to=2027-03-01T00:00:00Z", "?week=1"} {
		assert.Equal(t, http.StatusBadRequest, p.as(t, p.acme, http.MethodGet, "/api/v1/calendar"+q, "").Code, q)
	}
	requireStatus(t, http.StatusNoContent, p.as(t, p.engineer, http.MethodDelete, "/api/v1/calendar/maintenance/"+r.ID, "").ResponseRecorder)
	assertJSONError(t, p.as(t, p.engineer, http.MethodDelete, "/api/v1/calendar/maintenance/"+r.ID, "").ResponseRecorder, http.StatusNotFound, mes.ENOTFOUND, "")
	anon := send(t, p.s, http.MethodGet, "/api/v1/calendar", "")
	assert.Equal(t, http.StatusUnauthorized, anon.Code)
}

// TestBookings_JSONShape pins the field names the pages read.
func TestBookings_JSONShape(t *testing.T) {
	p := newPortal(t)
	rec := p.as(t, p.acme, http.MethodPost, "/api/v1/bookings", bookingBody(10, ""))
	requireStatus(t, http.StatusCreated, rec.ResponseRecorder)
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m))
	for _, k := range []string{"id", "org", "product", "quantity", "qa", "earliest_start", "deadline", "state", "quote", "transitions", "cancel_until"} {
		assert.Contains(t, m, k)
	}
	q := m["quote"].(map[string]any)
	for _, k := range []string{"basis", "interval_s", "line_time_s", "start", "end", "expires", "setup_s", "oee"} {
		assert.Contains(t, q, k)
	}
}
