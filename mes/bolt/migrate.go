package bolt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
	bbolterrors "go.etcd.io/bbolt/errors"
)

// Schema migrations. A fresh file is created at SchemaVersion in one step
// (createSchema); an older file runs migrations[v] for each version v it
// is behind, in one transaction, and then the bur rewrite of schema 5 in
// transactions of its own (migrateBurs).

// migrations[v] moves a file from schema version v to v+1.
var migrations = []func(tx *bbolt.Tx) error{
	0: func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	1: migrateEventsToBinary,
	2: dropEventsByMachine,
	3: rekeyEventKeys,
	4: startBurMigration,
}

// createSchema makes a fresh file's buckets and records SchemaVersion:
// nothing to migrate, no bur rewrite pending.
func createSchema(tx *bbolt.Tx) error {
	if err := ensureBuckets(tx, allBuckets); err != nil {
		return err
	}
	if err := ensureBuckets(tx, openBuckets); err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keySchema, u64(SchemaVersion))
}

// migrate brings the file to SchemaVersion: a fresh file is created at
// it, an older one is migrated forward. Errors: EINVALID (a file from a
// newer schema, or an old one opened read-only).
func (db *DB) migrate() error {
	var version uint64
	fresh := false
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b == nil {
			fresh = true
		} else if v := b.Get(keySchema); len(v) == 8 {
			version = getU64(v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case version > SchemaVersion:
		return mes.Errorf(mes.EINVALID, "store: schema version %d is newer than this Pilotline (%d)", version, SchemaVersion)
	case version == SchemaVersion:
		return nil
	case fresh && !db.opts.ReadOnly:
		return db.bolt.Update(createSchema)
	case db.opts.ReadOnly:
		return mes.Errorf(mes.EINVALID, "store: schema version %d needs migrating to %d; open it read-write once", version, SchemaVersion)
	}
	return db.bolt.Update(func(tx *bbolt.Tx) error {
		for v := version; v < SchemaVersion; v++ {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("migrate schema %d → %d: %w", v, v+1, err)
			}
			db.log.Info("store schema migrated", "from", v, "to", v+1)
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(SchemaVersion))
	})
}

// migrateEventsToBinary (schema 1 → 2) rewrites the JSON events and samples
// of schema 1 in the binary encoding. Indexes hold keys only and stay.
func migrateEventsToBinary(tx *bbolt.Tx) error {
	type kv struct{ k, v []byte }
	for _, name := range [][]byte{bucketEvents, bucketSamples} {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		var next []byte
		for {
			// Collect a chunk, then write it: a bucket must not change
			// under the cursor that walks it.
			var chunk []kv
			c := b.Cursor()
			k, v := c.First()
			if next != nil {
				k, v = c.Seek(next)
			}
			for ; k != nil && len(chunk) < 4096; k, v = c.Next() {
				if len(v) == 0 || v[0] != '{' {
					continue
				}
				var e mes.MachineEvent
				if err := json.Unmarshal(v, &e); err != nil {
					return fmt.Errorf("%s %x: %w", name, k, err)
				}
				enc, err := appendEvent(nil, &e)
				if err != nil {
					return fmt.Errorf("%s %x: %w", name, k, err)
				}
				chunk = append(chunk, kv{bytes.Clone(k), enc})
			}
			if k != nil {
				next = bytes.Clone(k)
			}
			for _, p := range chunk {
				if err := b.Put(p.k, p.v); err != nil {
					return err
				}
			}
			if k == nil {
				break
			}
		}
	}
	return nil
}

// dropEventsByMachine (schema 2 → 3) deletes the per-machine event index:
// one machine's events are now read by scanning the period, and the index
// had cost every commit a dirty page per machine.
func dropEventsByMachine(tx *bbolt.Tx) error {
	if err := tx.DeleteBucket(bucketEventsByMachine); err != nil && !errors.Is(err, bbolterrors.ErrBucketNotFound) {
		return err
	}
	return nil
}

// rekeyEventKeys (schema 3 → 4) rebuilds event_keys in the binary,
// time-ordered form of appendDedupKey from the stored events, which hold
// every fact the old keys stood for.
func rekeyEventKeys(tx *bbolt.Tx) error {
	if err := tx.DeleteBucket(bucketEventKeys); err != nil && !errors.Is(err, bbolterrors.ErrBucketNotFound) {
		return err
	}
	keys, err := tx.CreateBucket(bucketEventKeys)
	if err != nil {
		return err
	}
	dec := newEventDecoder()
	var all [][]byte
	var e mes.MachineEvent
	err = tx.Bucket(bucketEvents).ForEach(func(k, v []byte) error {
		if err := dec.decode(v, &e); err != nil {
			return fmt.Errorf("event %x: %w", k, err)
		}
		all = append(all, appendDedupKey(nil, &e))
		return nil
	})
	if err != nil {
		return err
	}
	// In key order, so the new pages fill up one after another.
	slices.SortFunc(all, bytes.Compare)
	keys.FillPercent = 1
	for _, k := range all {
		if err := keys.Put(k, nil); err != nil {
			return err
		}
	}
	return nil
}

// Bur migration (schema 4 → 5). The schema step itself only records that
// the burs must be rewritten (metaBurMigration, the serial to resume at);
// migrateBurs then rewrites the JSON burs in transactions of at most
// burMigrateChunk burs or burMigrateBytes bytes, each advancing the resume
// key in the same transaction, and deletes the key with the last one.
//
// IMPORTANT: a crash between chunks leaves a schema 5 file (which older
// Pilotlines refuse) whose burs are part binary, part JSON: every reader
// decodes both, and the next read-write open resumes at the stored key.
// Rewriting skips binary values, so a chunk that runs twice changes nothing.
const (
	burMigrateChunk = 2048
	burMigrateBytes = 8 << 20
)

// startBurMigration (schema 4 → 5) marks the burs for rewriting from the first.
func startBurMigration(tx *bbolt.Tx) error {
	return tx.Bucket(bucketMeta).Put(keyBurMigration, []byte{})
}

// migrateBurs finishes a bur migration that startBurMigration began, if
// any, and returns how many burs it rewrote.
func (db *DB) migrateBurs() (int, error) {
	total := 0
	for {
		n, done, err := db.migrateBurChunk()
		if err != nil {
			return total, fmt.Errorf("migrate burs to binary: %w", err)
		}
		total += n
		if done {
			if total > 0 {
				db.log.Info("burs migrated to binary", "count", total)
			}
			return total, nil
		}
	}
}

// migrateBurChunk rewrites one chunk of JSON burs from the resume key on;
// done is true once no migration is pending.
func (db *DB) migrateBurChunk() (n int, done bool, err error) {
	err = db.bolt.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		from := meta.Get(keyBurMigration)
		if from == nil {
			done = true
			return nil
		}
		burs := tx.Bucket(bucketBurs)
		type kv struct{ k, v []byte }
		var chunk []kv
		size := 0
		// Collect, then write: a bucket must not change under its cursor.
		c := burs.Cursor()
		k, v := c.Seek(from)
		for ; k != nil && len(chunk) < burMigrateChunk && size < burMigrateBytes; k, v = c.Next() {
			if len(v) == 0 || v[0] != '{' {
				continue
			}
			var b mes.Bur
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("bur %q: %w", k, err)
			}
			enc, err := appendBur(nil, &b)
			if err != nil {
				return err
			}
			chunk = append(chunk, kv{bytes.Clone(k), enc})
			size += len(v)
		}
		next := bytes.Clone(k) // nil at the end of the bucket
		for _, p := range chunk {
			if err := burs.Put(p.k, p.v); err != nil {
				return err
			}
		}
		n = len(chunk)
		if next == nil {
			done = true
			return meta.Delete(keyBurMigration)
		}
		return meta.Put(keyBurMigration, next)
	})
	return n, done, err
}
