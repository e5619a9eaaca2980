package bolt

import (
	"bytes"
	"context"
	"time"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

var _ mes.LineTimeStore = (*DB)(nil)

// SetLineClock makes c the clock of the line records the store stamps. The
// line clock is opened on the store (it resumes from the line time kept
// here), so it is set after Open, before the services are used.
func (db *DB) SetLineClock(c *mes.LineClock) { db.line.Store(c) }

// lineNow is line time: store-made stamps of line records, sample retention.
func (db *DB) lineNow() time.Time { return db.line.Load().Now() }

// wallNow is wall time: store-made stamps of accounts and credentials.
func (db *DB) wallNow() time.Time { return db.wall.Now().Round(0) }

// LineTime implements mes.LineTimeStore.
func (db *DB) LineTime(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyLineTime); len(v) == 8 {
			t = getT64(v)
		}
		return nil
	})
	return t, err
}

// ReserveLineTime implements mes.LineTimeStore: it keeps the later of t and
// the stored time.
func (db *DB) ReserveLineTime(ctx context.Context, t time.Time) error {
	return db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		v := t64(t)
		if old := b.Get(keyLineTime); len(old) == 8 && bytes.Compare(old, v) >= 0 {
			return nil
		}
		return b.Put(keyLineTime, v)
	})
}
