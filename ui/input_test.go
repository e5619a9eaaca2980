package ui

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// TestInput_UnknownQueryParameterOnEveryRoute sends ?bogus=1 to every
// route of the API (and /healthz, /metrics, /ws/twin): each answers 400
// naming the parameter, before it looks at anything else.
func TestInput_UnknownQueryParameterOnEveryRoute(t *testing.T) {
	p := newPortal(t)
	s := p.s
	requireStatus(t, http.StatusOK, do(t, s, http.MethodGet, "/healthz", "")) // builds the routes
	values := map[string]string{":id": "B000001", ":iso": "500314001001014", ":serial": "B000001-00001"}
	n := 0
	for _, rt := range s.echo.Routes() {
		if rt.Method == echo.RouteNotFound || strings.HasSuffix(rt.Path, "*") ||
			!(strings.HasPrefix(rt.Path, APIPrefix+"/") || rt.Path == "/healthz" || rt.Path == "/metrics" || rt.Path == "/ws/twin") {
			continue
		}
		path := rt.Path
		for k, v := range values {
			path = strings.ReplaceAll(path, k, v)
		}
		body := ""
		if rt.Method == http.MethodPost || rt.Method == http.MethodPatch {
			body = `{}`
		}
		rec := do(t, s, rt.Method, path+"?bogus=1", body)
		if !assert.Equal(t, http.StatusBadRequest, rec.Code, "%s %s: %s", rt.Method, rt.Path, truncate(rec.Body.String(), 200)) {
			continue
		}
		assertJSONError(t, rec, http.StatusBadRequest, mes.EINVALID, `unknown parameter "bogus"`)
		n++
	}
	assert.Greater(t, n, 40, "routes checked")
}

// TestInput_StrictJSON refuses bodies that encoding/json would quietly
// accept: names differing only in case, duplicated names, bidi controls.
func TestInput_StrictJSON(t *testing.T) {
	p := newPortal(t)
	s := p.s
	seed := `{"product": "500314001001014", "quantity": 3, "org": "acme"}`
	requireStatus(t, http.StatusCreated, do(t, s, http.MethodPost, "/api/v1/batches", seed))
	before := dump(t, backend{Products: s.Products, Batches: s.Batches, Burs: s.Burs, Events: s.Events})
	bookingsBefore := p.allBookings(t)
	tests := []struct {
		name, method, target, body, want string
	}{
		{"upper-case name", "POST", "/api/v1/batches", `{"product": "500314001001014", "quantity": 3, "ORG": "acme"}`, `unknown field "ORG"`},
		{"title-case name", "POST", "/api/v1/batches", `{"product": "500314001001014", "Quantity": 3}`, `unknown field "Quantity"`},
		{"nested name", "POST", "/api/v1/products", strings.Replace(demoProductJSON(t, s.Line), `"nominal_mm"`, `"Nominal_MM"`, 1), `Nominal_MM`},
		{"duplicate name", "POST", "/api/v1/batches", `{"product": "500314001001014", "quantity": 3, "quantity": 100000}`, `field "quantity": given more than once`},
		{"duplicate nested", "POST", "/api/v1/bookings", strings.Replace(bookingBody(10, ""), `"n":2`, `"n":2,"n":3`, 1), `field "qa.sampling.n": given more than once`},
		{"duplicate in case", "POST", "/api/v1/batches", `{"product": "500314001001014", "quantity": 3, "Quantity": 5}`, `Quantity`},
		{"bidi in product name", "POST", "/api/v1/products", strings.Replace(demoProductJSON(t, s.Line), `"name":"`, `"name":"\u202e`, 1), `field "name": Unicode bidirectional control U+202E`},
		{"bidi isolate raw", "POST", "/api/v1/products", strings.Replace(demoProductJSON(t, s.Line), `"name":"`, "\"name\":\"\u2066", 1), `U+2066`},
		{"bidi in reason", "POST", "/api/v1/batches/B000001/hold", `{"reason": "ok \u202a"}`, `field "reason": Unicode bidirectional control U+202A`},
		{"bidi in notes", "POST", "/api/v1/bookings", strings.Replace(bookingBody(10, ""), `"notes":"first`, `"notes":"\u2069first`, 1), `field "notes"`},
		{"bidi in user name", "POST", "/api/v1/users", `{"id":"mallory","name":"Mallory \u202eyrollaM","role":"qa","password":"correct horse battery"}`, `field "name"`},
		{"bidi in org name", "POST", "/api/v1/orgs", `{"id":"evil","name":"Evil \u202d"}`, `field "name"`},
		{"bidi in maintenance title", "POST", "/api/v1/calendar/maintenance", `{"start":"2026-03-11T06:00:00Z","end":"2026-03-11T08:00:00Z","title":"\u202bx"}`, `field "title"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := send(t, s, tt.method, tt.target, tt.body, bearer(p.engineer)...)
			if strings.HasPrefix(tt.target, "/api/v1/users") || strings.HasPrefix(tt.target, "/api/v1/orgs") {
				rec = do(t, s, tt.method, tt.target, tt.body)
			}
			assertJSONError(t, rec, http.StatusBadRequest, mes.EINVALID, tt.want)
		})
	}
	assert.Equal(t, before, dump(t, backend{Products: s.Products, Batches: s.Batches, Burs: s.Burs, Events: s.Events}), "nothing changed")
	assert.Equal(t, bookingsBefore, p.allBookings(t))
	_, err := s.Users.FindUser(context.Background(), "mallory")
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))
	_, err = s.Orgs.FindOrg(context.Background(), "evil")
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))
	require.NotNil(t, s)
}

// TestInput_DatesAndSpecTolerances refuses dates outside MinDate..MaxDate
// (typos, and dates the store's keys cannot hold) and booking specs with
// tolerances products would refuse.
func TestInput_DatesAndSpecTolerances(t *testing.T) {
	p := newPortal(t)
	s := p.s
	before := dump(t, backend{Products: s.Products, Batches: s.Batches, Burs: s.Burs, Events: s.Events})
	batch := func(start, end string) string {
		return `{"product": "500314001001014", "quantity": 3, "planned_start": "` + start + `", "planned_end": "` + end + `"}`
	}
	spec := func(nominal, lsl, usl string) string {
		return strings.Replace(bookingBody(10, `,"spec":{"name":"Big","shank_type":"FG","tolerances":{"radial_runout":{"nominal_mm":`+nominal+`,"lsl_mm":`+lsl+`,"usl_mm":`+usl+`}},"route_from":"500314001001014"}`),
			`"characteristics":["head_diameter"]`, `"characteristics":["radial_runout"]`, 1)
	}
	specISO := func(body string) string {
		return strings.Replace(body, `"product":"500314001001014"`, `"product":"500314001002014"`, 1)
	}
	tests := []struct {
		name, method, target, body, want string
	}{
		{"planned in year 1", "POST", "/api/v1/batches", batch("0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z"), "planned_start: 0001-01-01T00:00:00Z is outside the dates"},
		{"planned in 9999", "POST", "/api/v1/batches", batch("2026-03-02T06:00:00Z", "9999-12-31T00:00:00Z"), "planned_end: 9999-12-31T00:00:00Z is outside"},
		{"planned just past the range", "POST", "/api/v1/batches", batch("2026-03-02T06:00:00Z", "2200-01-01T00:00:00Z"), "2000-01-01 to 2199-12-31"},
		{"booking deadline in 9999", "POST", "/api/v1/bookings", strings.Replace(bookingBody(10, ""), "2026-04-30T00:00:00Z", "9999-04-30T00:00:00Z", 1), "deadline"},
		{"booking start in 1999", "POST", "/api/v1/bookings", strings.Replace(bookingBody(10, ""), "2026-03-09T06:00:00Z", "1999-03-09T06:00:00Z", 1), "earliest_start"},
		{"calendar past 2262", "GET", "/api/v1/calendar?from=2263-01-01T00:00:00Z&to=2263-01-08T00:00:00Z", "", "from: 2263-01-01T00:00:00Z is outside"},
		{"calendar in year 1", "GET", "/api/v1/calendar?from=0001-01-01T00:00:00Z", "", "from"},
		{"calendar to 9999", "GET", "/api/v1/calendar?to=9999-01-01T00:00:00Z", "", "to"},
		{"maintenance past 2262", "POST", "/api/v1/calendar/maintenance", `{"start":"2300-03-11T06:00:00Z","end":"2300-03-11T08:00:00Z","title":"x"}`, "start"},
		{"kpi in 9999", "GET", "/api/v1/kpi?from=9999-01-01T00:00:00Z", "", "from"},
		{"spec nominal beyond 1000 mm", "POST", "/api/v1/bookings", specISO(spec("5000", "0", "10000")), "spec.tolerances.radial_runout: values must be within ±1000 mm"},
		{"spec limit beyond -1000 mm", "POST", "/api/v1/bookings", specISO(spec("0", "-1e9", "0.02")), "spec.tolerances.radial_runout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := p.engineer
			if tt.target == "/api/v1/bookings" {
				tok = p.acme
			}
			rec := send(t, s, tt.method, tt.target, tt.body, bearer(tok)...)
			assertJSONError(t, rec, http.StatusBadRequest, mes.EINVALID, tt.want)
		})
	}
	assert.Equal(t, before, dump(t, backend{Products: s.Products, Batches: s.Batches, Burs: s.Burs, Events: s.Events}), "nothing changed")
	assert.Empty(t, p.allBookings(t))
	cal := send(t, s, "GET", "/api/v1/calendar?from=2199-12-01T00:00:00Z&to=2199-12-08T00:00:00Z", "", bearer(p.engineer)...)
	requireStatus(t, http.StatusOK, cal)
	assert.Contains(t, cal.Body.String(), `"from":"2199-12-01T00:00:00Z"`, "the last year of the range is served as asked, not clamped")
}
