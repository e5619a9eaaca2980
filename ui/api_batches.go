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

// batchActionRoles are the roles each batch action admits: engineers run
// the line, QA holds batches and releases or rejects finished ones.
var batchActionRoles = map[string][]mes.Role{
	"release":    {mes.RoleEngineer, mes.RoleAdmin},
	"hold":       {mes.RoleEngineer, mes.RoleQA, mes.RoleAdmin},
	"resume":     {mes.RoleEngineer, mes.RoleAdmin},
	"cancel":     {mes.RoleEngineer, mes.RoleAdmin},
	"qa-release": {mes.RoleQA, mes.RoleAdmin},
	"reject":     {mes.RoleQA, mes.RoleAdmin},
}

// TransitionRequest is the optional body of POST /api/v1/batches/{id}/{action}.
type TransitionRequest struct {
	Reason string `json:"reason"`
	// By is who asks. The transition is recorded under the signed-in user;
	// By, if given, must name that user.
	By string `json:"by"`
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
	u := mes.UserFromContext(c.Request().Context())
	if u == nil && org != "" {
		// The anonymous view blanks every batch's organisation; filtering
		// by it would tell whose batch is whose all the same.
		return mes.Errorf(mes.EUNAUTHORIZED, "org: sign in to filter batches by organisation")
	}
	if u != nil && !u.Staff() {
		if org != "" && org != u.Org {
			return c.JSON(http.StatusOK, batchList{Batches: []batchView{}}) // another organisation's: none visible
		}
		org = u.Org
	}
	bs, err := s.Batches.ListBatches(c.Request().Context(), mes.BatchFilter{Org: org, States: states})
	if err != nil {
		return err
	}
	out := batchList{Batches: make([]batchView, 0, len(bs))}
	for _, b := range bs {
		if u == nil {
			b = anonymousBatch(b)
		}
		out.Batches = append(out.Batches, viewBatch(b))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) handleGetBatch(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := checkQuery(c); err != nil {
		return err
	}
	if s.Batches == nil {
		return unavailable("batches")
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	b, err := s.visibleBatch(c.Request().Context(), u, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewBatch(b))
}

func (s *Server) handleCreateBatch(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
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
	if req.Org != "" {
		if err := s.existingOrg(c.Request().Context(), "org", req.Org); err != nil {
			return nil, err
		}
	}
	if req.BlankLot != "" {
		if err := validID("blank_lot", req.BlankLot); err != nil {
			return nil, err
		}
	}
	var start, end time.Time
	var err error
	if req.PlannedStart != "" {
		if start, err = parseTime("planned_start", req.PlannedStart); err != nil {
			return nil, err
		}
	}
	if req.PlannedEnd != "" {
		if end, err = parseTime("planned_end", req.PlannedEnd); err != nil {
			return nil, err
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
	if p, err := s.Products.FindProduct(c.Request().Context(), req.Product); mes.ErrorCode(err) == mes.ENOTFOUND {
		return nil, invalid("product: no product %q", req.Product)
	} else if err != nil {
		return nil, err
	} else if !p.VisibleTo(req.Org) {
		return nil, invalid("product: %s is organisation %s's design; a batch of it is made for %s only", p.ISO, p.Org, p.Org)
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
		u, err := signedIn(c)
		if err != nil {
			return err
		}
		if req.By != "" && req.By != u.ID {
			return invalid("by: the transition is recorded under the signed-in user %q, not %q", u.ID, truncate(req.By, maxIDLen))
		}
		if s.Batches == nil {
			return unavailable("batches")
		}
		ctx := c.Request().Context()
		to := batchActions[action]
		if action == "resume" {
			b, err := s.visibleBatch(ctx, u, id)
			if err != nil {
				return err
			}
			if to, err = resumeTarget(b); err != nil {
				return err
			}
		} else if _, err := s.visibleBatch(ctx, u, id); err != nil {
			return err
		}
		b, err := s.Batches.TransitionBatch(ctx, id, to, u.ID, req.Reason, s.LineClock.Now().UTC())
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

// anonymousBatch is a batch as the anonymous line view shows it: without
// the customer it is made for.
func anonymousBatch(b *mes.Batch) *mes.Batch {
	nb := *b
	nb.Org = ""
	return &nb
}
