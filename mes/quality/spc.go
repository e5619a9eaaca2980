package quality

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"github.com/pilotline/pilotline/mes"
)

// SPCMonitor checks each new measurement against its batch's control
// charts: a rule that fires on the newest bur opens an NC (source spc) for
// that bur and, when the product says AutoHold, holds the batch. Charts
// keep only the baseline and the last few points per batch and
// characteristic, so the check costs the same on the 1st bur and the
// 100,000th.
type SPCMonitor struct {
	Batches  mes.BatchService
	Products mes.ProductService
	Burs     mes.BatchBurser
	NCs      mes.NCService
	Log      *slog.Logger
	Baseline int // zero: DefaultSPCBaseline
	// Clock stamps an NC whose measurement carries no time, on line time.
	// Nil: the host's clock.
	Clock *mes.LineClock

	mu     sync.Mutex
	series map[string]*series // batch \x00 characteristic
}

// seriesTail is how many recent points a series keeps: more than the
// longest run rule's pattern (8 on one side), so a run that began before
// the window is seen as longer than the rule's count and fires once, at
// the point that completes it, as it does on the batch's whole chart
// (with exactly 8 kept, a run of 20 fired at each of its last 13 points).
const seriesTail = 16

type series struct {
	base, tail []mes.SPCPoint
	seen       map[string]bool
}

// Wrap returns burs with RecordMeasurement followed by Measured.
func (m *SPCMonitor) Wrap(burs mes.BurService) mes.BurService {
	return &monitoredBurs{BurService: burs, m: m}
}

type monitoredBurs struct {
	mes.BurService
	m *SPCMonitor
}

func (s *monitoredBurs) RecordMeasurement(ctx context.Context, meas mes.Measurement) (*mes.Bur, error) {
	b, err := s.BurService.RecordMeasurement(ctx, meas)
	if err == nil && b != nil {
		if _, merr := s.m.Measured(ctx, b); merr != nil {
			s.m.log().Error("spc check", "serial", b.Serial, "err", merr)
		}
	}
	return b, err
}

func (m *SPCMonitor) log() *slog.Logger {
	if m.Log == nil {
		return slog.Default()
	}
	return m.Log
}

// Measured checks bur b's measured values and returns the alerts that fired
// at it (after opening their NCs and holding the batch when asked). A bur
// seen before changes nothing.
func (m *SPCMonitor) Measured(ctx context.Context, b *mes.Bur) ([]SPCAlert, error) {
	if b.Measurement == nil {
		return nil, nil
	}
	p, err := m.Products.FindProduct(ctx, b.Product)
	if err != nil {
		return nil, err
	}
	baseline := m.Baseline
	if baseline <= 0 {
		baseline = DefaultSPCBaseline
	}
	m.mu.Lock()
	var alerts []SPCAlert
	for _, ch := range sortedCharacteristics(p) {
		v, ok := b.Measurement.Values[ch]
		if !ok {
			continue
		}
		s, err := m.seriesLocked(ctx, p, b.Batch, ch, baseline)
		if err != nil {
			m.mu.Unlock()
			return nil, err
		}
		if s.seen[b.Serial] {
			continue
		}
		// Charted against the grinder of the operation that formed ch.
		pt := p.CharacteristicPoints([]*mes.Bur{b}, ch)[0]
		pt.Value = v
		alerts = append(alerts, s.add(pt, baseline, ch, p.SPCRuleSet())...)
	}
	m.mu.Unlock()
	for _, a := range alerts {
		if err := m.raise(ctx, p, b, a); err != nil {
			return alerts, err
		}
	}
	return alerts, nil
}

// seriesLocked returns the series of (batch, ch), loading the batch's
// baseline and tail from the store at first sight (after a restart).
func (m *SPCMonitor) seriesLocked(ctx context.Context, p *mes.Product, batch, ch string, baseline int) (*series, error) {
	key := batch + "\x00" + ch
	if s, ok := m.series[key]; ok {
		return s, nil
	}
	s := &series{seen: map[string]bool{}}
	if m.Burs != nil {
		// Production order, as the live series grew: by measurement time.
		var pts []mes.SPCPoint
		for b, err := range m.Burs.BatchBurs(ctx, batch) {
			if err != nil {
				return nil, err
			}
			pts = append(pts, p.CharacteristicPoints([]*mes.Bur{b}, ch)...)
		}
		slices.SortStableFunc(pts, func(a, b mes.SPCPoint) int { return a.Time.Compare(b.Time) })
		for _, pt := range pts {
			s.push(pt, baseline)
		}
	}
	if m.series == nil {
		m.series = map[string]*series{}
	}
	m.series[key] = s
	return s, nil
}

func (s *series) push(pt mes.SPCPoint, baseline int) {
	s.seen[pt.Serial] = true
	if len(s.base) < baseline {
		s.base = append(s.base, pt)
		return
	}
	s.tail = append(s.tail, pt)
	if len(s.tail) > seriesTail {
		s.tail = slices.Delete(s.tail, 0, len(s.tail)-seriesTail)
	}
}

// add appends pt and returns the violations that fire at it. Points of the
// baseline are not judged: the limits are not known until it is full.
func (s *series) add(pt mes.SPCPoint, baseline int, ch string, rules []mes.SPCRule) []SPCAlert {
	s.push(pt, baseline)
	if len(s.tail) == 0 {
		return nil
	}
	pts := append(slices.Clone(s.base), s.tail...)
	c, err := mes.IMRChartWindow(pts, 0, len(s.base))
	if err != nil {
		return nil
	}
	last := len(pts) - 1
	var out []SPCAlert
	for _, v := range c.Check(rules...) {
		if v.PlotIndex(c.Kind) == last {
			out = append(out, SPCAlert{Characteristic: ch, Machine: pt.Machine, Violation: v})
		}
	}
	return out
}

// raise opens the suspect-bur NC of alert a and holds the batch when the
// product asks for it.
func (m *SPCMonitor) raise(ctx context.Context, p *mes.Product, b *mes.Bur, a SPCAlert) error {
	at := b.Measurement.Time
	if at.IsZero() {
		at = m.Clock.Now()
	}
	m.log().Warn("spc rule violated", "batch", b.Batch, "serial", b.Serial, "alert", a.String())
	if m.NCs != nil {
		nc := &mes.Nonconformance{Serial: b.Serial, Batch: b.Batch, Characteristic: a.Characteristic, Source: mes.NCSourceSPC,
			Description: a.String(), OpenedAt: at, OpenedBy: "system", State: mes.NCOpen}
		if err := m.NCs.CreateNC(ctx, nc); err != nil {
			return err
		}
	}
	if !p.AutoHold || m.Batches == nil {
		return nil
	}
	batch, err := m.Batches.FindBatch(ctx, b.Batch)
	if err != nil {
		return err
	}
	if !mes.CanTransition(batch.State, mes.BatchHeld) {
		return nil
	}
	reason := "automatic hold: " + a.String()
	if _, err := m.Batches.TransitionBatch(ctx, b.Batch, mes.BatchHeld, "system", reason, at); err != nil && mes.ErrorCode(err) != mes.ECONFLICT {
		return err
	}
	return nil
}
