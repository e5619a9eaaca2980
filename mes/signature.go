package mes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strings"
	"time"
)

// SignatureMeaning is what a signer declares by signing (21 CFR 11.50(a)(3)).
type SignatureMeaning string

// Signature meanings.
const (
	MeaningReviewed SignatureMeaning = "reviewed"
	MeaningReleased SignatureMeaning = "released"
	MeaningRejected SignatureMeaning = "rejected"
)

// Valid reports whether m is a known meaning.
func (m SignatureMeaning) Valid() bool {
	return m == MeaningReviewed || m == MeaningReleased || m == MeaningRejected
}

// AuthPassword is Signature.AuthMethod when the signer re-entered the
// password at signing time (21 CFR 11.200(a)).
const AuthPassword = "password"

// RecordTypeBatch is Signature.RecordType for a batch's record of production.
const RecordTypeBatch = "batch"

// Signature is an electronic signature on a batch record.
//
// IMPORTANT: RecordHash binds the signature to the exact record content it
// was given on (21 CFR 11.70): the record hash of a batch changes with any
// bur, operation, measurement, NC or product field, so a signature cannot be
// carried over to another record or survive an edit unnoticed.
type Signature struct {
	ID          string           `json:"id"`           // assigned by the store, e.g. "S000001"
	SignerID    string           `json:"signer_id"`    // user id, never reused
	PrintedName string           `json:"printed_name"` // §11.50(a)(1)
	Meaning     SignatureMeaning `json:"meaning"`      // §11.50(a)(3)
	SignedAt    time.Time        `json:"signed_at"`    // §11.50(a)(2)
	RecordType  string           `json:"record_type"`
	RecordID    string           `json:"record_id"`
	RecordHash  string           `json:"record_hash"` // hex SHA-256, see BatchRecordHasher
	AuthMethod  string           `json:"auth_method"` // how the signer re-authenticated
	Comment     string           `json:"comment,omitempty"`
}

var sigHashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Validate checks the signature's §11.50 and §11.70 fields. Errors: EINVALID.
func (s Signature) Validate() error {
	switch {
	case s.SignerID == "":
		return Errorf(EINVALID, "signature: signer id required")
	case strings.TrimSpace(s.PrintedName) == "":
		return Errorf(EINVALID, "signature: printed name required (21 CFR 11.50)")
	case !s.Meaning.Valid():
		return Errorf(EINVALID, "signature: meaning must be reviewed, released or rejected, got %q", s.Meaning)
	case s.SignedAt.IsZero():
		return Errorf(EINVALID, "signature: date and time required (21 CFR 11.50)")
	case s.RecordType == "" || s.RecordID == "":
		return Errorf(EINVALID, "signature: record type and id required")
	case !sigHashRE.MatchString(s.RecordHash):
		return Errorf(EINVALID, "signature: record hash must be 64 lower-case hex digits (21 CFR 11.70)")
	case s.AuthMethod == "":
		return Errorf(EINVALID, "signature: auth method required: credentials are re-entered at signing (21 CFR 11.200)")
	}
	return nil
}

// VerifyBinding reports whether the signature was given on a record whose
// hash is recordHash. Errors: ECONFLICT (the record changed since signing).
func (s Signature) VerifyBinding(recordHash string) error {
	if s.RecordHash != recordHash {
		return Errorf(ECONFLICT, "signature %s by %s: record %s changed since it was signed (signed %s, now %s)",
			s.ID, s.PrintedName, s.RecordID, s.RecordHash, recordHash)
	}
	return nil
}

// Manifestation is the human-readable line every display and printout of
// the signed record carries (21 CFR 11.50(b)).
func (s Signature) Manifestation() string {
	return fmt.Sprintf("%s (%s), %s, %s", s.PrintedName, s.SignerID, s.SignedAt.UTC().Format("2006-01-02 15:04:05 MST"), s.Meaning)
}

// CanRelease checks that a batch may be signed as released: it must be
// completed (not held, not running) and every NC of it closed.
// Errors: ECONFLICT naming what blocks release.
func CanRelease(b *Batch, ncs []Nonconformance) error {
	if b.State != BatchCompleted {
		return Errorf(ECONFLICT, "batch %s is %s: only a completed batch can be released", b.ID, b.State)
	}
	var open []string
	for _, nc := range ncs {
		if nc.Batch == b.ID && nc.State != NCClosed {
			open = append(open, nc.ID)
		}
	}
	if len(open) > 0 {
		return Errorf(ECONFLICT, "batch %s has %d open nonconformance(s): %s", b.ID, len(open), strings.Join(open, ", "))
	}
	return nil
}

// BatchRecordHasher computes the record hash of a batch's record of
// production, one bur at a time so a batch of any size hashes in constant
// memory.
//
// The record hash is the lower-case hex SHA-256 of a canonical encoding in
// the format documented on AuditEntry.Canonical, first line
// "pilotline.batch-record/v1", then in this order: the batch (id, product,
// quantity, good_required, org, blank_lot, planned_start, planned_end,
// created, started, completed, scrap, rework), the product (iso, name,
// name_zh, shank_type, gtin, each tolerance in characteristic name order, each
// route operation), the nonconformances in ID order (every field), and the
// burs in the order added (every field but machine, the transient dispatch
// assignment; operations in order; measurement values in characteristic name
// order; results in order). Floats use the shortest decimal that reads back
// exactly.
//
// IMPORTANT: the batch's state and transitions are not part of the record:
// they are what signing changes, and a release must not invalidate its own
// signature. Signatures and audit entries are not part of it either.
type BatchRecordHasher struct {
	c    canonEncoder
	burs int
}

// NewBatchRecordHasher starts the record hash of batch b of product p with its NCs.
func NewBatchRecordHasher(b *Batch, p *Product, ncs []Nonconformance) *BatchRecordHasher {
	h := &BatchRecordHasher{}
	h.c.h = sha256.New()
	c := &h.c
	c.tag("pilotline.batch-record/v1")
	c.str("batch.id", b.ID)
	c.str("batch.product", b.Product)
	c.int("batch.quantity", b.Quantity)
	c.bool("batch.good_required", b.GoodRequired)
	c.str("batch.org", b.Org)
	c.str("batch.blank_lot", b.BlankLot)
	c.time("batch.planned_start", b.PlannedStart)
	c.time("batch.planned_end", b.PlannedEnd)
	c.time("batch.created", b.Created)
	c.int("batch.started", b.Started)
	c.int("batch.completed", b.Completed)
	c.int("batch.scrap", b.Scrap)
	c.int("batch.rework", b.Rework)

	c.str("product.iso", p.ISO)
	c.str("product.name", p.Name)
	c.str("product.name_zh", p.NameZH)
	c.str("product.shank_type", p.ShankType)
	c.str("product.gtin", p.GTIN)
	chars := make([]string, 0, len(p.Tolerances))
	for ch := range p.Tolerances {
		chars = append(chars, ch)
	}
	slices.Sort(chars)
	for _, ch := range chars {
		t := p.Tolerances[ch]
		c.str("product.tolerance", ch)
		c.float("product.tolerance.nominal", t.Nominal)
		c.float("product.tolerance.lsl", t.Lower)
		c.float("product.tolerance.usl", t.Upper)
	}
	for _, op := range p.Route {
		c.int("product.route.number", op.Number)
		c.str("product.route.name", op.Name)
		c.str("product.route.name_zh", op.NameZH)
		c.str("product.route.group", op.Group)
		c.str("product.route.program", op.Program)
		c.str("product.route.program_version", op.ProgramVersion)
		c.float("product.route.ideal_cycle_s", op.IdealCycleS)
	}

	sorted := slices.Clone(ncs)
	slices.SortStableFunc(sorted, func(a, b Nonconformance) int { return strings.Compare(a.ID, b.ID) })
	for _, nc := range sorted {
		c.str("nc.id", nc.ID)
		c.str("nc.serial", nc.Serial)
		c.str("nc.batch", nc.Batch)
		c.str("nc.characteristic", nc.Characteristic)
		c.str("nc.source", nc.Source)
		c.str("nc.description", nc.Description)
		c.time("nc.opened_at", nc.OpenedAt)
		c.str("nc.opened_by", nc.OpenedBy)
		c.str("nc.state", string(nc.State))
		c.str("nc.disposition", string(nc.Disposition))
		c.str("nc.reason", nc.Reason)
		c.str("nc.concession", nc.Concession)
		c.time("nc.closed_at", nc.ClosedAt)
		c.str("nc.closed_by", nc.ClosedBy)
	}
	return h
}

// AddBur adds the next bur of the batch.
func (h *BatchRecordHasher) AddBur(b *Bur) {
	c := &h.c
	h.burs++
	c.str("bur.serial", b.Serial)
	c.str("bur.batch", b.Batch)
	c.str("bur.product", b.Product)
	c.int("bur.seq", b.Seq)
	c.str("bur.blank_lot", b.BlankLot)
	c.int("bur.next_op", b.NextOp)
	c.str("bur.disposition", string(b.Disposition))
	c.str("bur.scrap_reason", b.ScrapReason)
	c.time("bur.created", b.Created)
	c.time("bur.finished", b.Finished)
	for _, op := range b.Operations {
		c.int("op.number", op.Number)
		c.str("op.name", op.Name)
		c.str("op.machine", op.Machine)
		c.uint("op.cycle_seq", op.CycleSeq)
		c.str("op.program", op.Program)
		c.str("op.program_version", op.ProgramVersion)
		c.str("op.program_hash", op.ProgramHash)
		c.str("op.wheel_id", op.WheelID)
		c.float("op.wheel_wear_um", op.WheelWearUM)
		c.uint("op.dress_count", uint64(op.DressCount))
		c.time("op.start", op.Start)
		c.time("op.end", op.End)
		c.float("op.cycle_s", op.CycleS)
		c.float("op.peak_spindle_load_pct", op.PeakSpindleLoad)
		c.float("op.energy_kwh", op.EnergyKWh)
		c.bool("op.aborted", op.Aborted)
	}
	if m := b.Measurement; m != nil {
		c.uint("measurement.seq", m.Seq)
		c.str("measurement.serial", m.Serial)
		c.str("measurement.station", m.Station)
		c.str("measurement.gauge_id", m.GaugeID)
		c.time("measurement.calibration_due", m.CalibrationDue)
		c.time("measurement.time", m.Time)
		chars := make([]string, 0, len(m.Values))
		for ch := range m.Values {
			chars = append(chars, ch)
		}
		slices.Sort(chars)
		for _, ch := range chars {
			c.str("measurement.value", ch)
			c.float("measurement.value.mm", m.Values[ch])
		}
	}
	for _, r := range b.Results {
		c.str("result.characteristic", r.Characteristic)
		c.float("result.value_mm", r.Value)
		c.float("result.nominal_mm", r.Nominal)
		c.float("result.lsl_mm", r.Lower)
		c.float("result.usl_mm", r.Upper)
		c.bool("result.pass", r.Pass)
	}
}

// Sum returns the record hash. The bur count closes the encoding so a
// record cut short does not hash like a complete one.
func (h *BatchRecordHasher) Sum() string {
	h.c.int("burs", h.burs)
	return hex.EncodeToString(h.c.h.Sum(nil))
}

// BatchRecordHash is the record hash of batch b (see BatchRecordHasher).
// An error from burs is returned wrapped.
func BatchRecordHash(b *Batch, p *Product, ncs []Nonconformance, burs iter.Seq2[*Bur, error]) (string, error) {
	h := NewBatchRecordHasher(b, p, ncs)
	for bur, err := range burs {
		if err != nil {
			return "", fmt.Errorf("batch %s record hash: %w", b.ID, err)
		}
		h.AddBur(bur)
	}
	return h.Sum(), nil
}

// SignatureService stores electronic signatures.
type SignatureService interface {
	// CreateSignature validates s, assigns its ID and stores it together with
	// its audit entry (action sign) in one transaction. Errors: EINVALID.
	CreateSignature(ctx context.Context, s *Signature) error
	// ListSignatures returns the signatures on one record, oldest first.
	ListSignatures(ctx context.Context, recordType, recordID string) ([]*Signature, error)
}
