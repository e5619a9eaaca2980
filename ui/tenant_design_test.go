package ui

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/booking"
)

// designISO is the new bur type acme books with a spec.
const designISO = "500314001001016"

// designBooking is acme's booking of its own new bur type on the demo route.
var designBooking = strings.Replace(bookingBody(10, `,"spec":{"name":"Acme round bur 1.6","shank_type":"FG","tolerances":{"head_diameter":{"nominal_mm":1.6,"lsl_mm":1.58,"usl_mm":1.62}},"route_from":"500314001001014"}`),
	"500314001001014", designISO, 1)

// runDesign books acme's design, confirms it and lets the scheduler start
// its window, which stores the design as a product.
func runDesign(t *testing.T, p *portal) {
	t.Helper()
	b := decode[bookingView](t, p.as(t, p.acme, http.MethodPost, "/api/v1/bookings", designBooking).ResponseRecorder)
	require.Equal(t, mes.BookingQuoted, b.State, b.QuoteError)
	requireStatus(t, http.StatusOK, p.as(t, p.acme, http.MethodPost, "/api/v1/bookings/"+b.ID+"/accept", "").ResponseRecorder)
	requireStatus(t, http.StatusOK, p.as(t, p.engineer, http.MethodPost, "/api/v1/bookings/"+b.ID+"/confirm", "").ResponseRecorder)
	sched := &booking.Scheduler{Bookings: p.bookings, Batches: p.batches, Products: p.s.Products, AutoRelease: true, Clock: mes.LineClockFrom(p.clock.Now)}
	p.clock.Add(b.Quote.Start.Sub(p.clock.Now()))
	require.NoError(t, sched.Tick(context.Background()))
	stored, err := p.s.Products.FindProduct(context.Background(), designISO)
	require.NoError(t, err, "the window started: the design is a product")
	require.Equal(t, "acme", stored.Org)
}

func TestTenants_DesignBelongsToItsOrganisation(t *testing.T) {
	p := newPortal(t)
	runDesign(t, p)
	const missingISO = "500314001009016"

	// To beta the design answers exactly like a product that does not exist.
	foreign := p.as(t, p.beta, http.MethodGet, "/api/v1/products/"+designISO, "")
	missing := p.as(t, p.beta, http.MethodGet, "/api/v1/products/"+missingISO, "")
	assertJSONError(t, foreign.ResponseRecorder, http.StatusNotFound, mes.ENOTFOUND, "")
	assert.Equal(t, strings.ReplaceAll(missing.Body.String(), missingISO, "ISO"), strings.ReplaceAll(foreign.Body.String(), designISO, "ISO"))

	// Not in beta's list; in acme's and staff's.
	assert.NotContains(t, p.as(t, p.beta, http.MethodGet, "/api/v1/products", "").Body.String(), designISO)
	assert.Contains(t, p.as(t, p.acme, http.MethodGet, "/api/v1/products", "").Body.String(), designISO)
	assert.Contains(t, p.as(t, p.engineer, http.MethodGet, "/api/v1/products", "").Body.String(), designISO)
	requireStatus(t, http.StatusOK, p.as(t, p.acme, http.MethodGet, "/api/v1/products/"+designISO, "").ResponseRecorder)
	requireStatus(t, http.StatusOK, p.as(t, p.engineer, http.MethodGet, "/api/v1/products/"+designISO, "").ResponseRecorder)

	// Beta cannot book (and so be quoted) the design, nor build on its
	// route: the answers are those for a product that does not exist.
	before := p.allBookings(t)
	order := func(iso string) string { return strings.Replace(bookingBody(10, ""), "500314001001014", iso, 1) }
	foreign = p.as(t, p.beta, http.MethodPost, "/api/v1/bookings", order(designISO))
	missing = p.as(t, p.beta, http.MethodPost, "/api/v1/bookings", order(missingISO))
	assertJSONError(t, foreign.ResponseRecorder, http.StatusBadRequest, mes.EINVALID, "unknown product")
	assert.Equal(t, strings.ReplaceAll(missing.Body.String(), missingISO, "ISO"), strings.ReplaceAll(foreign.Body.String(), designISO, "ISO"))
	onRoute := strings.Replace(strings.Replace(designBooking, designISO, "500314001001018", 1), `"route_from":"500314001001014"`, `"route_from":"`+designISO+`"`, 1)
	assertJSONError(t, p.as(t, p.beta, http.MethodPost, "/api/v1/bookings", onRoute).ResponseRecorder, http.StatusBadRequest, mes.EINVALID, "route_from: unknown product")
	// Staff booking it for beta is refused the same way.
	assertJSONError(t, p.as(t, p.engineer, http.MethodPost, "/api/v1/bookings", strings.Replace(order(designISO), `{"product"`, `{"org":"beta","product"`, 1)).ResponseRecorder,
		http.StatusBadRequest, mes.EINVALID, "unknown product")
	assert.Equal(t, before, p.allBookings(t), "nothing booked")

	// A batch of the design is acme's only.
	assertJSONError(t, p.as(t, p.engineer, http.MethodPost, "/api/v1/batches", `{"product":"`+designISO+`","quantity":5,"org":"beta"}`).ResponseRecorder,
		http.StatusBadRequest, mes.EINVALID, "design")
	assertJSONError(t, p.as(t, p.engineer, http.MethodPost, "/api/v1/batches", `{"product":"`+designISO+`","quantity":5}`).ResponseRecorder,
		http.StatusBadRequest, mes.EINVALID, "design")
	requireStatus(t, http.StatusCreated, p.as(t, p.engineer, http.MethodPost, "/api/v1/batches", `{"product":"`+designISO+`","quantity":5,"org":"acme"}`).ResponseRecorder)
	// The store refuses it too, whoever asks.
	err := p.batches.CreateBatch(context.Background(), &mes.Batch{Product: designISO, Quantity: 1, Org: "beta"})
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err), "%v", err)

	// Beta's calendar shows busy time, never acme's product.
	cal := p.as(t, p.beta, http.MethodGet, "/api/v1/calendar?from=2026-03-01T00:00:00Z&to=2026-05-01T00:00:00Z", "")
	requireStatus(t, http.StatusOK, cal.ResponseRecorder)
	assert.NotContains(t, cal.Body.String(), designISO)
	assert.NotContains(t, cal.Body.String(), "acme")
}

func TestTenants_BatchOrgMustExist(t *testing.T) {
	p := newPortal(t)
	before, err := p.batches.ListBatches(context.Background(), mes.BatchFilter{})
	require.NoError(t, err)
	assertJSONError(t, p.as(t, p.engineer, http.MethodPost, "/api/v1/batches", `{"product":"500314001001014","quantity":5,"org":"acme-typo"}`).ResponseRecorder,
		http.StatusBadRequest, mes.EINVALID, `org: no organisation "acme-typo"`)
	assertJSONError(t, p.as(t, p.engineer, http.MethodPost, "/api/v1/bookings", strings.Replace(bookingBody(10, ""), `{"product"`, `{"org":"acme-typo","product"`, 1)).ResponseRecorder,
		http.StatusBadRequest, mes.EINVALID, `org: no organisation "acme-typo"`)
	after, err := p.batches.ListBatches(context.Background(), mes.BatchFilter{})
	require.NoError(t, err)
	assert.Equal(t, before, after)
	assert.Empty(t, p.allBookings(t))
	requireStatus(t, http.StatusCreated, p.as(t, p.engineer, http.MethodPost, "/api/v1/batches", `{"product":"500314001001014","quantity":5,"org":"acme"}`).ResponseRecorder)
}

func TestTenants_AnonymousViewerCannotFilterByOrg(t *testing.T) {
	tt := newTenants(t)
	tt.s.AnonymousViewer = true
	anon := []string{"Authorization", ""}
	all := send(t, tt.s, http.MethodGet, "/api/v1/batches", "", anon...)
	requireStatus(t, http.StatusOK, all)
	for _, b := range decode[batchList](t, all).Batches {
		assert.Empty(t, b.Org)
	}
	for _, org := range []string{"acme", "beta", "nobody"} {
		rec := send(t, tt.s, http.MethodGet, "/api/v1/batches?org="+org, "", anon...)
		assertJSONError(t, rec, http.StatusUnauthorized, mes.EUNAUTHORIZED, "org")
	}
}
