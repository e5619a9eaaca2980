package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/kpi"
)

// runningStates are the batch states GET /api/v1/line shows: the batches
// the line is working on or may start on.
var runningStates = []mes.BatchState{mes.BatchReleased, mes.BatchRunning, mes.BatchHeld}

// lineTaktTTL is how long GET /api/v1/line reuses a computed takt: the line
// view may be polled by many screens, and takt moves once per bur (minutes).
const lineTaktTTL = 5 * time.Second

// LineTakt is the line's takt as GET /api/v1/line shows it: the KPI
// report's takt over the last DefaultKPISpan, or the configured target
// alone (with the reason) when the KPIs cannot be computed.
type LineTakt struct {
	kpi.TaktReport
	Error string `json:"error,omitempty"`
}

// handleLine answers the twin's snapshot (every grinder, robot and station
// under their own top-level arrays) with the takt and the running batches
// added at the top level.
func (s *Server) handleLine(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	out, err := s.lineSnapshot()
	if err != nil {
		return err
	}
	if s.Batches != nil {
		bs, err := s.Batches.ListBatches(ctx, mes.BatchFilter{States: runningStates})
		if err != nil {
			return err
		}
		anonymous := mes.UserFromContext(ctx) == nil
		views := make([]batchView, 0, len(bs))
		for _, b := range bs {
			if anonymous {
				b = anonymousBatch(b)
			}
			views = append(views, viewBatch(b))
		}
		if out["batches"], err = json.Marshal(views); err != nil {
			return fmt.Errorf("encode batches: %w", err)
		}
	}
	if mes.UserFromContext(ctx) == nil {
		if out["production"], err = withoutOrgs(out["production"]); err != nil {
			return err
		}
	}
	if out["takt"], err = json.Marshal(s.takt(ctx)); err != nil {
		return fmt.Errorf("encode takt: %w", err)
	}
	return c.JSON(http.StatusOK, out)
}

// takt reports the configured target and, when the KPIs can be computed,
// the measured takt; a KPI failure leaves the line view intact.
func (s *Server) takt(ctx context.Context) LineTakt {
	s.taktMu.Lock()
	defer s.taktMu.Unlock()
	now := s.LineClock.Now()
	if !s.taktAt.IsZero() && now.Sub(s.taktAt) < lineTaktTTL && now.After(s.taktAt) {
		return s.taktLast
	}
	var t LineTakt
	if s.Line != nil {
		t.TargetS, t.TargetSource = s.Line.TaktS, kpi.TaktFromConfig
	}
	rep, err := s.KPI(ctx, kpi.Query{From: now.Add(-DefaultKPISpan), To: now})
	switch {
	case err != nil:
		t.Error = mes.ErrorMessage(err)
		if mes.ErrorCode(err) == mes.EINTERNAL {
			s.Logger.Error("line: takt", "err", err)
		}
	case rep != nil:
		t.TaktReport = rep.Takt
	}
	s.taktLast, s.taktAt = t, now
	return t
}

// lineSnapshot returns the top-level members of the twin's snapshot, or
// of the configured line with every machine offline when no twin is wired.
func (s *Server) lineSnapshot() (map[string]json.RawMessage, error) {
	if s.Twin == nil {
		return s.configSnapshot()
	}
	b, err := json.Marshal(s.Twin.Snapshot())
	if err != nil {
		return nil, fmt.Errorf("encode line snapshot: %w", err)
	}
	out := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode line snapshot: %w", err)
	}
	return out, nil
}

// configSnapshot is the line as configured, every machine offline: what the
// line view shows when no twin is wired.
func (s *Server) configSnapshot() (map[string]json.RawMessage, error) {
	type machine struct {
		ID    string           `json:"id"`
		Kind  string           `json:"kind"`
		Group string           `json:"group"`
		Row   int              `json:"row"`
		Col   int              `json:"col"`
		State mes.MachineState `json:"state"`
	}
	grinders := []machine{}
	var stations []machine
	var robots []machine
	if s.Line != nil {
		for _, m := range s.Line.Machines {
			v := machine{ID: m.ID, Kind: m.Kind, Group: m.Group, Row: m.Row, Col: m.Col, State: mes.StateOffline}
			if m.Kind == mes.KindGrinder {
				grinders = append(grinders, v)
			} else {
				stations = append(stations, v)
			}
		}
		for _, r := range s.Line.Robots {
			robots = append(robots, machine{ID: r.ID, Kind: "robot", Row: r.Row, State: mes.StateOffline})
		}
		for _, st := range s.Line.Stations {
			stations = append(stations, machine{ID: st.ID, Kind: st.Kind, State: mes.StateOffline})
		}
	}
	out := map[string]json.RawMessage{}
	for k, v := range map[string]any{"grinders": grinders, "robots": robots, "stations": stations} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}

// withoutOrgs drops the customer of every batch in the twin's production
// figures, for the anonymous line view.
func withoutOrgs(production json.RawMessage) (json.RawMessage, error) {
	if len(production) == 0 {
		return production, nil
	}
	var p map[string]json.RawMessage
	if err := json.Unmarshal(production, &p); err != nil {
		return nil, fmt.Errorf("decode production: %w", err)
	}
	var batches []map[string]json.RawMessage
	if len(p["batches"]) > 0 {
		if err := json.Unmarshal(p["batches"], &batches); err != nil {
			return nil, fmt.Errorf("decode production batches: %w", err)
		}
	}
	for _, b := range batches {
		delete(b, "org")
	}
	var err error
	if p["batches"], err = json.Marshal(batches); err != nil {
		return nil, fmt.Errorf("encode production batches: %w", err)
	}
	return json.Marshal(p)
}
