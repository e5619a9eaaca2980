package report

import (
	"context"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/kpi"
)

// CarryInS is how far before a batch's first bur a report reads machine
// events, so that each machine's state at the window's start is known.
const CarryInS = 3600

// EventKinds are the machine events a report reads (process samples are
// not needed and may be many).
var EventKinds = []mes.EventKind{mes.EventState, mes.EventCycle, mes.EventAlarmRaised, mes.EventAlarmCleared, mes.EventMeasurement}

// Sources are the stores a report is gathered from: the API server's and
// the command line's own.
type Sources struct {
	Line     *mes.LineConfig
	Products mes.ProductService
	Burs     mes.BurService
	Events   mes.EventStore
	// OEE computes the KPI report for a window; nil leaves the waterfall out.
	OEE func(ctx context.Context, q kpi.Query) (*kpi.Report, error)
}

// Report gathers batch b's product, burs, the machine events and the OEE
// of its window, and builds its report. annual is the prescription's target
// volume (0: the line's takt all year).
func (s Sources) Report(ctx context.Context, b *mes.Batch, annual int, now time.Time) (*Report, error) {
	p, err := s.Products.FindProduct(ctx, b.Product)
	if err != nil {
		return nil, err
	}
	burs, err := s.Burs.ListBurs(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	in := Input{Line: s.Line, Product: p, Batch: b, Burs: burs, AnnualGood: annual, Generated: now}
	from, to := Window(in)
	f := mes.EventFilter{Kinds: EventKinds, From: from.Add(-CarryInS * time.Second), To: to.Add(time.Second)}
	for e, err := range s.Events.Events(ctx, f) {
		if err != nil {
			return nil, err
		}
		in.Events = append(in.Events, e)
	}
	if s.OEE != nil && to.After(from) {
		// The waterfall is optional: a window the KPIs refuse leaves it out.
		if k, err := s.OEE(ctx, kpi.Query{From: from, To: to}); err == nil {
			in.OEE = &k.OEE
		}
	}
	return Build(ctx, in)
}
