package quality

import (
	"encoding/json"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// CheckBur checks stored bur b against the New value of its latest
// audit entry e. Operations recorded after that entry are allowed only
// from the bur's own inspection station (its cycle may end after its
// measurement: see BurService.CompleteOperation); they are not covered by
// the hash. Errors: ECONFLICT naming what differs.
func CheckBur(b *mes.Bur, e mes.AuditEntry) error {
	var v mes.BurAuditValue
	if err := json.Unmarshal(e.New, &v); err != nil {
		return mes.Errorf(mes.ECONFLICT, "bur %s: audit entry seq %d is not a bur value: %v", b.Serial, e.Seq, err)
	}
	if v.Operations > len(b.Operations) {
		return mes.Errorf(mes.ECONFLICT, "bur %s has %d operations but its audit entry seq %d recorded %d (operations removed)",
			b.Serial, len(b.Operations), e.Seq, v.Operations)
	}
	later := 0
	for _, op := range b.Operations[v.Operations:] {
		if b.Measurement == nil || op.Machine != b.Measurement.Station {
			return mes.Errorf(mes.ECONFLICT, "bur %s: operation %d on %s after its audit entry seq %d, not from its inspection station (operation inserted)",
				b.Serial, op.Number, op.Machine, e.Seq)
		}
		if !op.Aborted {
			later++
		}
	}
	cp := *b
	cp.NextOp = b.NextOp - later
	if cp.NextOp != v.NextOp || mes.BurRecordHash(&cp, v.Operations) != v.Hash || b.Disposition != v.Disposition {
		return mes.Errorf(mes.ECONFLICT, "bur %s differs from its audit entry seq %d (record altered)", b.Serial, e.Seq)
	}
	return nil
}

// CheckSignature checks signature s against the New value of its "sign"
// audit entry e, field by field. The store check (VerifyStore) and the
// bundle check (trace.VerifyBundle) both use it, so they compare the same
// fields. Errors: ECONFLICT naming the signature and the entry.
func CheckSignature(s mes.Signature, e mes.AuditEntry) error {
	var logged mes.Signature
	if err := json.Unmarshal(e.New, &logged); err != nil || !sameSignature(logged, s) {
		return mes.Errorf(mes.ECONFLICT, "signature %s differs from its audit entry seq %d", s.ID, e.Seq)
	}
	return nil
}

// CheckNC checks nonconformance nc against the New value of its latest
// audit entry e, field by field (times by instant, not by location).
// Errors: ECONFLICT naming the NC and the entry.
func CheckNC(nc mes.Nonconformance, e mes.AuditEntry) error {
	var logged mes.Nonconformance
	if err := json.Unmarshal(e.New, &logged); err != nil || !sameNC(logged, nc) {
		return mes.Errorf(mes.ECONFLICT, "nc %s differs from its audit entry seq %d", nc.ID, e.Seq)
	}
	return nil
}

func sameSignature(a, b mes.Signature) bool {
	return a.ID == b.ID && a.SignerID == b.SignerID && a.PrintedName == b.PrintedName && a.Meaning == b.Meaning &&
		a.SignedAt.Equal(b.SignedAt) && a.RecordType == b.RecordType && a.RecordID == b.RecordID &&
		a.RecordHash == b.RecordHash && a.AuthMethod == b.AuthMethod && a.Comment == b.Comment
}

func sameNC(a, b mes.Nonconformance) bool {
	ta, tb := a.OpenedAt, b.OpenedAt
	ca, cb := a.ClosedAt, b.ClosedAt
	a.OpenedAt, b.OpenedAt, a.ClosedAt, b.ClosedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b && ta.Equal(tb) && ca.Equal(cb)
}
