package ui

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/capability"
	"github.com/pilotline/pilotline/mes/quality"
	"github.com/pilotline/pilotline/mes/report"
)

// QA are the quality services behind release with e-signatures,
// nonconformances, SPC and trace exports. Give them to a server with
// SetQA before it builds its routes; without them those endpoints answer 503.
type QA struct {
	NCs        mes.NCService
	Signatures mes.SignatureService
	Signer     mes.BatchSigner
	Burs       mes.BatchBurser
	// Location is the plant's time zone for UDI manufacturing dates. Nil: UTC.
	Location *time.Location
}

// SetQA gives the server its quality services (the same as setting Server.QA).
func (s *Server) SetQA(q QA) { s.QA = q }

func (s *Server) qa() (*QA, error) {
	if s.Batches == nil || s.Products == nil {
		return nil, unavailable("quality")
	}
	q := &s.QA
	if q.NCs == nil || q.Signatures == nil || q.Signer == nil || q.Burs == nil {
		return nil, unavailable("quality")
	}
	return q, nil
}

func (s *Server) traceSource(q *QA) mes.TraceSource {
	return mes.TraceSource{Batches: s.Batches, Products: s.Products, Burs: q.Burs, NCs: q.NCs, Signatures: q.Signatures, Audit: s.Audit}
}

// errSignFirst answers the plain qa-release and reject actions: a batch is
// released or rejected only with an electronic signature.
var errSignFirst = mes.Errorf(mes.ECONFLICT, "sign with POST %s/batches/{id}/sign: a release or rejection needs an e-signature (re-enter your password)", APIPrefix)

// mountQA registers the quality endpoints. It runs after mountAPI and takes
// over its qa-release and reject routes, which without a signature would
// release a batch no one signed.
func (s *Server) mountQA(g *echo.Group) {
	qa := s.allow(mes.RoleQA, mes.RoleAdmin)
	g.POST("/batches/:id/qa-release", s.handleSignFirst, qa)
	g.POST("/batches/:id/reject", s.handleSignFirst, qa)
	g.POST("/batches/:id/sign", s.handleSign, qa)
	g.GET("/batches/:id/ncs", s.handleListNCs, s.allow(everyone...))
	g.GET("/batches/:id/review", s.handleReview, s.allow(everyone...))
	g.GET("/batches/:id/trace", s.handleTrace, s.allow(everyone...))
	g.POST("/ncs/:id/disposition", s.handleDisposition, qa)
	g.GET("/spc", s.handleSPC, s.allow(staffRoles...))
	g.GET("/verify", s.handleVerify, qa)
}

func (s *Server) handleSignFirst(c echo.Context) error {
	if _, err := pathID(c, "id"); err != nil {
		return err
	}
	if err := checkQuery(c); err != nil {
		return err
	}
	return errSignFirst
}

// qaBatch returns batch id if u may see its quality record: staff always,
// a customer only its own organisation's batches and only once QA released
// them; anything else answers as a batch that does not exist.
func (s *Server) qaBatch(ctx context.Context, u *mes.User, id string) (*mes.Batch, error) {
	b, err := s.visibleBatch(ctx, u, id)
	if err != nil {
		return nil, err
	}
	if !u.Staff() && b.State != mes.BatchQAReleased {
		return nil, mes.Errorf(mes.ENOTFOUND, "batch %q not found", id)
	}
	return b, nil
}

// SignRequest is the body of POST /api/v1/batches/{id}/sign.
type SignRequest struct {
	User     string               `json:"user"`     // the signer's user id, entered at signing with the password (21 CFR 11.200(a)(1): two components)
	Password string               `json:"password"` // re-entered at signing (21 CFR 11.200)
	Meaning  mes.SignatureMeaning `json:"meaning"`  // released, reviewed or rejected
	Reason   string               `json:"reason"`   // required to reject
}

// SignResponse answers a signing: the signature and the batch after it.
type SignResponse struct {
	Signature *mes.Signature `json:"signature"`
	Batch     batchView      `json:"batch"`
}

func (s *Server) handleSign(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := checkQuery(c); err != nil {
		return err
	}
	var req SignRequest
	if err := s.decodeJSON(c, &req, false); err != nil {
		return err
	}
	switch {
	case !req.Meaning.Valid():
		return invalid("meaning: want released, reviewed or rejected, got %q", truncate(string(req.Meaning), 40))
	case strings.TrimSpace(req.User) == "":
		return invalid("user: required (enter your user id and password to sign)")
	case len(req.User) > maxIDLen:
		return invalid("user: longer than %d characters", maxIDLen)
	case req.Password == "":
		return invalid("password: required (re-enter your password to sign)")
	case len(req.Password) > MaxPasswordLen:
		return invalid("password: longer than %d bytes", MaxPasswordLen)
	case req.Meaning == mes.MeaningRejected && strings.TrimSpace(req.Reason) == "":
		return invalid("reason: required to reject a batch")
	}
	if err := validText("reason", req.Reason, false); err != nil {
		return err
	}
	q, err := s.qa()
	if err != nil {
		return err
	}
	if s.Users == nil {
		return unavailable("sign-in")
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.visibleBatch(ctx, u, id); err != nil {
		return err
	}
	if err := s.reauthenticate(c, u, strings.TrimSpace(req.User), req.Password, id); err != nil {
		return err
	}
	name := strings.TrimSpace(u.Name)
	if name == "" {
		name = u.ID
	}
	sig := &mes.Signature{SignerID: u.ID, PrintedName: name, Meaning: req.Meaning, SignedAt: s.LineClock.Now().UTC(),
		RecordType: mes.RecordTypeBatch, RecordID: id, AuthMethod: mes.AuthPassword, Comment: req.Reason}
	b, err := q.Signer.SignBatch(ctx, sig)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, SignResponse{Signature: sig, Batch: viewBatch(b)})
}

// reauthenticate checks both components of the signature again — the user
// id entered, which must be the signed-in user's, and the password — under
// the sign-in limits of the user and the address, and audits a failure.
func (s *Server) reauthenticate(c echo.Context, u *mes.User, user, password, batch string) error {
	keys := []string{"user:" + u.ID, "ip:" + c.RealIP()}
	ok, retry, first := s.logins.take(s.WallClock.Now(), keys...)
	if !ok {
		if first {
			s.auditSignFailed(c, u, batch, "rate limited")
		}
		return tooManyAttempts(c, retry)
	}
	ctx := c.Request().Context()
	stored, err := s.Users.FindUser(ctx, u.ID)
	if err != nil {
		return err
	}
	match, err := VerifyPassword(ctx, stored.PasswordHash, password)
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case err != nil || !match || stored.Disabled || user != u.ID:
		why := "wrong password"
		if user != u.ID {
			why = "user id not the signed-in user's"
		}
		s.auditSignFailed(c, u, batch, why)
		return mes.Errorf(mes.EUNAUTHORIZED, "user id or password wrong: nothing was signed")
	}
	s.logins.refund(keys...)
	return nil
}

func (s *Server) auditSignFailed(c echo.Context, u *mes.User, batch, why string) {
	_ = s.audit(c, mes.AuditEntry{Actor: u.ID, Action: mes.AuditLoginFailed, ObjectType: mes.AuditObjectUser, ObjectID: u.ID,
		New: auditJSON(map[string]string{"ip": c.RealIP(), "reason": "e-signature: " + why, "batch": batch})})
}

// qaBatchAccess returns the quality services and the signed-in user after
// checking that the user may see batch id (another organisation's batch, or
// a customer's batch not yet released, answers like a missing one).
func (s *Server) qaBatchAccess(c echo.Context, id string) (*QA, *mes.User, error) {
	q, err := s.qa()
	if err != nil {
		return nil, nil, err
	}
	u, err := signedIn(c)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.qaBatch(c.Request().Context(), u, id); err != nil {
		return nil, nil, err
	}
	return q, u, nil
}

// ncList is the body of GET /api/v1/batches/{id}/ncs.
type ncList struct {
	Batch string                `json:"batch"`
	NCs   []*mes.Nonconformance `json:"ncs"`
}

func (s *Server) handleListNCs(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := checkQuery(c); err != nil {
		return err
	}
	q, _, err := s.qaBatchAccess(c, id)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ncs, err := q.NCs.ListNCs(ctx, id)
	if err != nil {
		return err
	}
	if ncs == nil {
		ncs = []*mes.Nonconformance{}
	}
	return c.JSON(http.StatusOK, ncList{Batch: id, NCs: ncs})
}

// DispositionRequest is the body of POST /api/v1/ncs/{id}/disposition.
type DispositionRequest struct {
	Disposition mes.NCDisposition `json:"disposition"` // scrap, rework or use_as_is
	Reason      string            `json:"reason"`
	Concession  string            `json:"concession"` // required for use_as_is
}

func (s *Server) handleDisposition(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := checkQuery(c); err != nil {
		return err
	}
	var req DispositionRequest
	if err := s.decodeJSON(c, &req, false); err != nil {
		return err
	}
	switch {
	case !req.Disposition.Valid():
		return invalid("disposition: want scrap, rework or use_as_is, got %q", truncate(string(req.Disposition), 40))
	case strings.TrimSpace(req.Reason) == "":
		return invalid("reason: required")
	case req.Disposition == mes.DispositionUseAsIs && strings.TrimSpace(req.Concession) == "":
		return invalid("concession: use_as_is needs a concession reference")
	}
	if err := validText("reason", req.Reason, true); err != nil {
		return err
	}
	if err := validText("concession", req.Concession, false); err != nil {
		return err
	}
	q, err := s.qa()
	if err != nil {
		return err
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	nc, err := q.NCs.CloseNC(c.Request().Context(), id, req.Disposition, req.Reason, req.Concession, u.ID, s.LineClock.Now().UTC())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, nc)
}

func (s *Server) handleReview(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := checkQuery(c); err != nil {
		return err
	}
	q, u, err := s.qaBatchAccess(c, id)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := quality.Review(ctx, s.traceSource(q), s.Events, id, s.LineClock.Now().UTC())
	if err != nil {
		return err
	}
	if !u.Staff() {
		r.Alarms, r.CommLost, r.Machines = []mes.MachineEvent{}, []quality.CommGap{}, nil // the plant's own data
	}
	return c.JSON(http.StatusOK, r)
}

// SPCResponse is the body of GET /api/v1/spc.
type SPCResponse struct {
	Characteristic string `json:"characteristic"`
	Batch          string `json:"batch,omitempty"`
	Machine        string `json:"machine,omitempty"`
	// Operation is the route operation that forms the characteristic: each
	// point is attributed to the grinder that performed it on the bur.
	Operation int `json:"operation,omitempty"`
	// RuleSet names the run rules the chart was checked against, the
	// product's (mes.SPCRuleSets; Nelson's by default).
	RuleSet   string        `json:"rule_set"`
	Tolerance mes.Tolerance `json:"tolerance"` // spec limits, shown apart from the control limits
	// Chart's limits come from the baseline; its points are all of the
	// batch's (or the grinder's), in production order.
	Chart *mes.ControlChart `json:"chart"`
	// Capability is over all points, not the baseline alone.
	Capability mes.ProcessCapability `json:"capability"`
	// Study is the same capability with 95 % confidence intervals, one-sided
	// where the characteristic is bounded (radial runout), as the pilot-run
	// report gives it; nil below three points.
	Study     *capability.Study     `json:"study,omitempty"`
	Normality *capability.Normality `json:"normality,omitempty"`
}

// maxSPCPoints bounds the points of a chart across batches (?machine=
// without ?batch=): the grinder's most recent.
const maxSPCPoints = 10_000

// maxSPCBaseline bounds ?baseline=.
const maxSPCBaseline = 10_000

// handleSPC draws the I-MR chart of one characteristic: of a batch, of one
// grinder's burs in a batch, or (?machine= without ?batch=) of one grinder
// across the batches of the newest first, up to maxSPCPoints. A value is
// attributed to the grinder of the operation that formed the characteristic
// (mes.Product.FormedBy), and points are in production order (measurement time).
func (s *Server) handleSPC(c echo.Context) error {
	if err := checkQuery(c, "characteristic", "batch", "machine", "baseline"); err != nil {
		return err
	}
	ch, batch := c.QueryParam("characteristic"), c.QueryParam("batch")
	if !slices.Contains(mes.Characteristics, ch) {
		return invalid("characteristic: want one of %s, got %q", strings.Join(mes.Characteristics, ", "), truncate(ch, 40))
	}
	machine, err := s.machineParam(c)
	if err != nil {
		return err
	}
	if batch != "" || machine == "" {
		if err := validID("batch", batch); err != nil {
			return err
		}
	}
	baseline, err := queryInt(c, "baseline", quality.DefaultSPCBaseline, 2, maxSPCBaseline)
	if err != nil {
		return err
	}
	q, err := s.qa()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var batches []*mes.Batch
	if batch != "" {
		b, err := s.Batches.FindBatch(ctx, batch)
		if err != nil {
			return err
		}
		batches = []*mes.Batch{b}
	} else if batches, err = s.Batches.ListBatches(ctx, mes.BatchFilter{}); err != nil {
		return err
	}
	var pts []mes.SPCPoint
	var tol mes.Tolerance
	var op mes.Operation
	ruleSet := mes.RuleSetNelson
	found := false
	for _, b := range batches {
		p, err := s.Products.FindProduct(ctx, b.Product)
		if err != nil {
			return err
		}
		t, ok := p.Tolerances[ch]
		if !ok {
			if batch != "" {
				return invalid("characteristic: %s has no tolerance in product %s", ch, p.ISO)
			}
			continue
		}
		if found && t != tol {
			continue // another product's limits: not on the same chart
		}
		var bpts []mes.SPCPoint
		for bur, err := range q.Burs.BatchBurs(ctx, b.ID) {
			if err != nil {
				return err
			}
			for _, pt := range p.CharacteristicPoints([]*mes.Bur{bur}, ch) {
				if machine == "" || pt.Machine == machine {
					bpts = append(bpts, pt)
				}
			}
		}
		if len(bpts) == 0 {
			continue
		}
		tol, found = t, true
		op, _ = p.FormedBy(ch)
		if p.SPCRules != "" {
			ruleSet = p.SPCRules
		}
		pts = append(pts, bpts...)
		if len(pts) >= maxSPCPoints {
			break
		}
	}
	slices.SortStableFunc(pts, func(a, b mes.SPCPoint) int { return a.Time.Compare(b.Time) })
	if len(pts) > maxSPCPoints {
		pts = pts[len(pts)-maxSPCPoints:]
	}
	chart, err := mes.IMRChart(pts, min(baseline, len(pts)))
	if err != nil {
		return mes.Errorf(mes.ECONFLICT, "no control chart yet: %s", mes.ErrorMessage(err))
	}
	chart.Violations = chart.Check(mes.SPCRuleSets[ruleSet]...)
	values := make([]float64, len(pts))
	for i, pt := range pts {
		values[i] = pt.Value
	}
	resp := SPCResponse{Characteristic: ch, Batch: batch, Machine: machine, Operation: op.Number, RuleSet: ruleSet, Tolerance: tol,
		Chart: chart, Capability: mes.Capability(values, tol)}
	spec := capability.TwoSided(tol.Lower, tol.Upper)
	if report.UpperOnly[ch] {
		spec = capability.UpperOnly(tol.Upper)
	}
	if st, err := capability.Process(values, spec, 0); err == nil {
		resp.Study = &st
	}
	if n, err := capability.AndersonDarling(values); err == nil {
		resp.Normality = &n
	}
	return c.JSON(http.StatusOK, resp)
}
