package ui

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// Batch limits.
const (
	minQuantity = 1
	maxQuantity = 100000
)

// allBatchStates lists every batch state, for validating ?state=.
var allBatchStates = []mes.BatchState{
	mes.BatchPlanned, mes.BatchReleased, mes.BatchRunning, mes.BatchHeld,
	mes.BatchCompleted, mes.BatchQAReleased, mes.BatchRejected, mes.BatchCancelled,
}

// batchActions maps POST /api/v1/batches/{id}/{action} to the state it asks
// for. resume has no fixed target: see resumeTarget.
var batchActions = map[string]mes.BatchState{
	"release":    mes.BatchReleased,
	"hold":       mes.BatchHeld,
	"resume":     "",
	"cancel":     mes.BatchCancelled,
	"qa-release": mes.BatchQAReleased,
	"reject":     mes.BatchRejected,
}

// BatchRequest is the body of POST /api/v1/batches.
type BatchRequest struct {
	Product      string `json:"product"`  // ISO 6360 number of an existing product
	Quantity     int    `json:"quantity"` // 1..100000
	GoodRequired bool   `json:"good_required"`
	Org          string `json:"org"`
	BlankLot     string `json:"blank_lot"`
	PlannedStart string `json:"planned_start"` // RFC 3339, optional
	PlannedEnd   string `json:"planned_end"`   // RFC 3339, optional, after planned_start
	// State is "planned" (default) or "released" to release at once.
	State mes.BatchState `json:"state"`
}

// TransitionRequest is the optional body of POST /api/v1/batches/{id}/{action}.
type TransitionRequest struct {
	Reason string `json:"reason"`
	By     string `json:"by"` // who asks; "api" when empty
}

// Progress summarises how far a batch has come.
type Progress struct {
	Quantity  int     `json:"quantity"`
	Started   int     `json:"started"`
	Completed int     `json:"completed"`
	Scrap     int     `json:"scrap"`
	Rework    int     `json:"rework"`
	InProcess int     `json:"in_process"`
	Remaining int     `json:"remaining"` // good burs still to make
	Percent   float64 `json:"percent"`   // completed / quantity × 100
}

// batchView is a batch as the API shows it: the stored batch plus progress.
type batchView struct {
	*mes.Batch
	Progress Progress `json:"progress"`
}

// batchList is the body of GET /api/v1/batches.
type batchList struct {
	Batches []batchView `json:"batches"`
}

func progressOf(b *mes.Batch) Progress {
	p := Progress{
		Quantity: b.Quantity, Started: b.Started, Completed: b.Completed, Scrap: b.Scrap, Rework: b.Rework,
		InProcess: max(0, b.Started-b.Completed-b.Scrap-b.Rework),
		Remaining: max(0, b.Quantity-b.Completed),
	}
	if b.Quantity > 0 {
		p.Percent = min(100, float64(b.Completed)*100/float64(b.Quantity))
	}
	return p
}

func viewBatch(b *mes.Batch) batchView {
	if b.Transitions == nil {
		b.Transitions = []mes.Transition{}
	}
	return batchView{Batch: b, Progress: progressOf(b)}
}

// parseStates parses ?state=running,held (repeatable).
func parseStates(c echo.Context) ([]mes.BatchState, error) {
	var states []mes.BatchState
	for _, v := range c.QueryParams()["state"] {
		for _, st := range strings.Split(v, ",") {
			st = strings.TrimSpace(st)
			if !slices.Contains(allBatchStates, mes.BatchState(st)) {
				names := make([]string, len(allBatchStates))
				for i, s := range allBatchStates {
					names[i] = string(s)
				}
				return nil, invalid("state: unknown batch state %q (want %s)", truncate(st, 40), strings.Join(names, ", "))
			}
			if !slices.Contains(states, mes.BatchState(st)) {
				states = append(states, mes.BatchState(st))
			}
		}
	}
	return states, nil
}

func (s *Server) handleListBatches(c echo.Context) error {
	if err := checkQuery(c, "state", "org"); err != nil {
		return err
	}
	states, err := parseStates(c)
	if err != nil {
		return err
	}
	org := c.QueryParam("org")
	if err := validText("org", org, false); err != nil {
		return err
	}
	if s.Batches == nil {
		return unavailable("batches")
	}
	bs, err := s.Batches.ListBatches(c.Request().Context(), mes.BatchFilter{Org: org, States: states})
	if err != nil {
		return err
	}
	out := batchList{Batches: make([]batchView, 0, len(bs))}
	for _, b := range bs {
		out.Batches = append(out.Batches, viewBatch(b))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) handleGetBatch(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if s.Batches == nil {
		return unavailable("batches")
	}
	b, err := s.Batches.FindBatch(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewBatch(b))
}

func (s *Server) handleCreateBatch(c echo.Context) error {
	if s.Batches == nil || s.Products == nil {
		return unavailable("batches")
	}
	var req BatchRequest
	if err := s.decodeJSON(c, &req, false); err != nil {
		return err
	}
	b, err := s.batchFromRequest(c, req)
	if err != nil {
		return err
	}
	if err := s.Batches.CreateBatch(c.Request().Context(), b); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/batches/"+b.ID)
	return c.JSON(http.StatusCreated, viewBatch(b))
}

// batchFromRequest validates req completely (including that its product
// exists) and builds the batch to create.
func (s *Server) batchFromRequest(c echo.Context, req BatchRequest) (*mes.Batch, error) {
	if req.Product == "" {
		return nil, invalid("product: required (an ISO 6360 number)")
	}
	if err := validISO(req.Product); err != nil {
		return nil, invalid("product: %s", strings.TrimPrefix(mes.ErrorMessage(err), "iso: "))
	}
	if req.Quantity < minQuantity || req.Quantity > maxQuantity {
		return nil, invalid("quantity: want %d..%d, got %d", minQuantity, maxQuantity, req.Quantity)
	}
	if err := validText("org", req.Org, false); err != nil {
		return nil, err
	}
	if req.BlankLot != "" {
		if err := validID("blank_lot", req.BlankLot); err != nil {
			return nil, err
		}
	}
	var start, end time.Time
	var err error
	if req.PlannedStart != "" {
		if start, err = time.Parse(time.RFC3339Nano, req.PlannedStart); err != nil {
			return nil, invalid("planned_start: want an RFC 3339 time, got %q", truncate(req.PlannedStart, 40))
		}
	}
	if req.PlannedEnd != "" {
		if end, err = time.Parse(time.RFC3339Nano, req.PlannedEnd); err != nil {
			return nil, invalid("planned_end: want an RFC 3339 time, got %q", truncate(req.PlannedEnd, 40))
		}
		if !start.IsZero() && !end.After(start) {
			return nil, invalid("planned_end: must be after planned_start")
		}
	}
	switch req.State {
	case "":
		req.State = mes.BatchPlanned
	case mes.BatchPlanned, mes.BatchReleased:
	default:
		return nil, invalid("state: a new batch is %q or %q, got %q", mes.BatchPlanned, mes.BatchReleased, truncate(string(req.State), 40))
	}
	if _, err := s.Products.FindProduct(c.Request().Context(), req.Product); mes.ErrorCode(err) == mes.ENOTFOUND {
		return nil, invalid("product: no product %q", req.Product)
	} else if err != nil {
		return nil, err
	}
	return &mes.Batch{
		Product: req.Product, Quantity: req.Quantity, GoodRequired: req.GoodRequired,
		Org: req.Org, BlankLot: req.BlankLot, PlannedStart: start, PlannedEnd: end, State: req.State,
	}, nil
}

// handleBatchAction moves a batch through its state machine. A transition
// the state machine forbids is the store's ECONFLICT: 409.
func (s *Server) handleBatchAction(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		if err := checkQuery(c); err != nil {
			return err
		}
		var req TransitionRequest
		if err := s.decodeJSON(c, &req, true); err != nil {
			return err
		}
		if err := validText("reason", req.Reason, false); err != nil {
			return err
		}
		if req.By == "" {
			req.By = "api"
		} else if err := validText("by", req.By, false); err != nil {
			return err
		}
		if s.Batches == nil {
			return unavailable("batches")
		}
		ctx := c.Request().Context()
		to := batchActions[action]
		if action == "resume" {
			b, err := s.Batches.FindBatch(ctx, id)
			if err != nil {
				return err
			}
			if to, err = resumeTarget(b); err != nil {
				return err
			}
		}
		b, err := s.Batches.TransitionBatch(ctx, id, to, req.By, req.Reason, s.Now().UTC())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, viewBatch(b))
	}
}

// resumeTarget is the state a held batch returns to: the one it was held
// from. The store re-checks the transition, so a concurrent change still ends
// in ECONFLICT rather than in a wrong state.
func resumeTarget(b *mes.Batch) (mes.BatchState, error) {
	to := b.ResumeState()
	if to == "" {
		return "", mes.Errorf(mes.ECONFLICT, "batch %s is %s, not held: nothing to resume", b.ID, b.State)
	}
	return to, nil
}
