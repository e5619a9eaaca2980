package ui

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"

	"github.com/pilotline/pilotline/mes"
)

// TestAPINotFound_WithSPAFallback checks that a web front end serving every
// other path (an SPA fallback on /*) does not swallow API typos: they stay
// JSON 404s and wrong methods stay 405s.
func TestAPINotFound_WithSPAFallback(t *testing.T) {
	line := MustLine(t)
	s, _ := newTestServer(t, line, backendOf(newMemStore(line)))
	s.Handler() // build the routes to add to
	s.echo.GET("/*", func(c echo.Context) error { return c.HTML(http.StatusOK, "<!doctype html><title>Pilotline</title>") })

	rec := do(t, s, http.MethodGet, "/api/v1/widgets", "")
	assertJSONError(t, rec, http.StatusNotFound, mes.ENOTFOUND, "no such API route")
	rec = do(t, s, http.MethodGet, "/api/v1/batches/B1/explode", "")
	assertJSONError(t, rec, http.StatusNotFound, mes.ENOTFOUND, "no such API route")
	rec = do(t, s, http.MethodDelete, "/api/v1/batches", "")
	assertJSONError(t, rec, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "")
	assert.Equal(t, "GET, POST", rec.Header().Get("Allow"))

	rec = do(t, s, http.MethodGet, "/floor/plan", "")
	assert.Equal(t, http.StatusOK, rec.Code, "the front end still gets its own paths")
}
