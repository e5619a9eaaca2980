package bolt

import (
	"context"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// BulkLoadBurs stores burs and their batch index directly, many per
// transaction, for benchmarks that need a store with a long history.
// burs must be sorted by batch and seq.
func BulkLoadBurs(ctx context.Context, db *DB, batch *mes.Batch, burs []*mes.Bur) error {
	return db.update(ctx, func(tx *bbolt.Tx) error {
		seq, ok := batchSeq(batch.ID)
		if !ok {
			return mes.Errorf(mes.EINVALID, "batch id %q", batch.ID)
		}
		if err := putBatch(tx, seq, batch); err != nil {
			return err
		}
		bb, idx := tx.Bucket(bucketBurs), tx.Bucket(bucketBursByBatch)
		bb.FillPercent, idx.FillPercent = 0.95, 0.95 // appended in key order
		for _, b := range burs {
			if err := putBur(tx, b); err != nil {
				return err
			}
			if err := idx.Put(burByBatchKey(seq, b.Seq), []byte(b.Serial)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Bolt exposes the underlying bbolt handle to benchmarks that compare
// against bare bbolt.
func (db *DB) Bolt() *bbolt.DB { return db.bolt }
