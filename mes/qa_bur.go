package mes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// BurAuditValue is the old or new value of a bur's audit entry: its
// disposition, the measurement and results it was decided on, and the hash
// of the whole bur as it was then (21 CFR 11.10(e)).
type BurAuditValue struct {
	Disposition BurDisposition `json:"disposition"`
	ScrapReason string         `json:"scrap_reason,omitempty"`
	Finished    time.Time      `json:"finished,omitzero"`
	Measurement *Measurement   `json:"measurement,omitempty"`
	Results     []CharResult   `json:"results,omitempty"`
	// Operations and NextOp are the bur's operation count and next route
	// step when it was decided; Hash covers those operations only (see
	// BurRecordHash).
	Operations int    `json:"operations"`
	NextOp     int    `json:"next_op"`
	Hash       string `json:"hash,omitempty"`
}

// burUndecided is the old value of a bur's first disposition.
var burUndecided = json.RawMessage(`{"disposition":"in_process"}`)

// BurRecordHash is the SHA-256 (lower-case hex) of bur b with its first
// ops operations, in the canonical encoding of a bur in the batch record
// (BatchRecordHasher.AddBur) under its own tag "pilotline.bur-record/v1".
func BurRecordHash(b *Bur, ops int) string {
	cp := *b
	cp.Operations = b.Operations[:min(max(ops, 0), len(b.Operations))]
	h := &BatchRecordHasher{}
	h.c.h = sha256.New()
	h.c.tag("pilotline.bur-record/v1")
	h.AddBur(&cp)
	return hex.EncodeToString(h.c.h.Sum(nil))
}

// BurAuditEntry is the audit entry of bur b's disposition, decided by
// actor at at: a change from in process to what b now is, with the
// measurement and results, the reason, and the hash of the bur as stored.
// The store appends it in the transaction that writes b.
func BurAuditEntry(b *Bur, actor string, at time.Time) AuditEntry {
	reason := b.ScrapReason
	if reason == "" {
		reason = "inspection: " + string(b.Disposition)
		if b.Disposition == BurGood {
			reason = "inspection: every characteristic within tolerance"
		}
	}
	v := BurAuditValue{Disposition: b.Disposition, ScrapReason: b.ScrapReason, Finished: b.Finished, Measurement: b.Measurement,
		Results: b.Results, Operations: len(b.Operations), NextOp: b.NextOp, Hash: BurRecordHash(b, len(b.Operations))}
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode bur audit value: %v", err)) // plain data: always encodes
	}
	return AuditEntry{Time: at, Actor: actor, Action: AuditChange, ObjectType: AuditObjectBur, ObjectID: b.Serial,
		Batch: b.Batch, Old: burUndecided, New: raw, Reason: reason}
}
