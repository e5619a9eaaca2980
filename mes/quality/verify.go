package quality

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// SignatureWalker walks every stored signature.
type SignatureWalker interface {
	// AllSignatures yields every signature in ID order.
	AllSignatures(ctx context.Context) iter.Seq2[*mes.Signature, error]
}

// StoreReport is what VerifyStore checked and found.
type StoreReport struct {
	AuditEntries int           `json:"audit_entries"`
	AuditHead    mes.ChainHead `json:"audit_head"` // head recorded by the store
	Signatures   int           `json:"signatures"`
	NCs          int           `json:"ncs"`
	Burs         int           `json:"burs"` // finished burs checked against their audit entry
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
func VerifyStore(ctx context.Context, src mes.TraceSource, sigs SignatureWalker) (*StoreReport, error) {
	r := &StoreReport{Problems: []string{}, Superseded: []string{}}
	head, err := src.Audit.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	r.AuditHead = head
	ncLast := map[string]mes.AuditEntry{}    // nc id → its last audit entry
	signEntry := map[string]mes.AuditEntry{} // signature id → its sign entry
	lastNCChange := map[string]uint64{}      // batch → seq of its last NC audit entry
	var burAuditFrom time.Time               // time of the first bur audit entry: zero when the store has none
	prev := mes.ChainHead{}
	for e, err := range src.Audit.AuditEntries(ctx, mes.AuditFilter{}) {
		if err != nil {
			r.problem("audit trail unreadable after seq %d: %v (entry bytes altered)", prev.Seq, err)
			break
		}
		r.AuditEntries++
		if lerr := mes.CheckLink(prev, e); lerr != nil {
			r.problem("%v", lerr)
		}
		prev = e.Head()
		switch e.ObjectType {
		case mes.AuditObjectNC:
			ncLast[e.ObjectID] = e
			lastNCChange[e.Batch] = e.Seq
		case mes.AuditObjectSignature:
			if e.Action == mes.AuditSign {
				signEntry[e.ObjectID] = e
			}
		case mes.AuditObjectBur:
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
		if err != nil {
			r.problem("nc %s of the audit trail: %s (record removed or altered)", id, mesOrErr(err))
		} else if err := CheckNC(*nc, le); err != nil {
			r.problem("%s (record altered)", mes.ErrorMessage(err))
		}
	}

	if err := verifyBurs(ctx, src, r, burAuditFrom); err != nil {
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
		if !ok {
			r.problem("signature %s (%s, %s) has no sign entry in the audit trail", s.ID, s.PrintedName, s.Meaning)
		} else if err := CheckSignature(*s, e); err != nil {
			r.problem("%s (signature altered)", mes.ErrorMessage(err))
		}
		if s.RecordType != mes.RecordTypeBatch {
			continue
		}
		hash, ncs, err := recordHash(ctx, src, s.RecordID)
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
		if s.Meaning == mes.MeaningReviewed && ok && lastNCChange[s.RecordID] > e.Seq {
			r.Superseded = append(r.Superseded, fmt.Sprintf("signature %s (%s, reviewed) on batch %s: NCs changed since (audit seq %d)", s.ID, s.PrintedName, s.RecordID, lastNCChange[s.RecordID]))
			continue
		}
		r.problem("signature %s (%s, %s) on batch %s: record hash %s no longer matches the stored record %s (burs, batch, product or NCs altered)",
			s.ID, s.PrintedName, s.Meaning, s.RecordID, s.RecordHash, hash)
	}
	return r, nil
}

// verifyBurs checks every finished bur of every batch against the last
// audit entry of its disposition (CheckBur), one batch at a time so
// memory follows the largest batch, not the store. A finished bur without
// an entry is altered unless it finished before the store began auditing
// burs (auditFrom, zero when it never did).
func verifyBurs(ctx context.Context, src mes.TraceSource, r *StoreReport, auditFrom time.Time) error {
	batches, err := src.Batches.ListBatches(ctx, mes.BatchFilter{})
	if err != nil {
		return err
	}
	for _, b := range batches {
		last := map[string]mes.AuditEntry{}
		for e, err := range src.Audit.AuditEntries(ctx, mes.AuditFilter{Batch: b.ID, ObjectType: mes.AuditObjectBur}) {
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
				if err := CheckBur(bur, e); err != nil {
					r.problem("%s", mes.ErrorMessage(err))
				}
			case bur.Disposition == mes.BurInProcess:
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
	if mes.ErrorCode(err) != mes.EINTERNAL {
		return mes.ErrorMessage(err)
	}
	return err.Error()
}

// recordHash computes the record hash of a batch from the store.
func recordHash(ctx context.Context, src mes.TraceSource, batch string) (string, []mes.Nonconformance, error) {
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
	ncs := make([]mes.Nonconformance, len(list))
	for i, nc := range list {
		ncs[i] = *nc
	}
	h, err := mes.BatchRecordHash(b, p, ncs, src.Burs.BatchBurs(ctx, batch))
	return h, ncs, err
}
