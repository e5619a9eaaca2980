package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// auditChunk bounds the entries read per transaction while iterating, so a
// consumer never runs inside a read transaction (a long one would stall the
// file's growth, and a consumer that appends would deadlock on it).
const auditChunk = 512

// AuditService is the audit trail on bbolt: entries keyed by seq, the head
// in meta, and each batch's entries indexed for its own chain.
type AuditService struct{ db *DB }

var _ mes.AuditService = (*AuditService)(nil)

// NewAuditService returns the audit trail on db.
func NewAuditService(db *DB) *AuditService { return &AuditService{db: db} }

// AppendAudit implements mes.AuditService. A zero Time is set to now on
// the entry's time base (mes.AuditEntry.TimeBase).
func (s *AuditService) AppendAudit(ctx context.Context, e mes.AuditEntry) (mes.AuditEntry, error) {
	if e.Time.IsZero() && e.TimeBase() == mes.WallTime {
		e.Time = s.db.wallNow()
	} else if e.Time.IsZero() {
		e.Time = s.db.lineNow()
	}
	var out mes.AuditEntry
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = appendAuditTx(tx, e)
		return err
	})
	if err != nil {
		return mes.AuditEntry{}, err
	}
	return out, nil
}

// appendAuditTx chains e after the trail's head and stores it inside tx.
// Every audit entry is appended through it: the service's own appends, and
// the writes (NCs, signatures, bur dispositions) whose entry must commit or
// fail together with the change it records.
//
// IMPORTANT: the head is read, the entry chained and stored, and the head
// moved in one write transaction; bbolt serialises those, so two appends
// can never chain onto the same head, nor two entries of a batch onto the
// same batch entry.
func appendAuditTx(tx *bbolt.Tx, e mes.AuditEntry) (mes.AuditEntry, error) {
	e.Time = e.Time.UTC()
	// Each time base's entries are in time order along the chain: an entry
	// is not stamped before the last one of its base (the record it is
	// about keeps its own time in New).
	lastKey := auditLastKey(e.TimeBase())
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(lastKey); len(v) == 8 {
		e.Time = mes.Later(e.Time, getT64(v))
	}
	if err := meta.Put(lastKey, t64(e.Time)); err != nil {
		return mes.AuditEntry{}, err
	}
	head, err := auditHead(tx)
	if err != nil {
		return mes.AuditEntry{}, err
	}
	byBatch := tx.Bucket(bucketAuditByBatch)
	e.BatchPrevHash = ""
	if e.Batch != "" {
		prefix := append([]byte(e.Batch), sep)
		c := byBatch.Cursor()
		// The batch's last entry is the greatest key with its prefix: seek
		// just past the prefix and step back.
		var v []byte
		k, _ := c.Seek(append([]byte(e.Batch), sep+1))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		if k != nil && bytes.HasPrefix(k, prefix) {
			e.BatchPrevHash = string(v)
		}
	}
	out, err := head.Next(e)
	if err != nil {
		return mes.AuditEntry{}, err
	}
	if err := putJSON(tx.Bucket(bucketAudit), u64(out.Seq), &out); err != nil {
		return mes.AuditEntry{}, err
	}
	if out.Batch != "" {
		if err := byBatch.Put(cat([]byte(out.Batch), []byte{sep}, u64(out.Seq)), []byte(out.Hash)); err != nil {
			return mes.AuditEntry{}, err
		}
	}
	return out, putJSON(tx.Bucket(bucketMeta), keyAuditHead, out.Head())
}

// auditLastKey is the meta key of the time of the last entry on base.
func auditLastKey(base mes.TimeBase) []byte { return append([]byte(keyAuditLastPrefix), base...) }

func auditHead(tx *bbolt.Tx) (mes.ChainHead, error) {
	var h mes.ChainHead
	if _, err := getJSON(tx.Bucket(bucketMeta), keyAuditHead, &h); err != nil {
		return h, fmt.Errorf("audit head: %w", err)
	}
	return h, nil
}

// AuditHead implements mes.AuditService.
func (s *AuditService) AuditHead(ctx context.Context) (mes.ChainHead, error) {
	var h mes.ChainHead
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		h, err = auditHead(tx)
		return err
	})
	return h, err
}

// AuditEntries implements mes.AuditService. A batch filter walks the
// batch's index; other filters scan the trail from FromSeq.
func (s *AuditService) AuditEntries(ctx context.Context, f mes.AuditFilter) iter.Seq2[mes.AuditEntry, error] {
	return func(yield func(mes.AuditEntry, error) bool) {
		next := f.FromSeq
		for {
			var chunk []mes.AuditEntry
			done := false
			err := s.db.view(ctx, func(tx *bbolt.Tx) error {
				var err error
				chunk, next, done, err = auditChunkFrom(tx, f, next)
				return err
			})
			if err != nil {
				yield(mes.AuditEntry{}, fmt.Errorf("read audit trail: %w", err))
				return
			}
			for _, e := range chunk {
				if !yield(e, nil) {
					return
				}
			}
			if done {
				return
			}
		}
	}
}

// auditChunkFrom reads up to auditChunk matching entries with seq ≥ from
// and returns where to continue.
func auditChunkFrom(tx *bbolt.Tx, f mes.AuditFilter, from uint64) ([]mes.AuditEntry, uint64, bool, error) {
	entries := tx.Bucket(bucketAudit)
	if entries == nil {
		return nil, 0, true, nil // a read-only file from before the trail existed
	}
	var out []mes.AuditEntry
	read := func(k, v []byte) error {
		var e mes.AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode audit entry %d: %w", getU64(k), err)
		}
		if (f.ObjectType == "" || e.ObjectType == f.ObjectType) && (f.ObjectID == "" || e.ObjectID == f.ObjectID) &&
			(f.Batch == "" || e.Batch == f.Batch) {
			out = append(out, e)
		}
		return nil
	}
	if f.Batch != "" {
		prefix := append([]byte(f.Batch), sep)
		c := tx.Bucket(bucketAuditByBatch).Cursor()
		for k, _ := c.Seek(cat(prefix, u64(from))); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			seq := getU64(k[len(prefix):])
			if len(out) == auditChunk {
				return out, seq, false, nil
			}
			v := entries.Get(u64(seq))
			if v == nil {
				return nil, 0, false, fmt.Errorf("audit index of batch %s names missing seq %d", f.Batch, seq)
			}
			if err := read(u64(seq), v); err != nil {
				return nil, 0, false, err
			}
		}
		return out, 0, true, nil
	}
	c := entries.Cursor()
	for k, v := c.Seek(u64(from)); k != nil; k, v = c.Next() {
		if len(out) == auditChunk {
			return out, getU64(k), false, nil
		}
		if err := read(k, v); err != nil {
			return nil, 0, false, err
		}
	}
	return out, 0, true, nil
}
