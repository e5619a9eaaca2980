package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// NCService stores nonconformance records, each change with its audit
// entry in the same transaction.
type NCService struct{ db *DB }

var _ mes.NCService = (*NCService)(nil)

// NewNCService returns the nonconformance store on db.
func NewNCService(db *DB) *NCService { return &NCService{db: db} }

// ncID formats an NC sequence number as its id.
func ncID(seq uint64) string { return fmt.Sprintf("NC%06d", seq) }

// ncSeq parses an NC id; ok is false for anything not made by ncID.
func ncSeq(id string) (uint64, bool) {
	if !strings.HasPrefix(id, "NC") {
		return 0, false
	}
	n, err := strconv.ParseUint(id[2:], 10, 64)
	if err != nil || n == 0 || ncID(n) != id {
		return 0, false
	}
	return n, true
}

// CreateNC implements mes.NCService.
func (s *NCService) CreateNC(ctx context.Context, nc *mes.Nonconformance) error {
	return s.db.update(ctx, func(tx *bbolt.Tx) error { return createNCTx(tx, nc) })
}

// createNCTx validates nc, assigns its ID, stores it and appends its
// "create" audit entry, all in tx.
func createNCTx(tx *bbolt.Tx, nc *mes.Nonconformance) error {
	nc.State = mes.NCOpen
	nc.OpenedAt = nc.OpenedAt.UTC()
	if err := nc.Validate(); err != nil {
		return err
	}
	b := tx.Bucket(bucketNCs)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	nc.ID = ncID(seq)
	if err := putJSON(b, u64(seq), nc); err != nil {
		return err
	}
	if err := tx.Bucket(bucketNCsByBatch).Put(cat([]byte(nc.Batch), []byte{sep}, u64(seq)), nil); err != nil {
		return err
	}
	_, err = appendAuditTx(tx, mes.AuditEntry{Time: nc.OpenedAt, Actor: nc.OpenedBy, Action: mes.AuditCreate,
		ObjectType: mes.AuditObjectNC, ObjectID: nc.ID, Batch: nc.Batch, New: mustJSON(nc), Reason: nc.Description})
	return err
}

// openNCsTx opens the records a finished, failed bur calls for
// (mes.NonconformancesFor), or one naming its scrap reason when no single
// characteristic or operation explains it.
func openNCsTx(tx *bbolt.Tx, b *mes.Bur, at time.Time) error {
	ncs := mes.NonconformancesFor(b, systemActor, at.UTC())
	if len(ncs) == 0 {
		desc := b.ScrapReason
		if desc == "" {
			desc = "bur finished as " + string(b.Disposition)
		}
		ncs = []mes.Nonconformance{{Serial: b.Serial, Batch: b.Batch, Source: mes.NCSourceMeasurement,
			Description: desc, OpenedAt: at.UTC(), OpenedBy: systemActor, State: mes.NCOpen}}
	}
	for i := range ncs {
		if err := createNCTx(tx, &ncs[i]); err != nil {
			return fmt.Errorf("open nc for bur %s: %w", b.Serial, err)
		}
	}
	return nil
}

// FindNC implements mes.NCService.
func (s *NCService) FindNC(ctx context.Context, id string) (*mes.Nonconformance, error) {
	var nc *mes.Nonconformance
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		nc, err = findNC(tx, id)
		return err
	})
	return nc, err
}

func findNC(tx *bbolt.Tx, id string) (*mes.Nonconformance, error) {
	seq, ok := ncSeq(id)
	var nc mes.Nonconformance
	if ok {
		if b := tx.Bucket(bucketNCs); b != nil {
			found, err := getJSON(b, u64(seq), &nc)
			if err != nil {
				return nil, err
			}
			ok = found
		} else {
			ok = false
		}
	}
	if !ok {
		return nil, mes.Errorf(mes.ENOTFOUND, "nonconformance %q not found", id)
	}
	return &nc, nil
}

// ListNCs implements mes.NCService.
func (s *NCService) ListNCs(ctx context.Context, batch string) ([]*mes.Nonconformance, error) {
	var out []*mes.Nonconformance
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = listNCs(tx, batch)
		return err
	})
	return out, err
}

func listNCs(tx *bbolt.Tx, batch string) ([]*mes.Nonconformance, error) {
	out := []*mes.Nonconformance{}
	idx, all := tx.Bucket(bucketNCsByBatch), tx.Bucket(bucketNCs)
	if idx == nil || all == nil {
		return out, nil // a read-only file from before QA existed
	}
	prefix := append([]byte(batch), sep)
	c := idx.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		var nc mes.Nonconformance
		if found, err := getJSON(all, k[len(prefix):], &nc); err != nil {
			return nil, err
		} else if !found {
			return nil, fmt.Errorf("nc index of batch %s names missing record %d", batch, getU64(k[len(prefix):]))
		}
		out = append(out, &nc)
	}
	return out, nil
}

// CloseNC implements mes.NCService. The audit entry keeps the open record
// as its old value and the closed one as its new value.
func (s *NCService) CloseNC(ctx context.Context, id string, d mes.NCDisposition, reason, concession, by string, at time.Time) (*mes.Nonconformance, error) {
	if at.IsZero() {
		at = s.db.lineNow()
	}
	at = at.UTC()
	var out *mes.Nonconformance
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		nc, err := findNC(tx, id)
		if err != nil {
			return err
		}
		old := mustJSON(nc)
		if err := nc.Close(d, reason, concession, by, at); err != nil {
			return err
		}
		seq, _ := ncSeq(id)
		if err := putJSON(tx.Bucket(bucketNCs), u64(seq), nc); err != nil {
			return err
		}
		if _, err := appendAuditTx(tx, mes.AuditEntry{Time: at, Actor: by, Action: mes.AuditChange,
			ObjectType: mes.AuditObjectNC, ObjectID: nc.ID, Batch: nc.Batch, Old: old, New: mustJSON(nc),
			Reason: string(d) + ": " + reason}); err != nil {
			return err
		}
		out = nc
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// mustJSON encodes a value of this package's own types, which always encode.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", v, err))
	}
	return b
}
