package mes

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// BatchSigner signs a batch's record of production.
type BatchSigner interface {
	// SignBatch signs batch sig.RecordID: in one transaction it computes
	// the record hash into sig.RecordHash, checks the meaning against the
	// batch (SignatureTarget), stores the signature with its audit entry and
	// moves the batch to the state the meaning calls for. sig carries the
	// signer, printed name, meaning, time, auth method and comment.
	// Errors: ENOTFOUND, ECONFLICT (see SignatureTarget), EINVALID.
	SignBatch(ctx context.Context, sig *Signature) (*Batch, error)
}

// BatchBurser walks a batch's burs without holding them all in memory.
type BatchBurser interface {
	// BatchBurs yields the burs of batch in the order they were started;
	// every range starts again at the first. An unknown batch yields ENOTFOUND.
	BatchBurs(ctx context.Context, batch string) iter.Seq2[*Bur, error]
}

// SignatureTarget is the state a signature with meaning m moves batch b to
// ("" for reviewed, which moves nothing). Released and rejected close the
// batch record, so both need a completed batch (not held, not running)
// without open NCs. Errors: EINVALID (meaning), ECONFLICT (what blocks it).
func SignatureTarget(b *Batch, ncs []Nonconformance, m SignatureMeaning) (BatchState, error) {
	switch m {
	case MeaningReviewed:
		return "", nil
	case MeaningReleased, MeaningRejected:
		if err := CanRelease(b, ncs); err != nil {
			return "", err
		}
		if m == MeaningReleased {
			return BatchQAReleased, nil
		}
		return BatchRejected, nil
	}
	return "", Errorf(EINVALID, "meaning: want released, reviewed or rejected, got %q", m)
}

// TraceSource is where a batch's trace record comes from.
type TraceSource struct {
	Batches    BatchService
	Products   ProductService
	Burs       BatchBurser
	NCs        NCService        // nil: no NCs
	Signatures SignatureService // nil: no signatures
	Audit      AuditService     // nil: no audit entries
}

// TraceRecord assembles the trace record of batch (without its record
// hash: TraceRecord.ComputeRecordHash takes one more pass over the burs)
// and the burs to stream beside it. Errors: ENOTFOUND.
func (src TraceSource) TraceRecord(ctx context.Context, batch string, loc *time.Location, now time.Time) (*TraceRecord, iter.Seq2[*Bur, error], error) {
	b, err := src.Batches.FindBatch(ctx, batch)
	if err != nil {
		return nil, nil, err
	}
	p, err := src.Products.FindProduct(ctx, b.Product)
	if err != nil {
		return nil, nil, fmt.Errorf("batch %s: %w", b.ID, err)
	}
	var ncs []Nonconformance
	if src.NCs != nil {
		list, err := src.NCs.ListNCs(ctx, b.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, nc := range list {
			ncs = append(ncs, *nc)
		}
	}
	var sigs []Signature
	if src.Signatures != nil {
		list, err := src.Signatures.ListSignatures(ctx, RecordTypeBatch, b.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, s := range list {
			sigs = append(sigs, *s)
		}
	}
	var head ChainHead
	var entries iter.Seq2[AuditEntry, error]
	if src.Audit != nil {
		// The head first: every entry read after it is at or before it, or
		// was appended since and is left out, so the record stays consistent
		// however often, and however late, the entries are read.
		if head, err = src.Audit.AuditHead(ctx); err != nil {
			return nil, nil, err
		}
		trail, batchID := src.Audit, b.ID
		entries = func(yield func(AuditEntry, error) bool) {
			for e, err := range trail.AuditEntries(ctx, AuditFilter{Batch: batchID}) {
				if err != nil {
					yield(AuditEntry{}, fmt.Errorf("audit entries of batch %s: %w", batchID, err))
					return
				}
				if e.Seq > head.Seq || !yield(e, nil) {
					return
				}
			}
		}
	}
	rec := NewTraceRecord(b, p, ncs, sigs, nil, head, loc, now)
	rec.AuditEntries = entries
	return rec, src.Burs.BatchBurs(ctx, b.ID), nil
}

// DefaultSPCBaseline is how many of a batch's first measured burs set the
// control limits of its charts.
const DefaultSPCBaseline = 25

// SPCAlert is an SPC rule violation on one characteristic of a batch.
type SPCAlert struct {
	Characteristic string       `json:"characteristic"`
	Machine        string       `json:"machine,omitempty"`
	Violation      SPCViolation `json:"violation"`
}

// String describes the alert, as a hold reason names it.
func (a SPCAlert) String() string {
	return fmt.Sprintf("SPC %s: %s", a.Characteristic, a.Violation)
}

// BatchSPC builds an I-MR chart per toleranced characteristic of the burs
// (in production order) with limits from the first baseline points, and
// returns the charts and their violations as alerts. A characteristic with
// too few points, or no variation in its baseline, has no chart.
func BatchSPC(p *Product, burs []*Bur, baseline int) (map[string]*ControlChart, []SPCAlert) {
	if baseline <= 0 {
		baseline = DefaultSPCBaseline
	}
	charts := map[string]*ControlChart{}
	var alerts []SPCAlert
	for _, ch := range sortedCharacteristics(p) {
		pts := SPCPoints(burs, ch, 0)
		c, err := IMRChart(pts, min(baseline, len(pts)))
		if err != nil {
			continue
		}
		charts[ch] = c
		for _, v := range c.Violations {
			alerts = append(alerts, SPCAlert{Characteristic: ch, Violation: v})
		}
	}
	return charts, alerts
}

func sortedCharacteristics(p *Product) []string {
	out := make([]string, 0, len(p.Tolerances))
	for ch := range p.Tolerances {
		out = append(out, ch)
	}
	slices.Sort(out)
	return out
}

// MissingMeasurement is a bur whose inspection record is incomplete.
type MissingMeasurement struct {
	Serial  string   `json:"serial"`
	Missing []string `json:"missing"` // characteristics, or "inspection" when never measured
}

// MissingMeasurements lists burs that passed (or went to rework) without a
// value for every toleranced characteristic, and burs of a finished batch
// still in process. A bur scrapped before inspection is not listed: its NC
// covers it.
func MissingMeasurements(p *Product, b *Bur, batchDone bool) *MissingMeasurement {
	switch {
	case b.Disposition == BurInProcess && batchDone:
		return &MissingMeasurement{Serial: b.Serial, Missing: []string{"inspection"}}
	case b.Disposition == BurInProcess || b.Disposition == BurScrap && b.Measurement == nil:
		return nil
	case b.Measurement == nil:
		return &MissingMeasurement{Serial: b.Serial, Missing: []string{"inspection"}}
	}
	var miss []string
	for _, ch := range sortedCharacteristics(p) {
		if _, ok := b.Measurement.Values[ch]; !ok {
			miss = append(miss, ch)
		}
	}
	if len(miss) == 0 {
		return nil
	}
	return &MissingMeasurement{Serial: b.Serial, Missing: miss}
}

// CommGap is a span in which acquisition had no data from a machine.
type CommGap struct {
	Machine string    `json:"machine"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to,omitzero"` // zero: not restored by the end of the window
	Reason  string    `json:"reason,omitempty"`
}

// CommGaps pairs comm_lost with the next comm_restored of each machine in
// events (ordered by time).
func CommGaps(events []MachineEvent) []CommGap {
	open := map[string]int{}
	var out []CommGap
	for _, e := range events {
		switch e.Kind {
		case EventCommLost:
			if _, ok := open[e.Machine]; !ok {
				open[e.Machine] = len(out)
				out = append(out, CommGap{Machine: e.Machine, From: e.SourceTime, Reason: e.Reason})
			}
		case EventCommRestored:
			if i, ok := open[e.Machine]; ok {
				out[i].To = e.SourceTime
				delete(open, e.Machine)
			}
		}
	}
	return out
}

// BatchReview is the review-by-exception of a batch: only what QA must look
// at before signing.
type BatchReview struct {
	Batch      *Batch               `json:"batch"`
	RecordHash string               `json:"record_hash"`
	CanRelease bool                 `json:"can_release"`
	Blockers   []string             `json:"blockers"` // why it cannot be released now
	OpenNCs    int                  `json:"open_ncs"`
	NCs        []Nonconformance     `json:"ncs"`
	SPCAlerts  []SPCAlert           `json:"spc_alerts"`
	Capability []CharSummary        `json:"capability"`
	Alarms     []MachineEvent       `json:"alarms"`
	CommLost   []CommGap            `json:"comm_lost"`
	Missing    []MissingMeasurement `json:"missing_measurements"`
	Signatures []Signature          `json:"signatures"`
	Machines   []string             `json:"machines"` // machines that worked on the batch
	From       time.Time            `json:"from,omitzero"`
	To         time.Time            `json:"to,omitzero"`
}

// maxReviewEvents bounds the alarms and comm events a review lists.
const maxReviewEvents = 500

// Review builds the review of batch: its NCs, SPC alerts, capability,
// missing measurements, and the alarms and comm-lost gaps of the machines
// that worked on it during its production (events may be nil).
func (src TraceSource) Review(ctx context.Context, events EventStore, batch string, now time.Time) (*BatchReview, error) {
	rec, burs, err := src.TraceRecord(ctx, batch, nil, now)
	if err != nil {
		return nil, err
	}
	r := &BatchReview{Batch: &rec.Batch, NCs: rec.Nonconformances, Signatures: rec.Signatures,
		Blockers: []string{}, SPCAlerts: []SPCAlert{}, Alarms: []MachineEvent{}, CommLost: []CommGap{}, Missing: []MissingMeasurement{}}
	p := &rec.Product
	done := rec.Batch.State != BatchPlanned && rec.Batch.Done()
	hasher := NewBatchRecordHasher(&rec.Batch, p, rec.Nonconformances)
	summary := NewMeasurementSummary(p)
	machines := map[string]bool{}
	var all []*Bur
	for b, err := range burs {
		if err != nil {
			return nil, err
		}
		hasher.AddBur(b)
		summary.Add(b)
		for _, op := range b.Operations {
			machines[op.Machine] = true
		}
		if m := MissingMeasurements(p, b, done); m != nil {
			r.Missing = append(r.Missing, *m)
		}
		// Only values are kept for the charts, not the genealogy.
		all = append(all, &Bur{Serial: b.Serial, Batch: b.Batch, Measurement: b.Measurement, Operations: lastOp(b.Operations)})
	}
	r.RecordHash = hasher.Sum()
	r.Capability = summary.Result()
	if _, alerts := BatchSPC(p, all, 0); alerts != nil {
		r.SPCAlerts = alerts
	}
	for _, nc := range r.NCs {
		if nc.State != NCClosed {
			r.OpenNCs++
		}
	}
	if _, err := SignatureTarget(&rec.Batch, r.NCs, MeaningReleased); err != nil {
		r.Blockers = append(r.Blockers, ErrorMessage(err))
	}
	if len(r.Missing) > 0 {
		r.Blockers = append(r.Blockers, fmt.Sprintf("%d bur(s) with missing measurements", len(r.Missing)))
	}
	r.CanRelease = len(r.Blockers) == 0
	for m := range machines {
		r.Machines = append(r.Machines, m)
	}
	slices.Sort(r.Machines)
	r.From, r.To = rec.Dates.ProductionStart, rec.Dates.ProductionEnd
	if r.To.IsZero() {
		r.To = now
	}
	if events == nil || r.From.IsZero() {
		return r, nil
	}
	var comm []MachineEvent
	for _, m := range r.Machines {
		for e, err := range events.Events(ctx, EventFilter{Machine: m, From: r.From, To: r.To,
			Kinds: []EventKind{EventAlarmRaised, EventCommLost, EventCommRestored}}) {
			if err != nil {
				return nil, err
			}
			if e.Kind == EventAlarmRaised {
				if len(r.Alarms) < maxReviewEvents {
					r.Alarms = append(r.Alarms, e)
				}
			} else if len(comm) < 2*maxReviewEvents {
				comm = append(comm, e)
			}
		}
	}
	r.CommLost = append(r.CommLost, CommGaps(comm)...)
	return r, nil
}

func lastOp(ops []OperationRecord) []OperationRecord {
	if len(ops) == 0 {
		return nil
	}
	return ops[len(ops)-1:]
}

// SPCMonitor checks each new measurement against its batch's control
// charts: a rule that fires on the newest bur opens an NC (source spc) for
// that bur and, when the product says AutoHold, holds the batch. Charts
// keep only the baseline and the last few points per batch and
// characteristic, so the check costs the same on the 1st bur and the
// 100,000th.
type SPCMonitor struct {
	Batches  BatchService
	Products ProductService
	Burs     BatchBurser
	NCs      NCService
	Log      *slog.Logger
	Baseline int // zero: DefaultSPCBaseline

	mu     sync.Mutex
	series map[string]*spcSeries // batch \x00 characteristic
}

// spcTail is how many recent points a series keeps: enough for every
// default run rule (8 on one side).
const spcTail = 8

type spcSeries struct {
	base, tail []SPCPoint
	seen       map[string]bool
}

// Wrap returns burs with RecordMeasurement followed by Measured.
func (m *SPCMonitor) Wrap(burs BurService) BurService { return &spcBurs{BurService: burs, m: m} }

type spcBurs struct {
	BurService
	m *SPCMonitor
}

func (s *spcBurs) RecordMeasurement(ctx context.Context, meas Measurement) (*Bur, error) {
	b, err := s.BurService.RecordMeasurement(ctx, meas)
	if err == nil && b != nil {
		if _, merr := s.m.Measured(ctx, b); merr != nil {
			s.m.log().Error("spc check", "serial", b.Serial, "err", merr)
		}
	}
	return b, err
}

func (m *SPCMonitor) log() *slog.Logger {
	if m.Log == nil {
		return slog.Default()
	}
	return m.Log
}

// Measured checks bur b's measured values and returns the alerts that fired
// at it (after opening their NCs and holding the batch when asked). A bur
// seen before changes nothing.
func (m *SPCMonitor) Measured(ctx context.Context, b *Bur) ([]SPCAlert, error) {
	if b.Measurement == nil {
		return nil, nil
	}
	p, err := m.Products.FindProduct(ctx, b.Product)
	if err != nil {
		return nil, err
	}
	baseline := m.Baseline
	if baseline <= 0 {
		baseline = DefaultSPCBaseline
	}
	m.mu.Lock()
	var alerts []SPCAlert
	for _, ch := range sortedCharacteristics(p) {
		v, ok := b.Measurement.Values[ch]
		if !ok {
			continue
		}
		s, err := m.seriesLocked(ctx, b.Batch, ch, baseline)
		if err != nil {
			m.mu.Unlock()
			return nil, err
		}
		if s.seen[b.Serial] {
			continue
		}
		pt := SPCPoint{Serial: b.Serial, Time: b.Measurement.Time, Value: v, Batch: b.Batch}
		if n := len(b.Operations); n > 0 {
			pt.Machine = b.Operations[n-1].Machine
		}
		alerts = append(alerts, s.add(pt, baseline, ch)...)
	}
	m.mu.Unlock()
	for _, a := range alerts {
		if err := m.raise(ctx, p, b, a); err != nil {
			return alerts, err
		}
	}
	return alerts, nil
}

// seriesLocked returns the series of (batch, ch), loading the batch's
// baseline and tail from the store at first sight (after a restart).
func (m *SPCMonitor) seriesLocked(ctx context.Context, batch, ch string, baseline int) (*spcSeries, error) {
	key := batch + "\x00" + ch
	if s, ok := m.series[key]; ok {
		return s, nil
	}
	s := &spcSeries{seen: map[string]bool{}}
	if m.Burs != nil {
		for b, err := range m.Burs.BatchBurs(ctx, batch) {
			if err != nil {
				return nil, err
			}
			for _, pt := range SPCPoints([]*Bur{b}, ch, 0) {
				s.push(pt, baseline)
			}
		}
	}
	if m.series == nil {
		m.series = map[string]*spcSeries{}
	}
	m.series[key] = s
	return s, nil
}

func (s *spcSeries) push(pt SPCPoint, baseline int) {
	s.seen[pt.Serial] = true
	if len(s.base) < baseline {
		s.base = append(s.base, pt)
		return
	}
	s.tail = append(s.tail, pt)
	if len(s.tail) > spcTail {
		s.tail = slices.Delete(s.tail, 0, len(s.tail)-spcTail)
	}
}

// add appends pt and returns the violations that fire at it. Points of the
// baseline are not judged: the limits are not known until it is full.
func (s *spcSeries) add(pt SPCPoint, baseline int, ch string) []SPCAlert {
	s.push(pt, baseline)
	if len(s.tail) == 0 {
		return nil
	}
	pts := append(slices.Clone(s.base), s.tail...)
	c, err := IMRChartWindow(pts, 0, len(s.base))
	if err != nil {
		return nil
	}
	last := len(pts) - 1
	var out []SPCAlert
	for _, v := range c.Violations {
		if v.plotIndex(c.Kind) == last {
			out = append(out, SPCAlert{Characteristic: ch, Machine: pt.Machine, Violation: v})
		}
	}
	return out
}

// raise opens the suspect-bur NC of alert a and holds the batch when the
// product asks for it.
func (m *SPCMonitor) raise(ctx context.Context, p *Product, b *Bur, a SPCAlert) error {
	at := b.Measurement.Time
	if at.IsZero() {
		at = time.Now()
	}
	m.log().Warn("spc rule violated", "batch", b.Batch, "serial", b.Serial, "alert", a.String())
	if m.NCs != nil {
		nc := &Nonconformance{Serial: b.Serial, Batch: b.Batch, Characteristic: a.Characteristic, Source: NCSourceSPC,
			Description: a.String(), OpenedAt: at, OpenedBy: "system", State: NCOpen}
		if err := m.NCs.CreateNC(ctx, nc); err != nil {
			return err
		}
	}
	if !p.AutoHold || m.Batches == nil {
		return nil
	}
	batch, err := m.Batches.FindBatch(ctx, b.Batch)
	if err != nil {
		return err
	}
	if !CanTransition(batch.State, BatchHeld) {
		return nil
	}
	reason := "automatic hold: " + a.String()
	if _, err := m.Batches.TransitionBatch(ctx, b.Batch, BatchHeld, "system", reason, at); err != nil && ErrorCode(err) != ECONFLICT {
		return err
	}
	return nil
}

// SignatureWalker walks every stored signature.
type SignatureWalker interface {
	// AllSignatures yields every signature in ID order.
	AllSignatures(ctx context.Context) iter.Seq2[*Signature, error]
}

// StoreReport is what VerifyStore checked and found.
type StoreReport struct {
	AuditEntries int       `json:"audit_entries"`
	AuditHead    ChainHead `json:"audit_head"` // head recorded by the store
	Signatures   int       `json:"signatures"`
	NCs          int       `json:"ncs"`
	Burs         int       `json:"burs"` // finished burs checked against their audit entry
	// UnauditedBurs counts burs finished before the store audited bur
	// dispositions: nothing to check them against but a signature.
	UnauditedBurs int      `json:"unaudited_burs"`
	Superseded    []string `json:"superseded"` // "reviewed" signatures on a record QA changed since (not tampering)
	Problems      []string `json:"problems"`   // each names an alteration
}

// OK reports whether nothing was found altered.
func (r *StoreReport) OK() bool { return len(r.Problems) == 0 }

func (r *StoreReport) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// VerifyStore walks the whole audit chain and the stored quality records
// and reports every alteration it finds, not just the first: entries whose
// content does not match their hash or whose links are broken, a chain
// that ends before the recorded head, NCs that differ from their last audit
// entry, finished burs that differ from their last audit entry (in every
// batch, signed or not) or have none, signatures that differ from their
// "sign" entry, and signatures whose record hash no longer matches the
// batch's content.
//
// A "reviewed" signature on a batch whose NCs QA changed after it (each
// change in the audit trail) is superseded, not altered. Errors: only
// failures to read the store.
func (src TraceSource) VerifyStore(ctx context.Context, sigs SignatureWalker) (*StoreReport, error) {
	r := &StoreReport{Problems: []string{}, Superseded: []string{}}
	head, err := src.Audit.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	r.AuditHead = head
	ncLast := map[string]AuditEntry{}    // nc id → its last audit entry
	signEntry := map[string]AuditEntry{} // signature id → its sign entry
	lastNCChange := map[string]uint64{}  // batch → seq of its last NC audit entry
	var burAuditFrom time.Time           // time of the first bur audit entry: zero when the store has none
	prev := ChainHead{}
	for e, err := range src.Audit.AuditEntries(ctx, AuditFilter{}) {
		if err != nil {
			r.problem("audit trail unreadable after seq %d: %v (entry bytes altered)", prev.Seq, err)
			break
		}
		r.AuditEntries++
		if lerr := checkLink(prev, e); lerr != nil {
			r.problem("%v", lerr)
		}
		prev = e.Head()
		switch e.ObjectType {
		case AuditObjectNC:
			ncLast[e.ObjectID] = e
			lastNCChange[e.Batch] = e.Seq
		case AuditObjectSignature:
			if e.Action == AuditSign {
				signEntry[e.ObjectID] = e
			}
		case AuditObjectBur:
			if burAuditFrom.IsZero() {
				burAuditFrom = e.Time
			}
		}
	}
	if prev.Seq != head.Seq || prev.Hash != head.Hash {
		r.problem("audit chain ends at seq %d %s but the store's head is seq %d %s (entries removed or head altered)", prev.Seq, prev.Hash, head.Seq, head.Hash)
	}

	ids := make([]string, 0, len(ncLast))
	for id := range ncLast {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		le := ncLast[id]
		r.NCs++
		nc, err := src.NCs.FindNC(ctx, id)
		var logged Nonconformance
		switch {
		case err != nil:
			r.problem("nc %s of the audit trail: %s (record removed or altered)", id, mesOrErr(err))
		case json.Unmarshal(le.New, &logged) != nil || !sameNC(logged, *nc):
			r.problem("nc %s differs from its audit entry seq %d (record altered)", id, le.Seq)
		}
	}

	if err := src.verifyBurs(ctx, r, burAuditFrom); err != nil {
		return nil, err
	}

	checked := map[string]bool{}
	for s, err := range sigs.AllSignatures(ctx) {
		if err != nil {
			r.problem("signatures unreadable: %v (record bytes altered)", err)
			break
		}
		r.Signatures++
		e, ok := signEntry[s.ID]
		var logged Signature
		switch {
		case !ok:
			r.problem("signature %s (%s, %s) has no sign entry in the audit trail", s.ID, s.PrintedName, s.Meaning)
		case json.Unmarshal(e.New, &logged) != nil || !sameSignature(logged, *s):
			r.problem("signature %s differs from its audit entry seq %d (signature altered)", s.ID, e.Seq)
		}
		if s.RecordType != RecordTypeBatch {
			continue
		}
		hash, ncs, err := src.recordHash(ctx, s.RecordID)
		if err != nil {
			r.problem("signature %s: batch %s unreadable: %v", s.ID, s.RecordID, mesOrErr(err))
			continue
		}
		if !checked[s.RecordID] {
			checked[s.RecordID] = true
			for _, nc := range ncs {
				if _, ok := ncLast[nc.ID]; !ok {
					r.problem("nc %s of batch %s has no audit entry (record inserted)", nc.ID, nc.Batch)
				}
			}
		}
		if s.VerifyBinding(hash) == nil {
			continue
		}
		if s.Meaning == MeaningReviewed && ok && lastNCChange[s.RecordID] > e.Seq {
			r.Superseded = append(r.Superseded, fmt.Sprintf("signature %s (%s, reviewed) on batch %s: NCs changed since (audit seq %d)", s.ID, s.PrintedName, s.RecordID, lastNCChange[s.RecordID]))
			continue
		}
		r.problem("signature %s (%s, %s) on batch %s: record hash %s no longer matches the stored record %s (burs, batch, product or NCs altered)",
			s.ID, s.PrintedName, s.Meaning, s.RecordID, s.RecordHash, hash)
	}
	return r, nil
}

// verifyBurs checks every finished bur of every batch against the last
// audit entry of its disposition (CheckBurAudit), one batch at a time so
// memory follows the largest batch, not the store. A finished bur without
// an entry is altered unless it finished before the store began auditing
// burs (auditFrom, zero when it never did).
func (src TraceSource) verifyBurs(ctx context.Context, r *StoreReport, auditFrom time.Time) error {
	batches, err := src.Batches.ListBatches(ctx, BatchFilter{})
	if err != nil {
		return err
	}
	for _, b := range batches {
		last := map[string]AuditEntry{}
		for e, err := range src.Audit.AuditEntries(ctx, AuditFilter{Batch: b.ID, ObjectType: AuditObjectBur}) {
			if err != nil {
				r.problem("audit entries of batch %s unreadable: %v", b.ID, err)
				break
			}
			last[e.ObjectID] = e
		}
		for bur, err := range src.Burs.BatchBurs(ctx, b.ID) {
			if err != nil {
				r.problem("burs of batch %s unreadable: %v (record bytes altered)", b.ID, err)
				break
			}
			e, ok := last[bur.Serial]
			delete(last, bur.Serial)
			switch {
			case ok:
				r.Burs++
				if err := CheckBurAudit(bur, e); err != nil {
					r.problem("%s", ErrorMessage(err))
				}
			case bur.Disposition == BurInProcess:
			case auditFrom.IsZero() || bur.Finished.Before(auditFrom):
				r.UnauditedBurs++
			default:
				r.problem("bur %s is %s but has no audit entry (record altered)", bur.Serial, bur.Disposition)
			}
		}
		for _, serial := range slices.Sorted(maps.Keys(last)) {
			r.problem("bur %s of audit entry seq %d is not in batch %s (record removed or moved)", serial, last[serial].Seq, b.ID)
		}
	}
	return nil
}

func mesOrErr(err error) string {
	if ErrorCode(err) != EINTERNAL {
		return ErrorMessage(err)
	}
	return err.Error()
}

// recordHash computes the record hash of a batch from the store.
func (src TraceSource) recordHash(ctx context.Context, batch string) (string, []Nonconformance, error) {
	b, err := src.Batches.FindBatch(ctx, batch)
	if err != nil {
		return "", nil, err
	}
	p, err := src.Products.FindProduct(ctx, b.Product)
	if err != nil {
		return "", nil, err
	}
	list, err := src.NCs.ListNCs(ctx, batch)
	if err != nil {
		return "", nil, err
	}
	ncs := make([]Nonconformance, len(list))
	for i, nc := range list {
		ncs[i] = *nc
	}
	h, err := BatchRecordHash(b, p, ncs, src.Burs.BatchBurs(ctx, batch))
	return h, ncs, err
}

func sameSignature(a, b Signature) bool {
	return a.ID == b.ID && a.SignerID == b.SignerID && a.PrintedName == b.PrintedName && a.Meaning == b.Meaning &&
		a.SignedAt.Equal(b.SignedAt) && a.RecordType == b.RecordType && a.RecordID == b.RecordID &&
		a.RecordHash == b.RecordHash && a.AuthMethod == b.AuthMethod && a.Comment == b.Comment
}

func sameNC(a, b Nonconformance) bool {
	ta, tb := a.OpenedAt, b.OpenedAt
	ca, cb := a.ClosedAt, b.ClosedAt
	a.OpenedAt, b.OpenedAt, a.ClosedAt, b.ClosedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b && ta.Equal(tb) && ca.Equal(cb)
}
