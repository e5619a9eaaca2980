package bolt_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
)

// TestLineClock_RestartDoesNotGoBack runs the simulated line's clock at
// 120× on a store, closes it and opens it again: line time continues from
// where it stopped instead of falling back to the wall clock.
func TestLineClock_RestartDoesNotGoBack(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	wallNow := time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)
	wall := mes.NewWallClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return wallNow })
	advance := func(d time.Duration) { mu.Lock(); wallNow = wallNow.Add(d); mu.Unlock() }

	db, path := MustOpenDB(t, bolt.Options{Wall: wall})
	clock, err := mes.OpenLineClock(ctx, mes.LineClockOptions{Wall: wall, Speed: 120, Simulated: true, Store: db})
	require.NoError(t, err)
	db.SetLineClock(clock)
	batches := bolt.NewBatchService(db)
	products := bolt.NewProductService(db)
	line := testLine(t)
	require.NoError(t, products.CreateProduct(ctx, &line.Products[0]))
	for range 30 { // half an hour of wall time: 2.5 days of line time
		advance(time.Minute)
		clock.Now()
	}
	b := &mes.Batch{Product: line.Products[0].ISO, Quantity: 1}
	require.NoError(t, batches.CreateBatch(ctx, b))
	stopped := clock.Now()
	require.Equal(t, wallNow.Add(-30*time.Minute).Add(60*time.Hour), stopped)
	require.NoError(t, db.Close())

	advance(time.Second)
	db, err = bolt.Open(path, bolt.Options{Wall: wall})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	reserved, err := db.LineTime(ctx)
	require.NoError(t, err)
	assert.False(t, reserved.Before(stopped), "the store keeps the line time reserved")
	clock, err = mes.OpenLineClock(ctx, mes.LineClockOptions{Wall: wall, Speed: 120, Simulated: true, Store: db})
	require.NoError(t, err)
	db.SetLineClock(clock)
	batches = bolt.NewBatchService(db)
	got, err := batches.TransitionBatch(ctx, b.ID, mes.BatchReleased, "planner", "", time.Time{})
	require.NoError(t, err)
	assert.False(t, got.Transitions[1].At.Before(got.Transitions[0].At),
		"released at %v, before the batch was created at %v", got.Transitions[1].At, got.Transitions[0].At)
	assert.False(t, clock.Now().Before(stopped))

	// The store never lowers the reserved time.
	require.NoError(t, db.ReserveLineTime(ctx, stopped.Add(-time.Hour)))
	again, err := db.LineTime(ctx)
	require.NoError(t, err)
	assert.False(t, again.Before(reserved))
}

// TestAudit_InTimeOrderPerTimeBase: along the chain, each time base's
// entries never go back in time, whatever time a caller stamped; the two
// bases are independent.
func TestAudit_InTimeOrderPerTimeBase(t *testing.T) {
	ctx := context.Background()
	db, _ := MustOpenDB(t, bolt.Options{})
	a := bolt.NewAuditService(db)
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC) // line time, days ahead of the wall clock
	w0 := time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)
	batchEntry := func(at time.Time) mes.AuditEntry {
		return mes.AuditEntry{Time: at, Actor: "system", Action: mes.AuditCreate, ObjectType: mes.AuditObjectBatch,
			ObjectID: "B000001", Batch: "B000001", New: []byte(`{"state":"planned"}`)}
	}
	login := func(at time.Time) mes.AuditEntry {
		return mes.AuditEntry{Time: at, Actor: "li.wei", Action: mes.AuditLogin, ObjectType: mes.AuditObjectUser, ObjectID: "li.wei"}
	}
	var got []mes.AuditEntry
	for _, e := range []mes.AuditEntry{batchEntry(t0), login(w0), batchEntry(t0.Add(-time.Hour)), login(w0.Add(-time.Minute)), batchEntry(t0.Add(time.Minute))} {
		out, err := a.AppendAudit(ctx, e)
		require.NoError(t, err)
		got = append(got, out)
	}
	assert.Equal(t, []time.Time{t0, w0, t0, w0, t0.Add(time.Minute)},
		[]time.Time{got[0].Time, got[1].Time, got[2].Time, got[3].Time, got[4].Time})
	assert.Equal(t, mes.LineTime, got[0].TimeBase())
	assert.Equal(t, mes.WallTime, got[1].TimeBase())
	var entries []mes.AuditEntry
	for e, err := range a.AuditEntries(ctx, mes.AuditFilter{}) {
		require.NoError(t, err)
		entries = append(entries, e)
	}
	_, err := mes.VerifyChain(mes.AuditEntries(entries))
	require.NoError(t, err, "the chain verifies")
}
