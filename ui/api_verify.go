package ui

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes/quality"
)

// handleVerify is GET /api/v1/verify: the server checks its own store as
// `pilotline verify --data` does (which cannot while the server holds the
// store's lock) and streams the report as JSON (mes.StoreReport). 200 with
// problems listed means records were altered; the status only says the
// check ran.
func (s *Server) handleVerify(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	q, err := s.qa()
	if err != nil {
		return err
	}
	sigs, ok := q.Signatures.(quality.SignatureWalker)
	if !ok || s.Audit == nil {
		return unavailable("verification")
	}
	rep, err := quality.VerifyStore(c.Request().Context(), s.traceSource(q), sigs)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(http.StatusOK)
	return json.NewEncoder(c.Response()).Encode(rep)
}
