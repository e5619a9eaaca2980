package bolt

import (
	"bytes"
	"context"
	"fmt"
	"iter"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// SignatureService stores electronic signatures, each with its "sign"
// audit entry, and signs batches (SignBatch).
type SignatureService struct{ db *DB }

var (
	_ mes.SignatureService = (*SignatureService)(nil)
	_ mes.BatchSigner      = (*SignatureService)(nil)
)

// NewSignatureService returns the signature store on db.
func NewSignatureService(db *DB) *SignatureService { return &SignatureService{db: db} }

func sigID(seq uint64) string { return fmt.Sprintf("S%06d", seq) }

func sigRecordPrefix(recordType, recordID string) []byte {
	return cat([]byte(recordType), []byte{sep}, []byte(recordID), []byte{sep})
}

// CreateSignature implements mes.SignatureService.
func (s *SignatureService) CreateSignature(ctx context.Context, sig *mes.Signature) error {
	return s.db.update(ctx, func(tx *bbolt.Tx) error { return createSignatureTx(tx, sig) })
}

// createSignatureTx stores sig and its "sign" audit entry, whose new value
// is the signature itself (trace.VerifyBundle compares the two).
func createSignatureTx(tx *bbolt.Tx, sig *mes.Signature) error {
	sig.SignedAt = sig.SignedAt.UTC()
	if err := sig.Validate(); err != nil {
		return err
	}
	b := tx.Bucket(bucketSignatures)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	sig.ID = sigID(seq)
	if err := putJSON(b, u64(seq), sig); err != nil {
		return err
	}
	if err := tx.Bucket(bucketSignaturesByRecord).Put(cat(sigRecordPrefix(sig.RecordType, sig.RecordID), u64(seq)), nil); err != nil {
		return err
	}
	batch := ""
	if sig.RecordType == mes.RecordTypeBatch {
		batch = sig.RecordID
	}
	_, err = appendAuditTx(tx, mes.AuditEntry{Time: sig.SignedAt, Actor: sig.SignerID, Action: mes.AuditSign,
		ObjectType: mes.AuditObjectSignature, ObjectID: sig.ID, Batch: batch, New: mustJSON(sig), Reason: sig.Comment})
	return err
}

// ListSignatures implements mes.SignatureService.
func (s *SignatureService) ListSignatures(ctx context.Context, recordType, recordID string) ([]*mes.Signature, error) {
	var out []*mes.Signature
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = listSignatures(tx, recordType, recordID)
		return err
	})
	return out, err
}

func listSignatures(tx *bbolt.Tx, recordType, recordID string) ([]*mes.Signature, error) {
	out := []*mes.Signature{}
	idx, all := tx.Bucket(bucketSignaturesByRecord), tx.Bucket(bucketSignatures)
	if idx == nil || all == nil {
		return out, nil
	}
	prefix := sigRecordPrefix(recordType, recordID)
	c := idx.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		var sig mes.Signature
		if found, err := getJSON(all, k[len(prefix):], &sig); err != nil {
			return nil, err
		} else if !found {
			return nil, fmt.Errorf("signature index of %s %s names missing signature %d", recordType, recordID, getU64(k[len(prefix):]))
		}
		out = append(out, &sig)
	}
	return out, nil
}

// AllSignatures yields every stored signature in ID order, for verification.
func (s *SignatureService) AllSignatures(ctx context.Context) iter.Seq2[*mes.Signature, error] {
	return func(yield func(*mes.Signature, error) bool) {
		var sigs []*mes.Signature
		err := s.db.view(ctx, func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketSignatures)
			if b == nil {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				var sig mes.Signature
				if _, err := getJSON(b, k, &sig); err != nil {
					return err
				}
				sigs = append(sigs, &sig)
				return nil
			})
		})
		if err != nil {
			yield(nil, fmt.Errorf("read signatures: %w", err))
			return
		}
		for _, sig := range sigs {
			if !yield(sig, nil) {
				return
			}
		}
	}
}

// SignBatch implements mes.BatchSigner: in one write transaction it
// computes the batch's record hash from the stored batch, product, NCs and
// burs, checks the meaning against the batch (mes.SignatureTarget), stores
// the signature with its audit entry and moves the batch, with an audit
// entry for the state change.
//
// IMPORTANT: hashing and signing share the transaction, so no bur or NC
// written in between can slip past the signature unbound.
func (s *SignatureService) SignBatch(ctx context.Context, sig *mes.Signature) (*mes.Batch, error) {
	var out *mes.Batch
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		b, bseq, err := findBatch(tx, sig.RecordID)
		if err != nil {
			return err
		}
		p, err := findProduct(tx, b.Product)
		if err != nil {
			return fmt.Errorf("batch %s: %w", b.ID, err)
		}
		ptrs, err := listNCs(tx, b.ID)
		if err != nil {
			return err
		}
		ncs := make([]mes.Nonconformance, len(ptrs))
		for i, nc := range ptrs {
			ncs[i] = *nc
		}
		to, err := mes.SignatureTarget(b, ncs, sig.Meaning)
		if err != nil {
			return err
		}
		if sig.RecordHash, err = mes.BatchRecordHash(b, p, ncs, batchBursTx(tx, bseq)); err != nil {
			return err
		}
		sig.RecordType = mes.RecordTypeBatch
		if err := createSignatureTx(tx, sig); err != nil {
			return err
		}
		if to != "" {
			from := b.State
			reason := fmt.Sprintf("e-signature %s (%s)", sig.ID, sig.Meaning)
			if sig.Comment != "" {
				reason += ": " + sig.Comment
			}
			if err := b.Transition(to, sig.SignerID, reason, sig.SignedAt); err != nil {
				return err
			}
			if err := putBatch(tx, bseq, b); err != nil {
				return err
			}
			if _, err := appendAuditTx(tx, mes.AuditEntry{Time: sig.SignedAt, Actor: sig.SignerID, Action: mes.AuditChange,
				ObjectType: mes.AuditObjectBatch, ObjectID: b.ID, Batch: b.ID,
				Old: mustJSON(map[string]any{"state": from}), New: mustJSON(map[string]any{"state": to, "signature": sig.ID}),
				Reason: reason}); err != nil {
				return err
			}
		}
		out = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
