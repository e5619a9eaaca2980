package kpi

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes/kpi/kpitest"
)

func TestEnergyDefaultBurBatch(t *testing.T) {
	tests := []struct{ pattern, serial, want string }{
		{"{batch}-{seq:05}", "B000001-00042", "B000001"},
		{"{batch}-{seq:05}", "B-7-00042", "B-7"},
		{"{batch}-{seq:05}", "00042", ""},
		{"{batch}/{seq}", "LOT9/12", "LOT9"},
		{"{batch}{seq:05}", "B100042", ""}, // no separator: cannot tell
		{"BUR-{seq:06}", "BUR-000001", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, defaultBurBatch(tt.pattern)(tt.serial), "%s %s", tt.pattern, tt.serial)
	}
}

func TestCompute_Energy(t *testing.T) {
	ctx := context.Background()
	line := testLine()
	factor := 0.5*0.1 + 0.5*0.5
	require.InDelta(t, factor, line.Carbon.KgPerKWh(), 1e-12)
	const eps = 1e-9

	rep, err := Compute(ctx, Input{Line: line, Events: kpitest.NewMemStore(scenario()...)}, scenarioQuery())
	require.NoError(t, err)
	e := rep.Energy
	// 19 jobs of 0.5 kWh and an aborted one of 0.25 kWh on batch B1, one of 0.5 kWh on B2.
	assert.InDelta(t, factor, e.KgCO2ePerKWh, eps)
	assert.InDelta(t, 10.25, e.TotalKWh, eps)
	assert.InDelta(t, 10.25*factor, e.TotalKgCO2e, eps)
	assert.Equal(t, 21, e.Burs)
	assert.Equal(t, 4, e.GoodBurs, "burs 1, 3, 4, 5 passed inspection")
	assert.InDelta(t, 10.25/21, e.KWhPerBur, eps)
	assert.InDelta(t, 10.25/21*factor, e.KgCO2ePerBur, eps)
	assert.InDelta(t, 10.25/4, e.KWhPerGoodBur, eps)
	assert.InDelta(t, 10.25/4*factor, e.KgCO2ePerGoodBur, eps)
	require.Len(t, e.Batches, 2)
	b1, b2 := e.Batches[0], e.Batches[1]
	assert.Equal(t, "B1", b1.Batch)
	assert.Equal(t, []int{20, 4}, []int{b1.Burs, b1.GoodBurs})
	assert.InDelta(t, 9.75, b1.KWh, eps)
	assert.InDelta(t, 9.75*factor, b1.KgCO2e, eps)
	assert.InDelta(t, 9.75/20, b1.KWhPerBur, eps)
	assert.InDelta(t, 9.75/4*factor, b1.KgCO2ePerGoodBur, eps)
	assert.Equal(t, BatchEnergy{Batch: "B2", Burs: 1, KWh: 0.5, KgCO2e: 0.5 * factor, KWhPerBur: 0.5, KgCO2ePerBur: 0.5 * factor}, b2)

	status := map[string]string{}
	kwh := map[string]float64{}
	for _, b := range e.BurDetail {
		status[b.Serial], kwh[b.Serial] = b.Status, b.KWh
	}
	assert.Len(t, e.BurDetail, 21)
	assert.Equal(t, "good", status["B1-00001"])
	assert.Equal(t, "failed", status["B1-00002"])
	assert.Equal(t, "scrap", status["B1-00006"])
	assert.Equal(t, "in_process", status["B1-00007"])
	assert.Equal(t, 0.5, kwh["B1-00003"], "a job delivered twice is booked once")
	assert.Equal(t, 0.25, kwh["B1-00006"])

	// A bur's energy adds up over its operations on different machines.
	events := append(scenario(), cycleEv("M2", at("12:00"), 1, "B1-00001", 0, 0.75, false))
	q := scenarioQuery()
	q.BurDetail = false
	rep, err = Compute(ctx, Input{Line: line, Events: kpitest.NewMemStore(events...),
		BurBatch: func(string) string { return "ORDER-1" }}, q)
	require.NoError(t, err)
	assert.Nil(t, rep.Energy.BurDetail)
	require.Len(t, rep.Energy.Batches, 1, "the caller's serial→batch map is used")
	assert.Equal(t, "ORDER-1", rep.Energy.Batches[0].Batch)
	assert.InDelta(t, 11.0, rep.Energy.TotalKWh, eps)
	assert.Equal(t, 21, rep.Energy.Burs)

	q.Machine = "M2"
	rep, err = Compute(ctx, Input{Line: line, Events: kpitest.NewMemStore(events...)}, q)
	require.NoError(t, err)
	assert.InDelta(t, 0.75, rep.Energy.TotalKWh, eps, "only the selected machine's jobs")
	assert.Equal(t, 1, rep.Energy.GoodBurs)
}
