package bolt

import (
	"bytes"
	"context"
	"fmt"
	"iter"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// burChunk bounds the burs read per read transaction by BatchBurs: enough
// to amortise opening the transaction, few enough that memory stays flat
// and no transaction outlives a slow consumer (an HTTP client downloading
// an export).
const burChunk = 256

// releaseEvery is how many chunks BatchBurs reads between releases of the
// memory-mapped pages it walked (releaseMapped): a few MB of the file.
const releaseEvery = 8

var _ mes.BatchBurser = (*BurService)(nil)

// BatchBurs yields the burs of batch in the order they were started,
// reading burChunk of them per read transaction, so a batch of any size is
// walked in constant memory, the pages of the file it maps in included
// (releaseMapped). Each range starts again at the first bur.
// An unknown batch yields ENOTFOUND.
func (s *BurService) BatchBurs(ctx context.Context, batch string) iter.Seq2[*mes.Bur, error] {
	return func(yield func(*mes.Bur, error) bool) {
		var next []byte // burs_by_batch key to resume at; nil before the first chunk
		for n := 1; ; n++ {
			var chunk []*mes.Bur
			done := false
			err := s.db.view(ctx, func(tx *bbolt.Tx) error {
				_, bseq, err := findBatch(tx, batch)
				if err != nil {
					return err
				}
				if next == nil {
					next = u64(bseq)
				}
				chunk, next, done, err = burChunkFrom(tx, u64(bseq), next)
				if err == nil && (n%releaseEvery == 0 || (done && n >= releaseEvery)) {
					releaseMapped(tx)
				}
				return err
			})
			if err != nil {
				yield(nil, fmt.Errorf("burs of batch %s: %w", batch, err))
				return
			}
			for _, b := range chunk {
				if !yield(b, nil) {
					return
				}
			}
			if done {
				return
			}
		}
	}
}

// burChunkFrom reads up to burChunk burs of the batch whose burs_by_batch
// keys start with prefix, from key from on, and returns the key to resume at.
func burChunkFrom(tx *bbolt.Tx, prefix, from []byte) ([]*mes.Bur, []byte, bool, error) {
	all := tx.Bucket(bucketBurs)
	var out []*mes.Bur
	c := tx.Bucket(bucketBursByBatch).Cursor()
	for k, serial := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix); k, serial = c.Next() {
		if len(out) == burChunk {
			return out, bytes.Clone(k), false, nil
		}
		b, err := decodeBur(all, serial)
		if err != nil {
			return nil, nil, false, err
		}
		out = append(out, b)
	}
	return out, nil, true, nil
}

func decodeBur(all *bbolt.Bucket, serial []byte) (*mes.Bur, error) {
	data := all.Get(serial)
	if data == nil {
		return nil, fmt.Errorf("bur index names missing bur %q", serial)
	}
	b, err := decodeBurValue(data)
	if err != nil {
		return nil, fmt.Errorf("decode bur %q: %w", serial, err)
	}
	return b, nil
}

// batchBursTx yields the burs of the batch with sequence bseq inside tx,
// for work that must see them in the same transaction as its write.
func batchBursTx(tx *bbolt.Tx, bseq uint64) iter.Seq2[*mes.Bur, error] {
	return func(yield func(*mes.Bur, error) bool) {
		all := tx.Bucket(bucketBurs)
		prefix := u64(bseq)
		c := tx.Bucket(bucketBursByBatch).Cursor()
		for k, serial := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, serial = c.Next() {
			b, err := decodeBur(all, serial)
			if !yield(b, err) || err != nil {
				return
			}
		}
	}
}
