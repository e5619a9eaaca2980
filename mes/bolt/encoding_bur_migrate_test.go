package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/quality"
)

func migrateProduct() mes.Product {
	return mes.Product{
		ISO: "500314001001014", Name: "round bur", ShankType: "FG",
		Tolerances: map[string]mes.Tolerance{
			mes.CharHeadDiameter: {Nominal: 1.4, Lower: 1.38, Upper: 1.42},
			mes.CharRadialRunout: {Nominal: 0, Lower: 0, Upper: 0.01},
		},
		Route: []mes.Operation{
			{Number: 10, Name: "Shank", Group: "SHK", Program: "O1010", ProgramVersion: "3.1", IdealCycleS: 780},
			{Number: 20, Name: "Head", Group: "HEAD", Program: "O2020", ProgramVersion: "1.4", IdealCycleS: 780},
			{Number: 30, Name: "Inspection", Group: "QC", Program: "M5050", IdealCycleS: 90},
		},
	}
}

// schema4Store is a store whose burs are stored as schema 4 stored them
// (JSON), marked schema 4: audited burs made through the services, one of
// them scrapped with its NCs, one still in process, and bulk burs
// enough for several migration chunks.
type schema4Store struct {
	path     string
	want     map[string]mes.Bur // every bur as schema 4 read it back
	finished int
}

func writeSchema4Store(t *testing.T, bulk int) schema4Store {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v4.db")
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	db, err := Open(path, Options{Logger: slog.New(slog.DiscardHandler), Line: mes.LineClockFrom(func() time.Time { return t0 }), Wall: mes.NewWallClock(func() time.Time { return t0 })})
	require.NoError(t, err)
	p := migrateProduct()
	require.NoError(t, NewProductService(db).CreateProduct(ctx, &p))
	batch := &mes.Batch{Product: p.ISO, Quantity: 5, Org: "acme", BlankLot: "CB-2026-017", State: mes.BatchReleased}
	require.NoError(t, NewBatchService(db).CreateBatch(ctx, batch))
	burs := NewBurService(db)
	var cycle uint64
	s := schema4Store{path: path}
	for i := 1; i <= 5; i++ {
		at := t0.Add(time.Duration(i) * 3 * time.Minute)
		bur, err := burs.StartBur(ctx, batch.ID, at)
		require.NoError(t, err)
		for j, op := range p.Route {
			if i == 5 && j == 2 {
				break // stays in process
			}
			m := fmt.Sprintf("%s%d", op.Group, i%2+1)
			require.NoError(t, burs.AssignBur(ctx, bur.Serial, m))
			cycle++
			st := at.Add(time.Duration(j) * 13 * time.Minute)
			_, err := burs.CompleteOperation(ctx, m, mes.Cycle{Seq: cycle, Serial: bur.Serial, Program: op.Program, ProgramVersion: op.ProgramVersion,
				ProgramHash: "sha256:9f2c", WheelID: "W-1", WheelWearUM: 0.25 * float64(i), DressCount: uint32(i), Start: st, End: st.Add(171 * time.Second),
				PeakSpindleLoad: 61.5, EnergyKWh: 0.21})
			require.NoError(t, err)
		}
		if i == 5 {
			continue
		}
		head := 1.401
		if i == 2 {
			head = 1.5 // out of tolerance: scrap and an NC
		}
		_, err = burs.RecordMeasurement(ctx, mes.Measurement{Seq: uint64(i), Serial: bur.Serial, Station: "QC1", GaugeID: "GA-7",
			CalibrationDue: t0.AddDate(0, 6, 0), Time: at.Add(time.Hour),
			Values: map[string]float64{mes.CharHeadDiameter: head, mes.CharRadialRunout: 0.004}})
		require.NoError(t, err)
		s.finished++
	}
	if bulk > 0 {
		big := &mes.Batch{ID: batchID(2), Product: p.ISO, Quantity: bulk, Org: "acme", State: mes.BatchRunning, Started: bulk, Created: t0}
		tmpl := fullBur()
		all := make([]*mes.Bur, bulk)
		for i := range all {
			b := tmpl
			b.Serial, b.Batch, b.Seq = fmt.Sprintf("%s-%06d", big.ID, i+1), big.ID, i+1
			b.Disposition, b.Finished, b.Measurement, b.Results = mes.BurInProcess, time.Time{}, nil, nil
			all[i] = &b
		}
		require.NoError(t, BulkLoadBurs(ctx, db, big, all))
	}

	// Back to what schema 4 stored: JSON burs and its version number.
	s.want = map[string]mes.Bur{}
	require.NoError(t, db.bolt.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketBurs)
		var keys [][]byte
		require.NoError(t, b.ForEach(func(k, _ []byte) error { keys = append(keys, k); return nil }))
		for _, k := range keys {
			bur, err := decodeBurValue(b.Get(k))
			require.NoError(t, err)
			js, err := json.Marshal(bur)
			require.NoError(t, err)
			var back mes.Bur
			require.NoError(t, json.Unmarshal(js, &back))
			s.want[string(k)] = back
			require.NoError(t, b.Put(k, js))
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(4))
	}))
	require.NoError(t, db.Close())
	require.Len(t, s.want, 5+bulk)
	return s
}

// assertBurs checks every bur reads back as schema 4 gave it, through
// FindBur and BatchBurs, and that the store verifies: each finished bur
// against its audit entry, the audit chain, the NCs.
func (s schema4Store) assertBurs(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	svc := NewBurService(db)
	for serial, want := range s.want {
		got, err := svc.FindBur(ctx, serial)
		require.NoError(t, err)
		assert.Equal(t, want, *got, serial)
	}
	n := 0
	for _, id := range []string{batchID(1), batchID(2)} {
		for b, err := range svc.BatchBurs(ctx, id) {
			require.NoError(t, err)
			assert.Equal(t, s.want[b.Serial], *b)
			n++
		}
	}
	assert.Len(t, s.want, n)

	rep, err := verifyStore(ctx, db)
	require.NoError(t, err)
	assert.Empty(t, rep.Problems)
	assert.Equal(t, s.finished, rep.Burs, "every finished bur checked against its audit entry")
}

// verifyStore checks the store as `pilotline verify` does.
func verifyStore(ctx context.Context, db *DB) (*quality.StoreReport, error) {
	sigs := NewSignatureService(db)
	src := mes.TraceSource{Batches: NewBatchService(db), Products: NewProductService(db), Burs: NewBurService(db),
		NCs: NewNCService(db), Signatures: sigs, Audit: NewAuditService(db)}
	return quality.VerifyStore(ctx, src, sigs)
}

// storedBurForms counts the burs stored in each encoding.
func storedBurForms(t *testing.T, db *DB) (binary, jsonValues int) {
	t.Helper()
	require.NoError(t, db.bolt.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBurs).ForEach(func(_, v []byte) error {
			switch v[0] {
			case burEncodingV1:
				binary++
			case '{':
				jsonValues++
			default:
				t.Errorf("bur stored as %#x", v[0])
			}
			return nil
		})
	}))
	return binary, jsonValues
}

func schemaOf(t *testing.T, db *DB) (version uint64, migrating bool) {
	t.Helper()
	require.NoError(t, db.bolt.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		version = getU64(meta.Get(keySchema))
		migrating = meta.Get(keyBurMigration) != nil
		return nil
	}))
	return version, migrating
}

func TestMigrate_Schema4BursToBinary(t *testing.T) {
	ctx := context.Background()
	s := writeSchema4Store(t, 3*burMigrateChunk+17)

	db, err := Open(s.path, Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Check(ctx))
	version, migrating := schemaOf(t, db)
	assert.EqualValues(t, SchemaVersion, version)
	assert.False(t, migrating, "the migration finished and left no resume key")
	bin, js := storedBurForms(t, db)
	assert.Equal(t, len(s.want), bin)
	assert.Zero(t, js)
	s.assertBurs(t, db)

	// The check is not vacuous: an altered binary bur is caught.
	serial := fmt.Sprintf("%s-%05d", batchID(1), 1)
	require.NoError(t, db.bolt.Update(func(tx *bbolt.Tx) error {
		b, err := findBur(tx, serial)
		if err != nil {
			return err
		}
		b.Measurement.Values[mes.CharHeadDiameter] = 1.402
		return putBur(tx, b)
	}))
	rep, err := verifyStore(ctx, db)
	require.NoError(t, err)
	require.Len(t, rep.Problems, 1)
	assert.Contains(t, rep.Problems[0], serial)
}

// A crash between migration chunks is a file with the schema step and some
// chunks committed: it must open read-only with every bur intact, and the
// next read-write open must finish the migration.
func TestMigrate_BursResumeAfterCrash(t *testing.T) {
	ctx := context.Background()
	s := writeSchema4Store(t, 2*burMigrateChunk+5)

	// What a process killed after its first chunk left behind.
	bdb, err := bbolt.Open(s.path, 0o600, nil)
	require.NoError(t, err)
	half := &DB{bolt: bdb, log: slog.New(slog.DiscardHandler)}
	require.NoError(t, half.migrate())
	n, done, err := half.migrateBurChunk()
	require.NoError(t, err)
	assert.Equal(t, burMigrateChunk, n)
	assert.False(t, done)
	version, migrating := schemaOf(t, half)
	assert.EqualValues(t, SchemaVersion, version, "older Pilotlines refuse a half-migrated file")
	assert.True(t, migrating)
	bin, js := storedBurForms(t, half)
	assert.Equal(t, burMigrateChunk, bin)
	assert.Equal(t, len(s.want)-burMigrateChunk, js)
	require.NoError(t, bdb.Close())

	ro, err := Open(s.path, Options{Logger: slog.New(slog.DiscardHandler), ReadOnly: true})
	require.NoError(t, err, "a half-migrated file opens read-only")
	s.assertBurs(t, ro)
	require.NoError(t, ro.Close())

	db, err := Open(s.path, Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Check(ctx))
	_, migrating = schemaOf(t, db)
	assert.False(t, migrating)
	bin, js = storedBurForms(t, db)
	assert.Equal(t, len(s.want), bin)
	assert.Zero(t, js)
	s.assertBurs(t, db)

	// Running it again from the start rewrites nothing.
	require.NoError(t, db.bolt.Update(startBurMigration))
	again, err := db.migrateBurs()
	require.NoError(t, err)
	assert.Zero(t, again)
	_, migrating = schemaOf(t, db)
	assert.False(t, migrating)
	s.assertBurs(t, db)
}
