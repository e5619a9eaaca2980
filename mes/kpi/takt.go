package kpi

import (
	"math"
	"slices"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// TaktDefaultLastN is the rolling window of the actual takt when a query does not set one.
const TaktDefaultLastN = 20

// TaktReport compares the pace the line must keep with the pace it keeps.
//
// The target is the available time (planned busy time of the shift
// calendar between the end of the period, or the batch's planned start if
// later, and its planned end) divided by the burs the released and running
// batches still need. With several batches their demand rates add up:
// target = 1 / Σ(remaining_i / available_i). Without such a demand the
// line's configured takt applies (target_source "config").
//
// The actual takt is the time between consecutive burs leaving the line,
// that is between consecutive inspection results.
type TaktReport struct {
	TargetS      float64 `json:"target_s"`
	TargetSource string  `json:"target_source"` // "demand" or "config"
	DemandBurs   int     `json:"demand_burs"`   // burs still needed by the batches (demand source)
	AvailableS   float64 `json:"available_s"`   // available time behind the target (demand source)
	Departures   int     `json:"departures"`    // burs that left the line in the period
	LastS        float64 `json:"last_s"`        // the latest interval between two departures
	MeanS        float64 `json:"mean_s"`        // rolling mean over the last N intervals
	PeriodMeanS  float64 `json:"period_mean_s"` // mean interval over the whole period
	LastN        int     `json:"last_n"`        // N asked for
	Samples      int     `json:"samples"`       // intervals in the rolling window (≤ N)
	WithinTarget int     `json:"within_target"` // of those, how many were ≤ target
}

// targetTakt computes the target takt for the batches as of asOf.
func targetTakt(line *mes.LineConfig, batches []*mes.Batch, asOf time.Time, loc *time.Location) (r TaktReport) {
	r.TargetS, r.TargetSource = line.TaktS, "config"
	var rate float64 // burs per second
	demand := 0
	for _, b := range batches {
		if b == nil || (b.State != mes.BatchRunning && b.State != mes.BatchReleased) || b.PlannedEnd.IsZero() {
			continue
		}
		done := b.Completed
		if !b.GoodRequired {
			done += b.Scrap + b.Rework
		}
		remaining := b.Quantity - done
		start := asOf
		if b.PlannedStart.After(start) {
			start = b.PlannedStart
		}
		if remaining <= 0 || !b.PlannedEnd.After(start) {
			continue
		}
		end := b.PlannedEnd
		if end.Sub(start) > maxRange {
			end = start.Add(maxRange)
		}
		cal := newCalendar(line.Shifts, start, end, loc, "")
		avail := seconds(cal.workingNS())
		if avail <= 0 {
			continue
		}
		rate += float64(remaining) / avail
		demand += remaining
	}
	if rate > 0 {
		r.TargetS = 1 / rate
		r.TargetSource = "demand"
		r.DemandBurs = demand
		r.AvailableS = float64(demand) / rate
	}
	return r
}

// actualTakt fills the actual takt from the departure times (ns, any order).
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
		if d <= r.TargetS {
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
