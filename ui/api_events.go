package ui

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// Event query bounds.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 5000
	defaultEventSpan  = time.Hour
	maxEventSpan      = 31 * 24 * time.Hour
)

// allEventKinds lists every event kind, for validating ?kind=.
var allEventKinds = []mes.EventKind{
	mes.EventState, mes.EventCounter, mes.EventCycle, mes.EventAlarmRaised, mes.EventAlarmCleared,
	mes.EventMeasurement, mes.EventSample, mes.EventCommLost, mes.EventCommRestored, mes.EventRobot, mes.EventStation,
}

// eventPage is the body of GET /api/v1/events. When More is true, asking
// again with from=Next continues; events at exactly Next may repeat.
type eventPage struct {
	From   time.Time          `json:"from"`
	To     time.Time          `json:"to"`
	Events []mes.MachineEvent `json:"events"`
	More   bool               `json:"more"`
	Next   *time.Time         `json:"next,omitempty"`
}

func (s *Server) handleEvents(c echo.Context) error {
	if err := checkQuery(c, "machine", "kind", "from", "to", "limit"); err != nil {
		return err
	}
	machine, err := s.machineParam(c)
	if err != nil {
		return err
	}
	var kinds []mes.EventKind
	for _, v := range c.QueryParams()["kind"] {
		for _, k := range strings.Split(v, ",") {
			k = strings.TrimSpace(k)
			if !slices.Contains(allEventKinds, mes.EventKind(k)) {
				return invalid("kind: unknown event kind %q (want %s)", truncate(k, 40), kindNames())
			}
			kinds = append(kinds, mes.EventKind(k))
		}
	}
	from, to, err := s.queryRange(c, defaultEventSpan, maxEventSpan)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", DefaultEventLimit, 1, MaxEventLimit)
	if err != nil {
		return err
	}
	if s.Events == nil {
		return unavailable("events")
	}
	page := eventPage{From: from, To: to, Events: []mes.MachineEvent{}}
	for e, err := range s.Events.Events(c.Request().Context(), mes.EventFilter{Machine: machine, Kinds: kinds, From: from, To: to}) {
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		if len(page.Events) == limit {
			page.More = true
			next := e.SourceTime
			page.Next = &next
			break
		}
		page.Events = append(page.Events, e)
	}
	return c.JSON(http.StatusOK, page)
}

func kindNames() string {
	names := make([]string, len(allEventKinds))
	for i, k := range allEventKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
