package mes

import (
	"context"
	"fmt"
	"iter"
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
