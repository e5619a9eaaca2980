package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// systemActor records transitions the store makes by itself.
const systemActor = "system"

// BatchService stores batches and enforces their state machine.
type BatchService struct{ db *DB }

var _ mes.BatchService = (*BatchService)(nil)

// NewBatchService returns the batch service on db.
func NewBatchService(db *DB) *BatchService { return &BatchService{db: db} }

// CreateBatch implements mes.BatchService. The creation is the batch's first
// transition ("" → planned or released); its By is taken from a single
// transition the caller supplies, else "system". Counts the caller sets are
// ignored: the store maintains them.
func (s *BatchService) CreateBatch(ctx context.Context, b *mes.Batch) error {
	if b == nil {
		return mes.Errorf(mes.EINVALID, "batch: missing")
	}
	if err := b.Validate(); err != nil {
		return err
	}
	by, reason := systemActor, ""
	if len(b.Transitions) == 1 && b.Transitions[0].By != "" {
		by, reason = b.Transitions[0].By, b.Transitions[0].Reason
	}
	nb := *b
	nb.Started, nb.Completed, nb.Scrap, nb.Rework = 0, 0, 0, 0
	nb.Created = s.db.lineNow().UTC()
	if nb.State == "" {
		nb.State = mes.BatchPlanned
	}
	nb.Transitions = []mes.Transition{{To: nb.State, By: by, At: nb.Created, Reason: reason}}
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		if p, err := findProduct(tx, nb.Product); mes.ErrorCode(err) == mes.ENOTFOUND || err == nil && !p.VisibleTo(nb.Org) {
			return mes.Errorf(mes.EINVALID, "product: unknown product %q", nb.Product)
		} else if err != nil {
			return err
		}
		bk := tx.Bucket(bucketBatches)
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		nb.ID = batchID(seq)
		return putJSON(bk, u64(seq), &nb)
	})
	if err != nil {
		return err
	}
	*b = nb
	return nil
}

// FindBatch implements mes.BatchService.
func (s *BatchService) FindBatch(ctx context.Context, id string) (*mes.Batch, error) {
	var b *mes.Batch
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		b, _, err = findBatch(tx, id)
		return err
	})
	return b, err
}

func findBatch(tx *bbolt.Tx, id string) (*mes.Batch, uint64, error) {
	seq, ok := batchSeq(id)
	var b mes.Batch
	if ok {
		found, err := getJSON(tx.Bucket(bucketBatches), u64(seq), &b)
		if err != nil {
			return nil, 0, err
		}
		ok = found
	}
	if !ok {
		return nil, 0, mes.Errorf(mes.ENOTFOUND, "batch %q not found", id)
	}
	return &b, seq, nil
}

func putBatch(tx *bbolt.Tx, seq uint64, b *mes.Batch) error {
	return putJSON(tx.Bucket(bucketBatches), u64(seq), b)
}

// ListBatches implements mes.BatchService.
func (s *BatchService) ListBatches(ctx context.Context, f mes.BatchFilter) ([]*mes.Batch, error) {
	var bs []*mes.Batch
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketBatches).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var b mes.Batch
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("decode batch %d: %w", getU64(k), err)
			}
			if (f.Org == "" || b.Org == f.Org) && (len(f.States) == 0 || slices.Contains(f.States, b.State)) {
				bs = append(bs, &b)
			}
		}
		return nil
	})
	return bs, err
}

// TransitionBatch implements mes.BatchService. A zero at means now.
func (s *BatchService) TransitionBatch(ctx context.Context, id string, to mes.BatchState, by, reason string, at time.Time) (*mes.Batch, error) {
	if at.IsZero() {
		at = s.db.lineNow()
	}
	var b *mes.Batch
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		var seq uint64
		var err error
		if b, seq, err = findBatch(tx, id); err != nil {
			return err
		}
		if err := b.Transition(to, by, reason, at.UTC()); err != nil {
			return err
		}
		return putBatch(tx, seq, b)
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}
