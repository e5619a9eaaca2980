package ui

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// healthTimeout bounds the store probe and the Health callback, so a wedged
// component makes /healthz answer "down" instead of hanging the checker.
const healthTimeout = 2 * time.Second

// Health statuses in GET /healthz.
const (
	HealthOK       = "ok"
	HealthDegraded = "degraded" // the server and store work; another component does not
	HealthDown     = "down"     // the store does not answer: 503
)

// probeISO is a well-formed ISO number that no product has; looking it up
// costs one read transaction and proves the store answers.
const probeISO = "000000000000000"

// handleHealth reports the server, the store and whatever Health adds
// (acquisition). 200 while the store answers, 503 when it does not.
func (s *Server) handleHealth(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), healthTimeout)
	defer cancel()
	report := map[string]any{
		"status":    HealthOK,
		"time":      s.WallClock.Now().UTC(),
		"line_time": s.LineClock.Now().UTC(),
		"uptime_s":  int64(s.WallClock.Since(s.started).Seconds()),
	}
	status := http.StatusOK
	store := map[string]any{"status": HealthOK}
	switch {
	case s.Products == nil:
		store["status"] = HealthDown
		store["message"] = "no store configured"
	default:
		if _, err := s.Products.FindProduct(ctx, probeISO); err != nil && mes.ErrorCode(err) != mes.ENOTFOUND {
			store["status"] = HealthDown
			store["message"] = mes.ErrorMessage(err)
			s.Logger.Error("health: store probe failed", "err", err)
		}
	}
	if store["status"] != HealthOK {
		report["status"] = HealthDown
		status = http.StatusServiceUnavailable
	}
	report["store"] = store
	report["acquisition"] = map[string]any{"status": "unknown"}
	if s.Health != nil {
		for k, v := range s.Health(ctx) {
			if k == "status" || k == "store" || k == "time" || k == "uptime_s" {
				continue // the server's own findings are not overridden
			}
			report[k] = v
			if m, ok := v.(map[string]any); ok && m["status"] != HealthOK && report["status"] == HealthOK {
				report["status"] = HealthDegraded
			}
		}
	}
	return c.JSON(status, report)
}
