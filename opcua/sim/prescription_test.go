package sim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/linesim"
)

// TestPrescriptionReproducesTheSimulatedLine runs the pilot line's own
// configuration on the simulator for three days, measures the run as the
// report does (cycle times, handovers, faults, repairs, dressing, rejects
// per machine, from the machines' events), feeds those figures to the line
// prescription's simulation and checks that it reproduces the run's
// throughput and takt within 5 %.
func TestPrescriptionReproducesTheSimulatedLine(t *testing.T) {
	if testing.Short() {
		t.Skip("three simulated days")
	}
	cfg := defaultLine(t, nil)
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var events []mes.MachineEvent
	l := headless(t, cfg, 11, start, func(e mes.MachineEvent) { events = append(events, e) })
	const days = 3
	l.runFor(days*24*time.Hour, 5*time.Minute)

	warm := 12 * time.Hour
	model, run, err := linesim.Measure(cfg, &cfg.Products[0], events, start.Add(warm), start.Add(days*24*time.Hour), nil)
	require.NoError(t, err)
	require.Greater(t, run.Good, 1000, "the run made enough burs to judge")
	require.Positive(t, run.Rejected+countAborted(run), "the run had losses for the model to learn")

	sum, err := linesim.Replicate(context.Background(), model, linesim.Run{
		HorizonS: days * 86400, WarmupS: warm.Seconds(), Seed: 1,
	}, 16, 0.95)
	require.NoError(t, err)
	t.Logf("run: %d good, %.2f good/h, takt %.1f s; prescription: %.2f good/h [%.2f, %.2f], takt %.1f s, OEE %.3f, bottleneck %s",
		run.Good, run.GoodPerHour, run.TaktS, sum.GoodPerHour.Mean, sum.GoodPerHour.Low, sum.GoodPerHour.High,
		sum.TaktS.Mean, sum.OEE.Mean, sum.Bottleneck)
	assert.InEpsilon(t, run.GoodPerHour, sum.GoodPerHour.Mean, 0.05, "throughput within 5 %")
	assert.InEpsilon(t, run.TaktS, sum.TaktS.Mean, 0.05, "takt within 5 %")
}

func countAborted(r linesim.RunFigures) int {
	n := 0
	for _, m := range r.Machines {
		n += m.Aborted
	}
	return n
}

// BenchmarkWeek simulates one week of the line in virtual time: the
// simulator itself run headless (the baseline: the same grinder model with
// robots, power and OPC UA values) against the prescription's simulation of
// the 25-grinder line and of a 100-grinder line (every group ×4).
func BenchmarkWeek(b *testing.B) {
	cfg := defaultLine(b, nil)
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	c25, err := linesim.Nominal(cfg, &cfg.Products[0])
	require.NoError(b, err)
	c100 := c25
	for _, s := range c25.Stages {
		c100, err = c100.WithMachines(s.Group, 4*len(s.Machines))
		require.NoError(b, err)
	}
	week := linesim.Run{HorizonS: 7 * 86400, Seed: 1}
	b.Run("simulator-25-baseline", func(b *testing.B) {
		var good uint32
		for b.Loop() {
			l := headless(b, cfg, 1, start, nil)
			l.runFor(7*24*time.Hour, 5*time.Minute)
			good = l.byID["QC1"].parts
		}
		b.ReportMetric(float64(good), "inspected/week")
	})
	for _, bc := range []struct {
		name string
		c    linesim.Config
	}{{"prescription-25", c25}, {"prescription-100", c100}} {
		b.Run(bc.name, func(b *testing.B) {
			var good int
			for b.Loop() {
				r, err := linesim.Simulate(bc.c, week)
				require.NoError(b, err)
				good = r.Good
			}
			b.ReportMetric(float64(good), "good/week")
		})
	}
}
