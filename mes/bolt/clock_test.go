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
