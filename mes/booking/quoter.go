package booking

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/kpi"
)

// Quoter defaults.
const (
	DefaultQuoteLookback   = 7 * 24 * time.Hour
	DefaultQuoteSetup      = 2 * time.Hour
	DefaultQuoteChangeover = 30 * time.Minute
	DefaultQuoteValidity   = 72 * time.Hour
	DefaultNominalOEE      = 0.85
	DefaultMinDepartures   = 20
	DefaultBasisTTL        = 10 * time.Minute
)

// Quoter prices and places booking requests on the calendar. Set the
// fields, then call Quote; it is safe for concurrent use.
type Quoter struct {
	Line     *mes.LineConfig
	Products mes.ProductService  // resolves a booking's existing product
	Calendar mes.CalendarService // where the window is searched
	// Events and Batches feed kpi.Compute for the measured basis; with
	// Events nil every quote is nominal.
	Events  mes.EventStore
	Batches mes.BatchService

	Lookback      time.Duration // measured period before now; default DefaultQuoteLookback
	Setup         time.Duration // default DefaultQuoteSetup
	Changeover    time.Duration // default DefaultQuoteChangeover
	Validity      time.Duration // quote expiry after the quote time; default DefaultQuoteValidity
	NominalOEE    float64       // assumed OEE without history; default DefaultNominalOEE
	MinDepartures int           // burs needed for a measured basis; default DefaultMinDepartures
	// BasisTTL is how long a computed basis is reused: the KPI computation
	// reads a week of events, and the line's recent performance does not
	// change between two quotes a minute apart. Default DefaultBasisTTL.
	BasisTTL time.Duration
	Location *time.Location // shift calendar zone; nil means time.Local
	// Clock is line time: a quote is made, and expires, on the line's
	// clock, like the booking it prices. Nil: the host's clock.
	Clock *mes.LineClock

	mu      sync.Mutex
	basis   *lineBasis
	basisAt time.Time
}

// lineBasis is what the line achieved recently, or its nominal figures.
type lineBasis struct {
	measured     bool
	note         string
	from, to     time.Time
	departures   int
	taktS        float64
	availability float64
	quality      float64
	oee          float64
	cycleS       map[string]float64 // group → measured mean cycle time of its operation
}

func (q *Quoter) now() time.Time { return q.Clock.Now() }

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Quote prices booking b: the line time its quantity needs on its product's
// route, and the earliest free window for the route's groups between b's
// earliest start (or now, if later) and its deadline.
// Errors: EINVALID (unknown product, no line), ECONFLICT (no free window
// before the deadline; the message gives the earliest possible end), or a
// store error.
func (q *Quoter) Quote(ctx context.Context, b *mes.Booking) (*mes.Quote, error) {
	if q.Line == nil || q.Calendar == nil {
		return nil, mes.Errorf(mes.EINVALID, "quote: no line or calendar")
	}
	p := b.Spec
	if p == nil {
		if q.Products == nil {
			return nil, mes.Errorf(mes.EINVALID, "quote: no product store")
		}
		var err error
		if p, err = q.Products.FindProduct(ctx, b.Product); mes.ErrorCode(err) == mes.ENOTFOUND {
			return nil, mes.Errorf(mes.EINVALID, "product: unknown product %q", b.Product)
		} else if err != nil {
			return nil, fmt.Errorf("quote: %w", err)
		}
	}
	now := q.now().UTC()
	basis, err := q.lineBasis(ctx, now)
	if err != nil {
		return nil, err
	}
	qt, err := q.price(p, b.Quantity, basis)
	if err != nil {
		return nil, err
	}
	qt.Quoted = now
	qt.Expires = now.Add(orDefault(q.Validity, DefaultQuoteValidity))

	notBefore := b.EarliestStart.UTC()
	if notBefore.Before(now) {
		notBefore = now
	}
	notBefore = notBefore.Truncate(time.Minute)
	if notBefore.Before(b.EarliestStart) || notBefore.Before(now) {
		notBefore = notBefore.Add(time.Minute)
	}
	req := mes.FitRequest{NotBefore: notBefore, Deadline: b.Deadline.UTC(), SetupBefore: secs(qt.SetupS),
		Run: secs(qt.LineTimeS - qt.SetupS), SetupAfter: secs(qt.ChangeoverS)}
	if req.Deadline.Before(req.NotBefore.Add(req.SetupBefore + req.Run)) {
		return nil, mes.Errorf(mes.ECONFLICT, "quote: the run needs %s of line time; it cannot end by the deadline %s",
			roundDur(req.SetupBefore+req.Run), req.Deadline.Format(time.RFC3339))
	}
	busy, err := q.Calendar.Busy(ctx, qt.Groups, req.NotBefore, req.Deadline.Add(req.SetupAfter))
	if err != nil {
		return nil, fmt.Errorf("quote: %w", err)
	}
	start, ok := mes.EarliestFit(busy, req)
	if !ok {
		return nil, mes.Errorf(mes.ECONFLICT, "quote: no free window of %s between %s and the deadline %s",
			roundDur(req.SetupBefore+req.Run), req.NotBefore.Format(time.RFC3339), req.Deadline.Format(time.RFC3339))
	}
	qt.Start = start
	qt.End = start.Add(req.Run)
	return qt, nil
}

func roundDur(d time.Duration) time.Duration { return d.Round(time.Minute) }

// price computes the line time of quantity burs of p on the basis.
func (q *Quoter) price(p *mes.Product, quantity int, basis *lineBasis) (*mes.Quote, error) {
	machines := map[string]int{}
	for _, m := range q.Line.Machines {
		machines[m.Group]++
	}
	qt := &mes.Quote{Basis: mes.QuoteNominal, BasisNote: basis.note, Availability: 1, Quality: 1}
	var lead float64
	for i, op := range p.Route {
		n := machines[op.Group]
		if n == 0 {
			return nil, mes.Errorf(mes.EINVALID, "route[%d].group: no machine of the line in group %q", i, op.Group)
		}
		cycle := op.IdealCycleS
		if c, ok := basis.cycleS[op.Group]; basis.measured && ok && c > 0 {
			cycle = c
		}
		lead += cycle
		if per := cycle / float64(n); per > qt.BottleneckS {
			qt.BottleneckS, qt.BottleneckGroup = per, op.Group
		}
		if !slices.Contains(qt.Groups, op.Group) {
			qt.Groups = append(qt.Groups, op.Group)
		}
	}
	slices.Sort(qt.Groups)
	if basis.measured {
		qt.Basis = mes.QuoteMeasured
		qt.BasisFrom, qt.BasisTo = basis.from, basis.to
		qt.Departures, qt.MeasuredTaktS = basis.departures, basis.taktS
		qt.Availability, qt.Quality, qt.OEE = basis.availability, basis.quality, basis.oee
		// Measured cycle times already carry the speed losses; availability
		// and quality losses stretch them. The line never plans faster
		// than it recently delivered.
		qt.IntervalS = max(qt.BottleneckS/(qt.Availability*qt.Quality), basis.taktS)
	} else {
		oee := orDefault(q.NominalOEE, DefaultNominalOEE)
		qt.OEE = oee
		qt.IntervalS = max(qt.BottleneckS, q.Line.TaktS) / oee
	}
	qt.PlannedShare = plannedShare(q.Line.Shifts)
	qt.LeadS = lead
	qt.SetupS = orDefault(q.Setup, DefaultQuoteSetup).Seconds()
	qt.ChangeoverS = orDefault(q.Changeover, DefaultQuoteChangeover).Seconds()
	production := (lead + float64(quantity-1)*qt.IntervalS) / qt.PlannedShare
	production = math.Ceil(production/60) * 60 // whole minutes on the calendar
	qt.LineTimeS = qt.SetupS + production
	return qt, nil
}

// plannedShare is the part of a day the shifts plan for production (breaks
// excluded); 1 without shifts.
func plannedShare(shifts []mes.Shift) float64 {
	var s float64
	for _, sh := range shifts {
		s += sh.DurationS - sh.BreakTotalS()
	}
	if s <= 0 || s >= 86400 {
		return 1
	}
	return s / 86400
}

// lineBasis returns the cached basis, computing it when older than BasisTTL.
func (q *Quoter) lineBasis(ctx context.Context, now time.Time) (*lineBasis, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.basis != nil && now.Sub(q.basisAt) < orDefault(q.BasisTTL, DefaultBasisTTL) && !now.Before(q.basisAt) {
		return q.basis, nil
	}
	b, err := q.computeBasis(ctx, now)
	if err != nil {
		return nil, err
	}
	q.basis, q.basisAt = b, now
	return b, nil
}

// ResetBasis drops the cached basis so that the next quote measures again.
func (q *Quoter) ResetBasis() {
	q.mu.Lock()
	q.basis = nil
	q.mu.Unlock()
}

func (q *Quoter) computeBasis(ctx context.Context, now time.Time) (*lineBasis, error) {
	nominal := &lineBasis{note: "no production history: the route's ideal cycle times, the line's target takt and an assumed OEE"}
	if q.Events == nil {
		return nominal, nil
	}
	look := orDefault(q.Lookback, DefaultQuoteLookback)
	in := kpi.Input{Line: q.Line, Events: q.Events}
	if q.Batches != nil {
		bs, err := q.Batches.ListBatches(ctx, mes.BatchFilter{States: []mes.BatchState{mes.BatchReleased, mes.BatchRunning}})
		if err != nil {
			return nil, fmt.Errorf("quote: batches: %w", err)
		}
		in.Batches = bs
	}
	rep, err := kpi.Compute(ctx, in, kpi.Query{From: now.Add(-look), To: now, Location: q.Location})
	if err != nil {
		return nil, fmt.Errorf("quote: measured basis: %w", err)
	}
	minDep := orDefault(q.MinDepartures, DefaultMinDepartures)
	var quality float64
	if l := rep.OEE.Line; l != nil {
		quality = float64(l.GQ) / float64(max(l.PQ, 1)) // the line's yield: good burs of those it finished or scrapped
	}
	if rep.Takt.Departures < minDep || rep.OEE.AllMachines == nil || rep.OEE.AllMachines.Availability <= 0 || quality <= 0 {
		nominal.note = fmt.Sprintf("%d burs left the line in the last %s (fewer than %d): %s",
			rep.Takt.Departures, look, minDep, nominal.note)
		return nominal, nil
	}
	b := &lineBasis{measured: true, from: rep.From, to: rep.To, departures: rep.Takt.Departures,
		taktS: rep.Takt.MeanS, availability: rep.OEE.AllMachines.Availability, quality: quality,
		oee: rep.OEE.AllMachines.OEECapped, cycleS: map[string]float64{}}
	b.note = fmt.Sprintf("measured over %s: %d burs, mean takt %.1f s, availability %.3f, quality %.3f",
		look, b.departures, b.taktS, b.availability, b.quality)
	for _, op := range rep.Cycles.Operations {
		if op.N > 0 && op.MeanS > 0 {
			b.cycleS[op.Group] = op.MeanS
		}
	}
	return b, nil
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
