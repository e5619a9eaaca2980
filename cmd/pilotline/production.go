package main

import (
	"context"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/kpi"
	"github.com/pilotline/pilotline/mqtt"
	"github.com/pilotline/pilotline/twin"
	"github.com/pilotline/pilotline/ui"
)

// ProductionInterval is how often the MES side of the twin (takt, OEE,
// batch progress, energy) is recomputed from the store.
const ProductionInterval = 2 * time.Second

// feedProduction keeps the twin's production figures and the grinder-state
// gauges current until ctx is done.
func (m *ServeMain) feedProduction(ctx context.Context, line *mes.LineConfig, metrics *ui.Metrics, clock func() time.Time) {
	t := time.NewTicker(ProductionInterval)
	defer t.Stop()
	for {
		if p, rep, err := m.production(ctx, line, clock()); err != nil {
			if ctx.Err() == nil {
				m.logger.Warn("production figures", "err", err)
			}
		} else {
			m.hub.SetProduction(p)
			if m.publisher != nil {
				m.publishFigures(ctx, p, rep)
			}
		}
		states := map[mes.MachineState]int{}
		for _, g := range m.hub.Snapshot().Grinders {
			states[g.State]++
		}
		metrics.SetGrinderStates(states)
		ok, total := m.connected()
		metrics.SetAcquisitionConnected(total > 0 && ok == total)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// shiftStart is when the shift running at now began, or local midnight when
// no shift is running or none is configured.
func shiftStart(line *mes.LineConfig, now time.Time) time.Time {
	return period(line, now).From
}

// period is the stretch the twin's "today" figures count: the shift running
// at now, or the local day when no shift is running or none is configured.
func period(line *mes.LineConfig, now time.Time) twin.Period {
	y, mo, d := now.Date()
	midnight := time.Date(y, mo, d, 0, 0, 0, 0, now.Location())
	for _, s := range line.Shifts {
		mins, err := mes.ParseClock(s.Start)
		if err != nil {
			continue
		}
		for _, day := range []time.Time{midnight, midnight.AddDate(0, 0, -1)} {
			start := day.Add(time.Duration(mins) * time.Minute)
			if !now.Before(start) && now.Before(start.Add(time.Duration(s.DurationS*float64(time.Second)))) {
				return twin.Period{Kind: twin.PeriodShift, Name: s.Name, From: start}
			}
		}
	}
	return twin.Period{Kind: twin.PeriodDay, From: midnight}
}

// production computes the figures of the current shift (line clock).
func (m *ServeMain) production(ctx context.Context, line *mes.LineConfig, now time.Time) (twin.Production, *kpi.Report, error) {
	batches, err := m.batches.ListBatches(ctx, mes.BatchFilter{States: []mes.BatchState{mes.BatchReleased, mes.BatchRunning, mes.BatchHeld}})
	if err != nil {
		return twin.Production{}, nil, err
	}
	per := period(line, now)
	if per.From.Before(m.started) {
		per.From = m.started // figures of this run, not of the hours before it started
	}
	from := per.From
	rep, err := kpi.Compute(ctx, kpi.Input{Line: line, Events: m.events, Batches: batches, Now: now}, kpi.Query{From: from, To: now.Add(time.Second)})
	if err != nil {
		return twin.Production{}, nil, err
	}
	p := twin.Production{
		Takt:            twin.Takt{TargetS: rep.Takt.TargetS, Source: rep.Takt.TargetSource, LastS: rep.Takt.LastS, RollingS: rep.Takt.MeanS},
		BursToday:       rep.Takt.Departures,
		GoodToday:       rep.Energy.GoodBurs,
		EnergyPerBurKWh: rep.Energy.KWhPerBur,
		CarbonPerBurKg:  rep.Energy.KgCO2ePerBur,
		Grinders:        map[string]twin.OEE{},
		Period:          per,
	}
	if l, all := rep.OEE.Line, rep.OEE.AllMachines; l != nil && all != nil {
		// The line's OEE is output-based; its factors are the machines' sums.
		p.OEE = &twin.OEE{Availability: all.Availability, Performance: all.EffectivenessCapped, Quality: all.Quality, OEE: l.OEE}
	}
	for _, o := range rep.OEE.Machines {
		p.Grinders[o.ID] = twin.OEE{Availability: o.Availability, Performance: o.EffectivenessCapped, Quality: o.Quality, OEE: o.OEECapped}
	}
	for _, b := range batches {
		bp := twin.BatchProgress{ID: b.ID, Product: b.Product, State: b.State, Quantity: b.Quantity, Started: b.Started, Completed: b.Completed, Scrap: b.Scrap}
		if prod, err := m.products.FindProduct(ctx, b.Product); err == nil {
			bp.ProductName, bp.ProductNameZH = prod.Name, prod.NameZH
		} else if prod, ok := line.Product(b.Product); ok {
			bp.ProductName, bp.ProductNameZH = prod.Name, prod.NameZH
		}
		p.Batches = append(p.Batches, bp)
	}
	return p, rep, nil
}

// publishFigures hands the shift's figures and every batch's state to the
// plant bus.
func (m *ServeMain) publishFigures(ctx context.Context, p twin.Production, rep *kpi.Report) {
	f := mqtt.Figures{
		TaktTargetS: p.Takt.TargetS, TaktS: p.Takt.RollingS,
		OutputToday: uint64(max(p.BursToday, 0)), GoodToday: uint64(max(p.GoodToday, 0)),
		EnergyPerGoodBurKWh: rep.Energy.KWhPerGoodBur,
	}
	if o := p.OEE; o != nil {
		f.OEE, f.Availability, f.Performance, f.Quality = &o.OEE, &o.Availability, &o.Performance, &o.Quality
	}
	all, err := m.batches.ListBatches(ctx, mes.BatchFilter{})
	if err != nil {
		m.logger.Warn("plant bus: list batches", "err", err)
	}
	for _, b := range all {
		f.Batches = append(f.Batches, mqtt.Batch{ID: b.ID, Product: b.Product, State: b.State})
	}
	m.publisher.SetFigures(f)
}
