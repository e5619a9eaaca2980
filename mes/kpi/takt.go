package kpi

import (
	"math"
	"slices"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// TaktDefaultLastN is the rolling window of the actual takt when a query does not set one.
const TaktDefaultLastN = 20

// Target takt sources in TaktReport.TargetSource.
const (
	TaktFromDemand   = "demand"    // available time ÷ demand of the batches
	TaktFromConfig   = "config"    // the line's configured takt: batches need burs but name no due date
	TaktNoDemand     = "no_demand" // no batch needs burs: there is no target to be behind
	TaktOverdue      = "overdue"   // every batch needing burs is past its planned end: no time is left
	TaktFromSchedule = "schedule"  // a past window: its planned busy time ÷ the burs due in it
)

// TaktReport compares the pace the line must keep with the pace it keeps.
// All times are planned busy time: shift time with breaks and time outside
// the shifts removed.
//
// Target takt = available time ÷ demand. For a window that reaches the
// present (Input.Now ≤ To) the demand is what the open batches (released,
// running, held) still need, overdue ones included: taken by planned end,
// the binding deadline k gives target = available(now, end_k) ÷
// Σ_{i ≤ k} remaining_i, the pace that meets every due date; batches
// already past their end add their burs to every later deadline's demand
// (target_source "demand"). When all of them are overdue there is no time
// left ("overdue", target 0); when open batches name no due date the
// configured takt applies ("config"); when no batch needs burs the target
// is 0 and the source "no_demand". A past window (To < Input.Now) uses its
// own demand, not today's counts: target = planned busy time of the window
// ÷ the burs due in it, each batch's quantity spread over the planned busy
// time of its planned window, plus the good burs made in the window for
// batches whose planned end had passed while they were still open
// ("schedule").
//
// The actual takt is the interval between good burs leaving the line
// (passed inspection; failed burs are not departures), measured in planned
// busy time: a bur leaving during a break or outside the shifts leaves at the
// next instant of planned busy time.
type TaktReport struct {
	TargetS      float64 `json:"target_s"`
	TargetSource string  `json:"target_source"` // demand, schedule, config, overdue or no_demand
	DemandBurs   float64 `json:"demand_burs"`   // burs behind the target (demand and schedule sources)
	AvailableS   float64 `json:"available_s"`   // planned busy time behind the target
	Departures   int     `json:"departures"`    // good burs that left the line in the period
	LastS        float64 `json:"last_s"`        // the latest interval between two good departures
	MeanS        float64 `json:"mean_s"`        // rolling mean over the last N intervals
	PeriodMeanS  float64 `json:"period_mean_s"` // mean interval over the whole period
	LastN        int     `json:"last_n"`        // N asked for
	Samples      int     `json:"samples"`       // intervals in the rolling window (≤ N)
	WithinTarget int     `json:"within_target"` // of those, how many were ≤ target
}

// openState reports whether a batch in state s needs burs from the line.
func openState(s mes.BatchState) bool {
	return s == mes.BatchReleased || s == mes.BatchRunning || s == mes.BatchHeld
}

// stateAt is the state b was in at t, from its recorded transitions; a
// batch with no transition at or before t was planned (or not yet made).
func stateAt(b *mes.Batch, t time.Time) mes.BatchState {
	st := mes.BatchState("")
	for _, tr := range b.Transitions {
		if !tr.At.After(t) {
			st = tr.To
		}
	}
	if st == "" && len(b.Transitions) == 0 && !b.Created.After(t) {
		st = b.State // no history recorded: today's state is all there is
	}
	return st
}

// taktInput is what the target takt is computed from.
type taktInput struct {
	line     *mes.LineConfig
	batches  []*mes.Batch
	from, to time.Time
	now      time.Time // when the batches' counts were read
	loc      *time.Location
	good     map[string]int // batch → good burs that left the line in the window
}

// targetTakt computes the target takt of the window.
func targetTakt(in taktInput) TaktReport {
	if in.to.Before(in.now) {
		return scheduleTakt(in)
	}
	asOf := in.now
	if asOf.IsZero() || asOf.After(in.to) {
		asOf = in.to
	}
	type due struct {
		end       time.Time
		remaining int
	}
	var dues []due
	undated := 0
	for _, b := range in.batches {
		if b == nil || !openState(b.State) {
			continue
		}
		done := b.Completed
		if !b.GoodRequired {
			done += b.Scrap + b.Rework
		}
		remaining := b.Quantity - done
		switch {
		case remaining <= 0:
		case b.PlannedEnd.IsZero():
			undated += remaining
		default:
			dues = append(dues, due{b.PlannedEnd, remaining})
		}
	}
	if len(dues) == 0 {
		if undated > 0 {
			return TaktReport{TargetS: in.line.TaktS, TargetSource: TaktFromConfig, DemandBurs: float64(undated)}
		}
		return TaktReport{TargetSource: TaktNoDemand}
	}
	slices.SortStableFunc(dues, func(a, b due) int { return a.end.Compare(b.end) })
	var r TaktReport
	cum, best := 0, 0.0
	for _, d := range dues {
		cum += d.remaining
		end := d.end
		if end.Sub(asOf) > maxRange {
			end = asOf.Add(maxRange)
		}
		if !end.After(asOf) {
			continue
		}
		cal := newCalendar(in.line.Shifts, asOf, end, in.loc, "")
		avail := cal.workingNS()
		if avail <= 0 {
			continue
		}
		if rate := float64(cum) / float64(avail); rate > best {
			best = rate
			r = TaktReport{TargetS: seconds(avail) / float64(cum), TargetSource: TaktFromDemand,
				DemandBurs: float64(cum), AvailableS: seconds(avail)}
		}
	}
	if best == 0 {
		return TaktReport{TargetSource: TaktOverdue, DemandBurs: float64(cum)}
	}
	return r
}

// scheduleTakt is the target of a past window: its planned busy time over
// the burs due in it.
func scheduleTakt(in taktInput) TaktReport {
	window := newCalendar(in.line.Shifts, in.from, in.to, in.loc, "")
	avail := window.workingNS()
	var demand float64
	for _, b := range in.batches {
		if b == nil || b.PlannedEnd.IsZero() || !b.PlannedEnd.After(b.PlannedStart) {
			continue
		}
		if !b.PlannedEnd.After(in.from) {
			// Overdue at the window's start: its late burs did not vanish.
			if openState(stateAt(b, in.from)) {
				demand += float64(in.good[b.ID])
			}
			continue
		}
		lo, hi := maxTime(b.PlannedStart, in.from), minTime(b.PlannedEnd, in.to)
		if !hi.After(lo) {
			continue
		}
		plan := newCalendar(in.line.Shifts, b.PlannedStart, minTime(b.PlannedEnd, b.PlannedStart.Add(maxRange)), in.loc, "")
		if w := plan.workingNS(); w > 0 {
			demand += float64(b.Quantity) * float64(plan.workingBetween(lo.UnixNano(), hi.UnixNano())) / float64(w)
		}
	}
	if demand <= 0 || avail <= 0 {
		return TaktReport{TargetSource: TaktNoDemand, AvailableS: seconds(avail)}
	}
	return TaktReport{TargetS: seconds(avail) / demand, TargetSource: TaktFromSchedule, DemandBurs: demand, AvailableS: seconds(avail)}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// actualTakt fills the actual takt from the good departures, given as
// positions on the planned-busy-time clock (ns, any order).
func actualTakt(r *TaktReport, departures []int64, lastN int) {
	slices.Sort(departures)
	r.Departures = len(departures)
	r.LastN = lastN
	if len(departures) < 2 {
		return
	}
	n := len(departures) - 1
	r.LastS = seconds(departures[n] - departures[n-1])
	r.PeriodMeanS = seconds(departures[n]-departures[0]) / float64(n)
	first := max(1, len(departures)-lastN)
	var sum float64
	for i := first; i < len(departures); i++ {
		d := seconds(departures[i] - departures[i-1])
		sum += d
		if r.TargetS > 0 && d <= r.TargetS {
			r.WithinTarget++
		}
		r.Samples++
	}
	r.MeanS = sum / float64(r.Samples)
}

// CycleStats are the cycle times (End − Start of completed, not aborted
// jobs) of one operation or one machine, in seconds. Percentiles are
// nearest-rank: p95 is the smallest time that at least 95 % of the jobs did
// not exceed.
type CycleStats struct {
	Group     string  `json:"group"`
	Operation int     `json:"operation,omitempty"` // route operation number
	Name      string  `json:"name,omitempty"`      // operation name
	Machine   string  `json:"machine,omitempty"`
	IdealS    float64 `json:"ideal_s,omitempty"` // ISO 22400 PRU of the operation
	N         int     `json:"n"`
	Aborted   int     `json:"aborted"` // aborted jobs, not in the statistics
	MeanS     float64 `json:"mean_s"`
	P50S      float64 `json:"p50_s"`
	P95S      float64 `json:"p95_s"`
	MinS      float64 `json:"min_s"`
	MaxS      float64 `json:"max_s"`
}

// CycleReport holds the cycle-time statistics per operation (route group) and per machine.
type CycleReport struct {
	Operations []CycleStats `json:"operations"`
	Machines   []CycleStats `json:"machines"`
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// fillCycleStats fills the statistics from the cycle times in seconds (reordered in place).
func fillCycleStats(s *CycleStats, times []float64) {
	s.N = len(times)
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	var sum float64
	for _, v := range times {
		sum += v
	}
	s.MeanS = sum / float64(len(times))
	s.P50S = percentile(times, 50)
	s.P95S = percentile(times, 95)
	s.MinS, s.MaxS = times[0], times[len(times)-1]
}
