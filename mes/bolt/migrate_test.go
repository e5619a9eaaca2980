package bolt

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"
)

// TestOpen_FreshStoreAtNewestSchema: a new file is created at
// SchemaVersion in one step, with every bucket of the schema and none of
// the older ones, and no migration runs or is left pending.
func TestOpen_FreshStoreAtNewestSchema(t *testing.T) {
	var logs bytes.Buffer
	path := filepath.Join(t.TempDir(), "fresh.db")
	db, err := Open(path, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	require.NoError(t, db.Close())
	assert.NotContains(t, logs.String(), "migrated", "a fresh store is not migrated")

	b, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer b.Close()
	require.NoError(t, b.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		require.NotNil(t, meta)
		assert.Equal(t, u64(SchemaVersion), meta.Get(keySchema))
		assert.Nil(t, meta.Get(keyBurMigration), "no bur rewrite pending")
		for _, name := range append(append([][]byte{}, allBuckets...), openBuckets...) {
			assert.NotNil(t, tx.Bucket(name), "bucket %s", name)
		}
		assert.Nil(t, tx.Bucket(bucketEventsByMachine), "dropped in schema 3")
		return nil
	}))
}

// TestOpen_FreshStoreMatchesMigratedOne: the buckets of a fresh store are
// those a store migrated from schema 1 ends up with.
func TestOpen_FreshStoreMatchesMigratedOne(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "v1.db")
	b, err := bbolt.Open(old, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, b.Update(func(tx *bbolt.Tx) error {
		if err := migrations[0](tx); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketEventsByMachine); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(1))
	}))
	require.NoError(t, b.Close())

	buckets := func(path string) []string {
		db, err := Open(path, Options{Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		var names []string
		require.NoError(t, db.bolt.View(func(tx *bbolt.Tx) error {
			assert.Equal(t, u64(SchemaVersion), tx.Bucket(bucketMeta).Get(keySchema))
			return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
				names = append(names, string(name))
				return nil
			})
		}))
		require.NoError(t, db.Close())
		return names
	}
	assert.Equal(t, buckets(old), buckets(filepath.Join(dir, "fresh.db")))
}
