package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/report"
)

// bursFromEvents rebuilds the burs' genealogy from the machines' own
// facts, as the dispatcher records it: one operation record per job, the
// measurement, and good or scrap.
func bursFromEvents(p *mes.Product, events []mes.MachineEvent) []*mes.Bur {
	by := map[string]*mes.Bur{}
	var order []string
	opOf := map[string]mes.Operation{}
	for _, op := range p.Route {
		opOf[op.Program] = op
	}
	for _, e := range events {
		switch {
		case e.Kind == mes.EventCycle && e.Cycle != nil:
			c := e.Cycle
			b := by[c.Serial]
			if b == nil {
				b = &mes.Bur{Serial: c.Serial, Batch: "SIM", Product: p.ISO, Created: c.Start, Disposition: mes.BurInProcess}
				by[c.Serial] = b
				order = append(order, c.Serial)
			}
			op := opOf[c.Program]
			b.Operations = append(b.Operations, mes.OperationRecord{
				Number: op.Number, Name: op.Name, Machine: e.Machine, CycleSeq: c.Seq, Program: c.Program,
				WheelID: c.WheelID, WheelWearUM: c.WheelWearUM, DressCount: c.DressCount,
				Start: c.Start, End: c.End, CycleS: c.End.Sub(c.Start).Seconds(), EnergyKWh: c.EnergyKWh, Aborted: c.Aborted,
			})
			switch {
			case c.Aborted:
				b.Disposition, b.Finished = mes.BurScrap, c.End
			case op.Number == p.Route[len(p.Route)-1].Number && b.Measurement != nil:
				b.Disposition, b.Finished = mes.BurGood, c.End
				for _, r := range b.Results {
					if !r.Pass {
						b.Disposition = mes.BurScrap
					}
				}
			}
		case e.Kind == mes.EventMeasurement && e.Measurement != nil:
			b := by[e.Measurement.Serial]
			if b == nil {
				continue
			}
			m := *e.Measurement
			b.Measurement = &m
			for _, ch := range mes.Characteristics {
				t := p.Tolerances[ch]
				b.Results = append(b.Results, mes.CharResult{Characteristic: ch, Value: m.Values[ch], Lower: t.Lower, Upper: t.Upper, Pass: t.Contains(m.Values[ch])})
			}
		}
	}
	out := make([]*mes.Bur, 0, len(order))
	for _, s := range order {
		out = append(out, by[s])
	}
	return out
}

// TestReportOfTheSimulatedRun builds the pilot-run report of two simulated
// days and checks that its figures hang together: the prescription
// reproduces the run, the bottleneck is the flutes group, each
// characteristic is charted against the grinder of its forming operation.
func TestReportOfTheSimulatedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("two simulated days")
	}
	cfg := defaultLine(t, nil)
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var events []mes.MachineEvent
	l := headless(t, cfg, 5, start, func(e mes.MachineEvent) { events = append(events, e) })
	l.runFor(48*time.Hour, 5*time.Minute)
	p := &cfg.Products[0]
	burs := bursFromEvents(p, events)
	// The batch: the burs finished in the second day, steady state.
	var batch []*mes.Bur
	for _, b := range burs {
		if b.Disposition != mes.BurInProcess && b.Created.After(start.Add(24*time.Hour)) {
			batch = append(batch, b)
		}
	}
	require.Greater(t, len(batch), 300)
	r, err := report.Build(context.Background(), report.Input{
		Line: cfg, Product: p, Batch: &mes.Batch{ID: "SIM", Product: p.ISO, Quantity: len(batch)},
		Burs: batch, Events: events, Generated: start.Add(48 * time.Hour), Replications: 8,
	})
	require.NoError(t, err)
	require.Empty(t, r.Notes)

	require.NotNil(t, r.Prescription)
	t.Logf("measured %.2f good/h, reproduced %.2f good/h (%+.1f %%); target takt %.0f s needs %v (takt %.1f s)",
		r.Prescription.Inputs.GoodPerHour, r.Prescription.Reproduced.GoodPerHour.Mean, 100*r.Prescription.Deviation,
		r.Prescription.Target.RequiredTaktS, r.Prescription.Target.MachinesByGroup, r.Prescription.Target.Expected.TaktS.Mean)
	assert.Less(t, abs(r.Prescription.Deviation), 0.05)
	assert.Equal(t, "FLT", r.Prescription.Reproduced.Bottleneck)
	assert.True(t, r.Prescription.Target.Met)
	assert.Len(t, r.Prescription.WhatIfs, 3)

	paces := slices.IndexFunc(r.Bottleneck, func(g report.GroupLoad) bool { return g.Paces })
	require.GreaterOrEqual(t, paces, 0)
	assert.Equal(t, "FLT", r.Bottleneck[paces].Group)

	measured := 0
	for _, b := range batch {
		if b.Measurement != nil {
			measured++
		}
	}
	for _, c := range r.Capability {
		require.NotNil(t, c.Study, c.Name)
		assert.Equal(t, measured, c.Study.N, "%s: every measured bur of the batch", c.Name)
		for _, pt := range c.Points[:10] {
			m, ok := l.byID[pt.Machine]
			require.True(t, ok, "%s point of %s has a grinder", c.Name, pt.Serial)
			assert.Equal(t, c.FormedBy, m.cfg.Group, "%s is charted against its forming group", c.Name)
		}
		assert.True(t, slices.IsSortedFunc(c.Points, func(a, b report.Point) int { return a.Time.Compare(b.Time) }), "production order")
	}
	require.Len(t, r.Grinders, len(mes.Characteristics))
	assert.Len(t, r.Grinders[0].Grinders, 5, "head diameter: the five HEAD grinders")
	assert.Len(t, r.Grinders[1].Grinders, 10, "working length: the ten FLT grinders")
	assert.Equal(t, "takt", r.Verdict.Checks[len(r.Capability)].Topic)
	assert.False(t, r.Takt.Attained, "the pilot line runs slower than its 180 s target")
	assert.Positive(t, r.Energy.KWhPerGood)
	assert.InDelta(t, r.Energy.KWhPerGood*r.Energy.KgPerKWh, r.Energy.KgCO2ePerGood, 1e-12)

	_, err = json.Marshal(r)
	require.NoError(t, err, "every figure is finite")

	var html, pdf bytes.Buffer
	require.NoError(t, report.WriteHTML(&html, r))
	require.NoError(t, report.WritePDF(&pdf, r))
	assert.Contains(t, html.String(), "中试体检报告与药方")
	assert.Equal(t, 5*3+len(r.Wheel)+1, strings.Count(html.String(), "data:image/svg"), "histogram, I and MR chart per characteristic, a wear chart each, the takt chart")
	assert.True(t, bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")))
	if dir := os.Getenv("PILOTLINE_REPORT_OUT"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "report.html"), html.Bytes(), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "report.pdf"), pdf.Bytes(), 0o644))
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
