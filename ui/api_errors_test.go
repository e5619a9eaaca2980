package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// TestMalformedRequests sends bad requests of every kind to a store holding
// a product, batches in several states, a bur and events, and checks each
// gets a 4xx JSON error naming the problem and leaves the business data
// exactly as it was.
func TestMalformedRequests(t *testing.T) {
	line := MustLine(t)
	be := openBackend(t, line)
	s, _ := newTestServer(t, line, be)
	s.MaxBodyBytes = 64 << 10
	seedProduct(t, s)
	planned := seedBatch(t, s, `{"product": "500314001001014", "quantity": 4}`)
	released := seedBatch(t, s, `{"product": "500314001001014", "quantity": 4, "state": "released"}`)
	ctx := context.Background()
	bur, err := be.Burs.StartBur(ctx, released.ID, testNow)
	require.NoError(t, err)
	require.NoError(t, be.Events.Publish(ctx, machineEvents("G03", testNow.Add(-time.Hour), 6)...))

	product := demoProductJSON(t, line)
	otherProduct := strings.Replace(product, "500314001001014", "500314001002014", 1)
	// withField returns the demo product (under a new ISO number) with one field replaced.
	withField := func(field, value string) string {
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(otherProduct), &m))
		m[field] = json.RawMessage(value)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	huge := `{"product": "500314001001014", "quantity": 3, "org": "` + strings.Repeat("x", 70<<10) + `"}`
	const batches = "/api/v1/batches"

	tests := []struct {
		name        string
		method      string
		target      string
		body        string
		contentType string // default application/json when body is set
		status      int
		code        string
		want        string // substring of the message
	}{
		// Bodies that are not JSON, or not one JSON object.
		{"empty body", "POST", batches, "", "", 400, mes.EINVALID, "required"},
		{"syntax error", "POST", batches, `{"product": "500314001001014", "quantity": 3`, "", 400, mes.EINVALID, "malformed JSON"},
		{"not an object", "POST", batches, `[1, 2, 3]`, "", 400, mes.EINVALID, "JSON object"},
		{"null", "POST", batches, `null`, "", 400, mes.EINVALID, "JSON object"},
		{"trailing data", "POST", batches, `{"product": "500314001001014", "quantity": 3} {"quantity": 4}`, "", 400, mes.EINVALID, "after the JSON object"},
		{"trailing garbage", "POST", batches, `{"product": "500314001001014", "quantity": 3}x`, "", 400, mes.EINVALID, "after the JSON object"},
		{"wrong content type", "POST", batches, `{"product": "500314001001014", "quantity": 3}`, "text/plain", 415, CodeUnsupportedMediaType, "application/json"},
		{"form content type", "POST", batches, `product=500314001001014&quantity=3`, "application/x-www-form-urlencoded", 415, CodeUnsupportedMediaType, "Content-Type"},
		{"huge body", "POST", batches, huge, "", 413, CodeTooLarge, "limit"},

		// Unknown fields and wrong types, named.
		{"unknown field", "POST", batches, `{"product": "500314001001014", "quantity": 3, "priority": 1}`, "", 400, mes.EINVALID, `"priority"`},
		{"quantity as string", "POST", batches, `{"product": "500314001001014", "quantity": "3"}`, "", 400, mes.EINVALID, `"quantity"`},
		{"quantity fractional", "POST", batches, `{"product": "500314001001014", "quantity": 2.5}`, "", 400, mes.EINVALID, `"quantity"`},
		{"quantity overflows", "POST", batches, `{"product": "500314001001014", "quantity": 1e30}`, "", 400, mes.EINVALID, `"quantity"`},
		{"good_required as string", "POST", batches, `{"product": "500314001001014", "quantity": 3, "good_required": "yes"}`, "", 400, mes.EINVALID, `"good_required"`},

		// Out-of-range and semantically invalid batches.
		{"quantity zero", "POST", batches, `{"product": "500314001001014", "quantity": 0}`, "", 400, mes.EINVALID, "quantity"},
		{"quantity negative", "POST", batches, `{"product": "500314001001014", "quantity": -5}`, "", 400, mes.EINVALID, "quantity"},
		{"quantity too large", "POST", batches, `{"product": "500314001001014", "quantity": 100001}`, "", 400, mes.EINVALID, "quantity"},
		{"missing product", "POST", batches, `{"quantity": 3}`, "", 400, mes.EINVALID, "product"},
		{"unknown product", "POST", batches, `{"product": "500314001001016", "quantity": 3}`, "", 400, mes.EINVALID, "product"},
		{"malformed product", "POST", batches, `{"product": "../../etc/passwd", "quantity": 3}`, "", 400, mes.EINVALID, "product"},
		{"bad planned_start", "POST", batches, `{"product": "500314001001014", "quantity": 3, "planned_start": "tomorrow"}`, "", 400, mes.EINVALID, "planned_start"},
		{"end before start", "POST", batches, `{"product": "500314001001014", "quantity": 3, "planned_start": "2026-03-02T14:00:00Z", "planned_end": "2026-03-02T06:00:00Z"}`, "", 400, mes.EINVALID, "planned_end"},
		{"created running", "POST", batches, `{"product": "500314001001014", "quantity": 3, "state": "running"}`, "", 400, mes.EINVALID, "state"},
		{"control chars in org", "POST", batches, `{"product": "500314001001014", "quantity": 3, "org": "a\u0000b"}`, "", 400, mes.EINVALID, "org"},
		{"bad blank lot", "POST", batches, `{"product": "500314001001014", "quantity": 3, "blank_lot": "lot 7/../x"}`, "", 400, mes.EINVALID, "blank_lot"},

		// Products.
		{"product exists", "POST", "/api/v1/products", product, "", 409, mes.ECONFLICT, ""},
		{"product unknown field", "POST", "/api/v1/products", withField("colour", `"gold"`), "", 400, mes.EINVALID, `"colour"`},
		{"product nested unknown field", "POST", "/api/v1/products", withField("route", `[{"number": 10, "name": "Shank", "group": "SHK", "program": "P", "program_version": "1", "ideal_cycle_s": 60, "feed": 3}]`), "", 400, mes.EINVALID, `"feed"`},
		{"product bad iso", "POST", "/api/v1/products", withField("iso", `"12345"`), "", 400, mes.EINVALID, "iso"},
		{"product iso as number", "POST", "/api/v1/products", withField("iso", `500314001001016`), "", 400, mes.EINVALID, `"iso"`},
		{"product no route", "POST", "/api/v1/products", withField("route", `[]`), "", 400, mes.EINVALID, "route"},
		{"product unknown group", "POST", "/api/v1/products", withField("route", `[{"number": 10, "name": "Shank", "group": "LASER", "program": "P", "program_version": "1", "ideal_cycle_s": 60}]`), "", 400, mes.EINVALID, "route[0].group"},
		{"product cycle too long", "POST", "/api/v1/products", withField("route", `[{"number": 10, "name": "Shank", "group": "SHK", "program": "P", "program_version": "1", "ideal_cycle_s": 1e9}]`), "", 400, mes.EINVALID, "ideal_cycle_s"},
		{"product bad program", "POST", "/api/v1/products", withField("route", `[{"number": 10, "name": "Shank", "group": "SHK", "program": "../O1010", "program_version": "1", "ideal_cycle_s": 60}]`), "", 400, mes.EINVALID, "route[0].program"},
		{"product bad tolerance", "POST", "/api/v1/products", withField("tolerances", `{"head_diameter": {"nominal_mm": 1.6, "lsl_mm": 1.62, "usl_mm": 1.58}}`), "", 400, mes.EINVALID, "tolerances"},
		{"product unknown characteristic", "POST", "/api/v1/products", withField("tolerances", `{"hue": {"nominal_mm": 1, "lsl_mm": 0, "usl_mm": 2}}`), "", 400, mes.EINVALID, "hue"},
		{"product shank mismatch", "POST", "/api/v1/products", withField("shank_type", `"RA"`), "", 400, mes.EINVALID, "shank_type"},
		{"product bad gtin", "POST", "/api/v1/products", withField("gtin", `"12ab"`), "", 400, mes.EINVALID, "gtin"},
		{"product name missing", "POST", "/api/v1/products", withField("name", `""`), "", 400, mes.EINVALID, "name"},
		{"product name too long", "POST", "/api/v1/products", withField("name", `"`+strings.Repeat("n", 600)+`"`), "", 400, mes.EINVALID, "name"},
		{"product path not an iso", "GET", "/api/v1/products/abc", "", "", 400, mes.EINVALID, "iso"},

		// Ids in paths.
		{"batch id with dots", "GET", "/api/v1/batches/..", "", "", 400, mes.EINVALID, "id"},
		{"batch id escaped slash", "GET", "/api/v1/batches/..%2F..%2Fetc", "", "", 400, mes.EINVALID, "id"},
		{"batch id too long", "GET", "/api/v1/batches/" + strings.Repeat("B", 65), "", "", 400, mes.EINVALID, "longer"},
		{"batch id bad chars", "GET", "/api/v1/batches/B%20001", "", "", 400, mes.EINVALID, "id"},
		{"transition bad id", "POST", "/api/v1/batches/%00/release", "", "", 400, mes.EINVALID, "id"},
		{"bur serial traversal", "GET", "/api/v1/burs/..%2Fsecret", "", "", 400, mes.EINVALID, "serial"},
		{"bur serial too long", "GET", "/api/v1/burs/" + strings.Repeat("S", 41), "", "", 400, mes.EINVALID, "serial"},
		{"bur serial bad chars", "GET", "/api/v1/burs/S%3Cscript%3E", "", "", 400, mes.EINVALID, "serial"},
		{"burs of bad batch id", "GET", "/api/v1/batches/a..b/burs", "", "", 400, mes.EINVALID, "id"},

		// Transitions.
		{"release released", "POST", batches + "/" + released.ID + "/release", "", "", 409, mes.ECONFLICT, "released"},
		{"resume not held", "POST", batches + "/" + planned.ID + "/resume", "", "", 409, mes.ECONFLICT, "not held"},
		{"hold planned", "POST", batches + "/" + planned.ID + "/hold", `{"reason": "x"}`, "", 409, mes.ECONFLICT, ""},
		{"qa-release running", "POST", batches + "/" + released.ID + "/qa-release", "", "", 409, mes.ECONFLICT, ""},
		{"cancel running", "POST", batches + "/" + released.ID + "/cancel", "", "", 409, mes.ECONFLICT, ""},
		{"transition unknown field", "POST", batches + "/" + planned.ID + "/release", `{"reason": "ok", "force": true}`, "", 400, mes.EINVALID, `"force"`},
		{"transition reason wrong type", "POST", batches + "/" + planned.ID + "/release", `{"reason": 42}`, "", 400, mes.EINVALID, `"reason"`},
		{"transition reason too long", "POST", batches + "/" + planned.ID + "/release", `{"reason": "` + strings.Repeat("r", 501) + `"}`, "", 400, mes.EINVALID, "reason"},
		{"transition wrong content type", "POST", batches + "/" + planned.ID + "/release", `{"reason": "ok"}`, "text/plain", 415, CodeUnsupportedMediaType, ""},
		{"transition unknown batch", "POST", batches + "/B999999/hold", "", "", 404, mes.ENOTFOUND, ""},
		{"unknown action", "POST", batches + "/" + planned.ID + "/explode", "", "", 404, mes.ENOTFOUND, ""},

		// Queries.
		{"unknown state filter", "GET", batches + "?state=paused", "", "", 400, mes.EINVALID, "paused"},
		{"unknown query parameter", "GET", batches + "?stat=held", "", "", 400, mes.EINVALID, `"stat"`},
		{"kpi bad from", "GET", "/api/v1/kpi?from=yesterday", "", "", 400, mes.EINVALID, "from"},
		{"kpi to before from", "GET", "/api/v1/kpi?from=2026-03-02T08:00:00Z&to=2026-03-02T06:00:00Z", "", "", 400, mes.EINVALID, "before"},
		{"kpi range too long", "GET", "/api/v1/kpi?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "", "", 400, mes.EINVALID, "range"},
		{"kpi unknown machine", "GET", "/api/v1/kpi?machine=G99", "", "", 400, mes.EINVALID, "G99"},
		{"kpi bad machine id", "GET", "/api/v1/kpi?machine=..%2F", "", "", 400, mes.EINVALID, "machine"},
		{"kpi unknown group", "GET", "/api/v1/kpi?group=LASER", "", "", 400, mes.EINVALID, "LASER"},
		{"kpi unknown shift", "GET", "/api/v1/kpi?shift=D", "", "", 400, mes.EINVALID, "shift"},
		{"kpi bad last_n", "GET", "/api/v1/kpi?last_n=-1", "", "", 400, mes.EINVALID, "last_n"},
		{"events limit too large", "GET", "/api/v1/events?limit=1000000", "", "", 400, mes.EINVALID, "limit"},
		{"events limit zero", "GET", "/api/v1/events?limit=0", "", "", 400, mes.EINVALID, "limit"},
		{"events limit not a number", "GET", "/api/v1/events?limit=ten", "", "", 400, mes.EINVALID, "limit"},
		{"events unknown kind", "GET", "/api/v1/events?kind=gossip", "", "", 400, mes.EINVALID, "gossip"},
		{"events unknown machine", "GET", "/api/v1/events?machine=X1", "", "", 400, mes.EINVALID, "X1"},
		{"events range too long", "GET", "/api/v1/events?from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "", "", 400, mes.EINVALID, "range"},

		// Routing.
		{"unknown api route", "GET", "/api/v1/widgets", "", "", 404, mes.ENOTFOUND, "no such API route"},
		{"wrong method", "DELETE", batches, "", "", 405, CodeMethodNotAllowed, ""},
		{"wrong method on batch", "PUT", batches + "/" + planned.ID, `{"quantity": 5}`, "", 405, CodeMethodNotAllowed, ""},
		{"wrong method on action", "GET", batches + "/" + planned.ID + "/release", "", "", 405, CodeMethodNotAllowed, ""},
	}

	before := dump(t, be)
	require.Contains(t, before, bur.Serial)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			ct := tt.contentType
			if ct == "" && tt.body != "" {
				ct = "application/json"
			}
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			asAdmin(t, s, req)
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			assertJSONError(t, rec, tt.status, tt.code, tt.want)
			assert.Equal(t, before, dump(t, be), "stored data changed")
		})
	}
}

// TestMalformedRequests_NoContentLength sends an oversize body without a
// Content-Length, so only the reading limit can stop it.
func TestMalformedRequests_NoContentLength(t *testing.T) {
	line := MustLine(t)
	be := openBackend(t, line)
	s, _ := newTestServer(t, line, be)
	seedProduct(t, s)
	s.MaxBodyBytes = 1 << 10
	before := dump(t, be)

	body := `{"product": "500314001001014", "quantity": 3, "org": "` + strings.Repeat("x", 4<<10) + `"}`
	req := httptest.NewRequest(http.MethodPost, "/api/v1/batches", struct{ *strings.Reader }{strings.NewReader(body)})
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	asAdmin(t, s, req)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	assertJSONError(t, rec, http.StatusRequestEntityTooLarge, CodeTooLarge, "limit of 1024 bytes")
	assert.Equal(t, before, dump(t, be))
}

// TestErrorHandler checks the one mapping from errors to status and body.
func TestErrorHandler(t *testing.T) {
	line := MustLine(t)
	s, logs := newTestServer(t, line, backendOf(newMemStore(line)))
	s.Handler() // build the routes to add test routes to
	tests := []struct {
		err     error
		status  int
		code    string
		message string
		logged  bool
	}{
		{mes.Errorf(mes.EINVALID, "quantity: want 1..100000"), 400, mes.EINVALID, "quantity: want 1..100000", false},
		{mes.Errorf(mes.ENOTFOUND, "no batch B1"), 404, mes.ENOTFOUND, "no batch B1", false},
		{mes.Errorf(mes.ECONFLICT, "batch B1 is held"), 409, mes.ECONFLICT, "batch B1 is held", false},
		{mes.Errorf(mes.EUNAUTHORIZED, "log in first"), 401, mes.EUNAUTHORIZED, "log in first", false},
		{mes.Errorf(mes.EFORBIDDEN, "not your organisation"), 403, mes.EFORBIDDEN, "not your organisation", false},
		{mes.Errorf(mes.EINTERNAL, "bucket missing"), 500, mes.EINTERNAL, "bucket missing", true},
		{fmt.Errorf("find batch: %w", mes.Errorf(mes.ENOTFOUND, "no batch B2")), 404, mes.ENOTFOUND, "no batch B2", false},
		{errors.New("bolt: page 7 corrupt at /var/lib/pilotline"), 500, mes.EINTERNAL, "internal error", true},
		{echo.ErrUnauthorized, 401, mes.EUNAUTHORIZED, "Unauthorized", false},
		{echo.NewHTTPError(http.StatusTeapot, "short and stout"), 418, mes.EINVALID, "short and stout", false},
		{echo.NewHTTPError(http.StatusBadGateway), 502, mes.EINTERNAL, "Bad Gateway", true},
	}
	for i, tt := range tests {
		path := fmt.Sprintf("/test/err/%d", i)
		s.echo.GET(path, func(echo.Context) error { return tt.err })
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			before := len(logs.String())
			rec := do(t, s, http.MethodGet, path, "")
			assertJSONError(t, rec, tt.status, tt.code, tt.message)
			assert.Equal(t, tt.message, decode[ErrorBody](t, rec).Error.Message)
			newLogs := logs.String()[before:]
			assert.Equal(t, tt.logged, strings.Contains(newLogs, "internal error"), "logs: %s", newLogs)
		})
	}
	assert.NotContains(t, decode[ErrorBody](t, do(t, s, http.MethodGet, "/test/err/7", "")).Error.Message, "corrupt", "internals stay in the log")

	t.Run("panic", func(t *testing.T) {
		s.echo.GET("/test/panic", func(echo.Context) error { panic("nil map in handler") })
		rec := do(t, s, http.MethodGet, "/test/panic", "")
		assertJSONError(t, rec, http.StatusInternalServerError, mes.EINTERNAL, "internal error")
		assert.Contains(t, logs.String(), "nil map in handler")
	})
	t.Run("HEAD has no body", func(t *testing.T) {
		s.echo.HEAD("/test/head", func(echo.Context) error { return mes.Errorf(mes.ENOTFOUND, "no batch B404") })
		rec := do(t, s, http.MethodHead, "/test/head", "")
		assert.Equal(t, http.StatusNotFound, rec.Code)
		assert.Empty(t, rec.Body.Bytes())
	})
	t.Run("echo 404 outside the API", func(t *testing.T) {
		rec := do(t, s, http.MethodGet, "/nope", "")
		if rec.Code == http.StatusNotFound {
			assertJSONError(t, rec, http.StatusNotFound, mes.ENOTFOUND, "")
		}
	})
	t.Run("request log", func(t *testing.T) {
		do(t, s, http.MethodGet, "/api/v1/batches?state=paused", "")
		assert.Contains(t, logs.String(), "status=400")
		assert.Contains(t, logs.String(), `route=/api/v1/batches`)
	})
}

func TestSecurityHeaders(t *testing.T) {
	line := MustLine(t)
	s, _ := newTestServer(t, line, backendOf(newMemStore(line)))
	for _, target := range []string{"/api/v1/products", "/api/v1/nowhere", "/healthz"} {
		rec := do(t, s, http.MethodGet, target, "")
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), target)
		assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"), target)
		assert.Equal(t, ContentSecurityPolicy, rec.Header().Get("Content-Security-Policy"), target)
		assert.Contains(t, ContentSecurityPolicy, "default-src 'self'")
		assert.Contains(t, ContentSecurityPolicy, "frame-ancestors 'none'")
	}
}

// TestServerListens checks Open binds a free port on 127.0.0.1 and serves.
func TestServerListens(t *testing.T) {
	line := MustLine(t)
	s := &Server{Addr: "127.0.0.1:0", Line: line, Products: newMemStore(line)}
	require.NoError(t, s.Open())
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	require.True(t, strings.HasPrefix(s.URL(), "http://127.0.0.1:"))
	resp, err := http.Get(s.URL() + "healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
