package kpi

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/kpi/kpitest"
)

// BenchmarkCompute computes the KPIs of the 25-grinder line over 30
// days (and, for comparison, one machine over 30 days and the line over one
// day). Target: under 500 ms per 30-day line query.
//
//	go test ./mes -run '^$' -bench Compute -benchmem
func BenchmarkCompute(b *testing.B) {
	line, store := kpitest.Month(b)
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	in := Input{Line: line, Events: store, Batches: []*mes.Batch{{ID: "B000100", State: mes.BatchRunning, Quantity: 500,
		Completed: 120, GoodRequired: true, PlannedStart: from, PlannedEnd: from.Add(40 * 24 * time.Hour)}}}
	for _, bc := range []struct {
		name string
		q    Query
	}{
		{"line_30d", Query{From: from, To: from.Add(30 * 24 * time.Hour), Location: time.UTC}},
		{"machine_30d", Query{From: from, To: from.Add(30 * 24 * time.Hour), Location: time.UTC, Machine: "G07"}},
		{"line_1d", Query{From: from.Add(10 * 24 * time.Hour), To: from.Add(11 * 24 * time.Hour), Location: time.UTC}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var rep *Report
			for b.Loop() {
				var err error
				rep, err = Compute(context.Background(), in, bc.q)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rep.Events), "events/op")
			b.ReportMetric(float64(len(store.All())), "stored_events")
		})
	}
}

// TestKPIBenchDataIsRealistic keeps the benchmark honest: the synthetic
// month has the volume and the shape the benchmark claims.
func TestKPIBenchDataIsRealistic(t *testing.T) {
	line, store := kpitest.Month(t)
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	rep, err := Compute(context.Background(), Input{Line: line, Events: store},
		Query{From: from, To: from.Add(30 * 24 * time.Hour), Location: time.UTC})
	require.NoError(t, err)
	assert.Greater(t, rep.Events, 500_000, "events in 30 days")
	require.NotNil(t, rep.OEE.AllMachines)
	all := rep.OEE.AllMachines
	assert.InDelta(t, 0.95, all.Availability, 0.04, "alarms and setup; idle, starved and blocked are no work")
	assert.InDelta(t, 0.81, all.Quality, 0.05, "about 3 %% of jobs per operation aborted, 1 %% fail inspection, the last burs pending")
	for _, m := range rep.OEE.Machines {
		// The synthetic month runs every grinder at about 20 + 780 + 20 s;
		// only the flute grinders (PRU 1620 s) are faster than planned.
		if g, _ := line.Machine(m.ID); g.Group != "FLT" {
			assert.LessOrEqual(t, m.EffectivenessUncapped, 1.0, "%s: load, grind and unload take at least the PRU", m.ID)
		}
	}
	assert.Greater(t, len(rep.Downtime), 10, "alarms by code in the Pareto")
	// A bur leaves every 180 s around the clock; 1.5 h of breaks a day are
	// not planned busy time, so 180 s × 22.5 / 24 of it.
	assert.InDelta(t, 180*22.5/24, rep.Takt.PeriodMeanS, 1)
	assert.Equal(t, 30*86400.0*26, rep.OEE.AllMachines.Time.PeriodS)
}
