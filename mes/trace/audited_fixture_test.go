package trace_test

import (
	"cmp"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// auditedOpts shapes the plant a record comes from.
type auditedOpts struct {
	unsigned  bool // no signatures (nor their sign entries)
	inProcess int  // how many of the last burs are still in process
	// unaudited is how many of the first burs finished before the plant
	// audited bur dispositions: they have no entry.
	unaudited int
}

// auditedRecord is fixtureRecord from a plant that audits bur dispositions
// as the store does: each finished bur has the entry mes.BurAuditEntry
// made when it finished, chained in time order with the batch's other
// entries and another batch's. An entry of the batch carries "<", ">" and
// "&", which a JSON encoder may escape.
func auditedRecord(t testing.TB, n int, o auditedOpts) (*mes.TraceRecord, []*mes.Bur) {
	t.Helper()
	rec, burs := fixtureRecord(t, n)
	for _, b := range burs[n-o.inProcess:] {
		b.Disposition, b.ScrapReason, b.Finished, b.Results, b.Measurement = mes.BurInProcess, "", time.Time{}, nil, nil
		b.Operations, b.NextOp = b.Operations[:1], 1
	}
	if o.unsigned {
		rec.Signatures = []mes.Signature{}
	}
	rec.RecordHash = ""
	require.NoError(t, rec.ComputeRecordHash(slice(burs)))
	for i := range rec.Signatures {
		rec.Signatures[i].RecordHash = rec.RecordHash
	}

	var plain []mes.AuditEntry // the plant's entries, unchained
	for _, e := range rec.Audit {
		if e.ObjectType == mes.AuditObjectSignature {
			continue // remade below from the signatures as they now are
		}
		e.Seq, e.PrevHash, e.Hash, e.BatchPrevHash = 0, "", "", ""
		plain = append(plain, e)
	}
	for _, s := range rec.Signatures {
		data, err := json.Marshal(s)
		require.NoError(t, err)
		plain = append(plain, mes.AuditEntry{Time: s.SignedAt, Actor: s.SignerID, Action: mes.AuditSign,
			ObjectType: mes.AuditObjectSignature, ObjectID: s.ID, Batch: rec.Batch.ID, New: data})
	}
	plain = append(plain,
		mes.AuditEntry{Time: rec.Batch.Created.Add(time.Minute), Actor: "planner.zhao", Action: mes.AuditChange,
			ObjectType: mes.AuditObjectBatch, ObjectID: rec.Batch.ID, Batch: rec.Batch.ID, Old: json.RawMessage(`{"note":""}`),
			New: json.RawMessage(`{"note":"head <1.42 & >1.38"}`), Reason: "drawing <rev B> & note"},
		mes.AuditEntry{Time: rec.Batch.Created.Add(2 * time.Minute), Actor: "planner.zhao", Action: mes.AuditCreate,
			ObjectType: mes.AuditObjectBatch, ObjectID: "B000002", Batch: "B000002", New: json.RawMessage(`{"quantity":50}`)})
	for i, b := range burs {
		if i >= o.unaudited && b.Disposition != mes.BurInProcess {
			plain = append(plain, mes.BurAuditEntry(b, "system", b.Finished))
		}
	}
	// A bur's entry comes first in its instant: the store appends it
	// before the NC its failure opens.
	rank := func(e mes.AuditEntry) int {
		if e.ObjectType == mes.AuditObjectBur {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(plain, func(a, b mes.AuditEntry) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(rank(a), rank(b)))
	})

	var head mes.ChainHead
	batchHead := map[string]string{}
	rec.Audit = nil
	for _, e := range plain {
		e.BatchPrevHash = batchHead[e.Batch]
		e, err := head.Next(e)
		require.NoError(t, err)
		head, batchHead[e.Batch] = e.Head(), e.Hash
		if e.Batch == rec.Batch.ID {
			rec.Audit = append(rec.Audit, e)
		}
	}
	rec.AuditHead = head
	return rec, burs
}
