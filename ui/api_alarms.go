package ui

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/twin"
)

// AuditObjectAlarm is the audit object type of an alarm acknowledgement;
// its id is "MACHINE/SEQ".
const AuditObjectAlarm = "alarm"

// ackRequest is the body of POST /api/v1/alarms/ack.
type ackRequest struct {
	Machine string `json:"machine"`
	Seq     uint64 `json:"seq"`
}

// ackAnswer is the answer: the alarm and its acknowledgement (the first
// one, when someone acknowledged it already).
type ackAnswer struct {
	Machine string        `json:"machine"`
	Alarm   mes.Alarm     `json:"alarm"`
	Ack     twin.AlarmAck `json:"ack"`
	Already bool          `json:"already"` // acknowledged before this request
}

// mountAlarms mounts alarm acknowledgement: staff who see the line
// acknowledge an active alarm once, for every viewer, in the audit trail.
func (s *Server) mountAlarms(g *echo.Group) {
	g.POST("/alarms/ack", s.handleAckAlarm, s.allow(mes.RoleEngineer, mes.RoleQA, mes.RoleAdmin))
}

func (s *Server) handleAckAlarm(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	var req ackRequest
	if err := s.decodeJSON(c, &req, false); err != nil {
		return err
	}
	if err := validID("machine", req.Machine); err != nil {
		return err
	}
	if req.Seq == 0 {
		return invalid("seq: required")
	}
	if s.Twin == nil {
		return unavailable("alarms")
	}
	u := mes.UserFromContext(c.Request().Context())
	alarm, ack, ok := s.Twin.FindAlarm(req.Machine, req.Seq)
	if !ok {
		return mes.Errorf(mes.ENOTFOUND, "alarm %s/%d: not active", req.Machine, req.Seq)
	}
	if ack != nil {
		return c.JSON(http.StatusOK, ackAnswer{Machine: req.Machine, Alarm: alarm, Ack: *ack, Already: true})
	}
	a := twin.AlarmAck{Seq: req.Seq, By: u.ID, Name: u.Name, At: s.LineClock.Now().UTC().Truncate(time.Millisecond)}
	if a.Name == "" {
		a.Name = u.ID
	}
	var batch string
	for _, g := range s.Twin.Snapshot().Grinders {
		if g.ID == req.Machine {
			batch = g.Batch
		}
	}
	if err := s.audit(c, mes.AuditEntry{Actor: u.ID, Action: mes.AuditCreate, ObjectType: AuditObjectAlarm,
		ObjectID: fmt.Sprintf("%s/%d", req.Machine, req.Seq), Batch: batch,
		New: auditJSON(struct {
			Machine string    `json:"machine"`
			Alarm   mes.Alarm `json:"alarm"`
			AckedAt time.Time `json:"acknowledged_at"`
		}{req.Machine, alarm, a.At})}); err != nil {
		return err
	}
	s.Twin.Acknowledge(req.Machine, a)
	return c.JSON(http.StatusOK, ackAnswer{Machine: req.Machine, Alarm: alarm, Ack: a})
}
