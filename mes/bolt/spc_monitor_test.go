package bolt_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mes/quality"
)

// TestSPCMonitor_EightOnOneSideHoldsBatch runs a stable baseline, then
// eight burs in tolerance but all above the centre line: the eighth opens a
// suspect-bur NC and, with AutoHold, holds the batch naming the rule.
func TestSPCMonitor_EightOnOneSideHoldsBatch(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	db, err := bolt.Open(filepath.Join(t.TempDir(), "pilotline.db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	line, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	p := line.Products[0]
	p.AutoHold = true
	p.SPCRules = mes.RuleSetWesternElectric // its rule 4: eight on one side
	products, batches, burs, ncs := bolt.NewProductService(db), bolt.NewBatchService(db), bolt.NewBurService(db), bolt.NewNCService(db)
	require.NoError(t, products.CreateProduct(ctx, &p))
	b := &mes.Batch{Product: p.ISO, Quantity: 50, Org: "acme", State: mes.BatchReleased}
	require.NoError(t, batches.CreateBatch(ctx, b))
	mon := &quality.SPCMonitor{Batches: batches, Products: products, Burs: burs, NCs: ncs, Log: slog.New(slog.DiscardHandler)}
	recorder := mon.Wrap(burs)

	measure := func(i int, offset float64) {
		bur, err := burs.StartBur(ctx, b.ID, t0)
		require.NoError(t, err)
		v := map[string]float64{}
		for ch, tol := range p.Tolerances {
			v[ch] = tol.Nominal + offset*(tol.Upper-tol.Nominal)
		}
		_, err = recorder.RecordMeasurement(ctx, mes.Measurement{Seq: uint64(i), Serial: bur.Serial, Station: "QC1", Time: t0.Add(time.Duration(i) * time.Minute), Values: v})
		require.NoError(t, err)
	}
	for i := range quality.DefaultSPCBaseline {
		measure(i+1, []float64{-0.1, 0.1, -0.05, 0.05}[i%4])
	}
	for i := range 7 {
		measure(100+i, 0.06)
	}
	got, err := batches.FindBatch(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, mes.BatchRunning, got.State, "seven on one side is no rule yet")
	list, err := ncs.ListNCs(ctx, b.ID)
	require.NoError(t, err)
	assert.Empty(t, list)

	measure(200, 0.06)
	got, err = batches.FindBatch(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, mes.BatchHeld, got.State)
	last := got.Transitions[len(got.Transitions)-1]
	assert.Equal(t, "system", last.By)
	assert.Contains(t, last.Reason, string(mes.RuleEightOneSide))
	list, err = ncs.ListNCs(ctx, b.ID)
	require.NoError(t, err)
	require.NotEmpty(t, list, "a suspect-bur NC per characteristic")
	for _, nc := range list {
		assert.Equal(t, mes.NCSourceSPC, nc.Source)
		assert.Equal(t, b.ID+"-00033", nc.Serial)
	}

	// A fresh monitor (after a restart) loads the series from the store and
	// does not judge a bur twice.
	mon2 := &quality.SPCMonitor{Batches: batches, Products: products, Burs: burs, NCs: ncs}
	bur, err := burs.FindBur(ctx, b.ID+"-00033")
	require.NoError(t, err)
	alerts, err := mon2.Measured(ctx, bur)
	require.NoError(t, err)
	assert.Empty(t, alerts)
}
