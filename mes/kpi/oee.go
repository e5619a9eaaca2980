package kpi

import (
	"cmp"
	"slices"
	"time"
)

// TimeElements are the ISO 22400-2 time elements of one work unit (or the
// sum over several) for a period, in seconds. They partition the period:
//
//	period = not_scheduled + POT
//	POT    = PDOT + PBT,   PDOT = break + maintenance
//	PBT    = APT + load_unload + ASUT + ADET + ADOT
//	ASUT   = dressing + wheel_change
//	ADOT   = idle + starved + blocked + comm_lost + unknown
//	AUPT   = APT + load_unload + ASUT,   AUBT = AUPT + ADET
//
// Machine states map as follows: grinding (measuring at the inspection
// station) is APT; loading and unloading are busy time that adds no value
// (in AUBT, not in APT); dressing and wheel change are setup (ASUT); alarm is
// a disturbance (ADET); idle, starved, blocked, comm_lost and offline are
// down time (ADOT); maintenance and shift breaks are planned downtime
// (PDOT); time outside the shifts is not planned operation time. Before the
// first state known for a machine the time is unknown down time.
type TimeElements struct {
	PeriodS       float64 `json:"period_s"`
	NotScheduledS float64 `json:"not_scheduled_s"`
	POTS          float64 `json:"pot_s"`
	PDOTS         float64 `json:"pdot_s"`
	BreakS        float64 `json:"break_s"`
	MaintenanceS  float64 `json:"maintenance_s"`
	PBTS          float64 `json:"pbt_s"`
	APTS          float64 `json:"apt_s"`
	LoadUnloadS   float64 `json:"load_unload_s"`
	ASUTS         float64 `json:"asut_s"`
	DressingS     float64 `json:"dressing_s"`
	WheelChangeS  float64 `json:"wheel_change_s"`
	ADETS         float64 `json:"adet_s"`
	ADOTS         float64 `json:"adot_s"`
	IdleS         float64 `json:"idle_s"`
	StarvedS      float64 `json:"starved_s"`
	BlockedS      float64 `json:"blocked_s"`
	CommLostS     float64 `json:"comm_lost_s"`
	UnknownS      float64 `json:"unknown_s"`
	AUPTS         float64 `json:"aupt_s"`
	AUBTS         float64 `json:"aubt_s"`
}

// seconds converts nanoseconds to seconds.
func seconds(ns int64) float64 { return float64(ns) / float64(time.Second) }

// timeElementsOf derives the time elements from the buckets. Sums are taken
// in nanoseconds before conversion so that they stay exact.
func timeElementsOf(b *buckets) TimeElements {
	pdot := b[bucketBreak] + b[bucketMaintenance]
	asut := b[bucketDressing] + b[bucketWheelChange]
	adot := b[bucketIdle] + b[bucketStarved] + b[bucketBlocked] + b[bucketCommLost] + b[bucketUnknown]
	pbt := b[bucketAPT] + b[bucketLoadUnload] + asut + b[bucketAlarm] + adot
	aupt := b[bucketAPT] + b[bucketLoadUnload] + asut
	return TimeElements{
		PeriodS:       seconds(b.total()),
		NotScheduledS: seconds(b[bucketNotScheduled]),
		POTS:          seconds(pdot + pbt),
		PDOTS:         seconds(pdot),
		BreakS:        seconds(b[bucketBreak]),
		MaintenanceS:  seconds(b[bucketMaintenance]),
		PBTS:          seconds(pbt),
		APTS:          seconds(b[bucketAPT]),
		LoadUnloadS:   seconds(b[bucketLoadUnload]),
		ASUTS:         seconds(asut),
		DressingS:     seconds(b[bucketDressing]),
		WheelChangeS:  seconds(b[bucketWheelChange]),
		ADETS:         seconds(b[bucketAlarm]),
		ADOTS:         seconds(adot),
		IdleS:         seconds(b[bucketIdle]),
		StarvedS:      seconds(b[bucketStarved]),
		BlockedS:      seconds(b[bucketBlocked]),
		CommLostS:     seconds(b[bucketCommLost]),
		UnknownS:      seconds(b[bucketUnknown]),
		AUPTS:         seconds(aupt),
		AUBTS:         seconds(aupt + b[bucketAlarm]),
	}
}

// OEE is the ISO 22400-2 overall equipment effectiveness of a machine, a
// group or the line for a period.
//
// Effectiveness = PRU × PQ / APT can exceed 1 when the ideal cycle time is
// pessimistic: effectiveness_uncapped reports it as computed,
// effectiveness_capped limits it to 1, and the two OEE figures follow.
// A ratio whose denominator is zero is reported as 0.
//
// Quantities: PQ counts the jobs that ended in planned busy time (the same
// windows APT is taken from), aborted ones included; SQ the aborted ones
// and those whose bur later failed inspection (judged on the measurements
// read up to To); GQ = PQ − SQ, so a bur still in process counts as good. A
// bur failing inspection counts against every machine that worked on it.
// At the inspection station PQ is the burs measured and GQ those that
// passed. For the line, PQ is the burs measured plus those scrapped by an
// aborted job, and GQ those that passed inspection; the line's time
// elements and ideal time are the sums over its machines.
type OEE struct {
	Scope                 string       `json:"scope"` // "machine", "group" or "line"
	ID                    string       `json:"id"`
	Machines              int          `json:"machines"`
	Time                  TimeElements `json:"time"`
	PRUS                  float64      `json:"pru_s,omitempty"` // ideal cycle time per unit, when one applies
	IdealS                float64      `json:"ideal_s"`         // Σ PRU over the units produced
	PQ                    int          `json:"pq"`
	GQ                    int          `json:"gq"`
	SQ                    int          `json:"sq"`
	Availability          float64      `json:"availability"`           // APT / PBT
	EffectivenessUncapped float64      `json:"effectiveness_uncapped"` // PRU × PQ / APT, may exceed 1
	EffectivenessCapped   float64      `json:"effectiveness_capped"`   // min(1, effectiveness_uncapped)
	Quality               float64      `json:"quality"`                // GQ / PQ
	OEEUncapped           float64      `json:"oee_uncapped"`           // availability × effectiveness_uncapped × quality
	OEECapped             float64      `json:"oee_capped"`             // availability × effectiveness_capped × quality
}

// OEEReport holds OEE per machine, per group and for the line. Line is nil
// when the query selects a machine or a group.
type OEEReport struct {
	Line     *OEE  `json:"line,omitempty"`
	Groups   []OEE `json:"groups"`
	Machines []OEE `json:"machines"`
}

// ratio is a/b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// aggregate accumulates the inputs of one OEE figure.
type aggregate struct {
	buckets  buckets
	idealNS  int64 // Σ PRU, ns, kept integral so sums are exact
	pq, gq   int
	machines int
	pru      float64 // the PRU shared by every unit; 0 none yet, -1 mixed
}

func (a *aggregate) addIdeal(pru float64) {
	a.idealNS += int64(pru * float64(time.Second))
	a.notePRU(pru)
}

// notePRU tracks whether every unit had the same ideal time (0: none yet, -1: mixed).
func (a *aggregate) notePRU(pru float64) {
	switch {
	case pru == 0:
	case a.pru == 0:
		a.pru = pru
	case a.pru != pru:
		a.pru = -1
	}
}

func (a *aggregate) merge(o *aggregate) {
	a.buckets.add(&o.buckets)
	a.notePRU(o.pru)
	a.idealNS += o.idealNS
	a.pq += o.pq
	a.gq += o.gq
	a.machines += o.machines
}

// newOEE computes the figure from an aggregate.
func newOEE(scope, id string, a *aggregate) OEE {
	te := timeElementsOf(&a.buckets)
	o := OEE{Scope: scope, ID: id, Machines: a.machines, Time: te,
		IdealS: seconds(a.idealNS), PQ: a.pq, GQ: a.gq, SQ: a.pq - a.gq}
	if a.pru > 0 {
		o.PRUS = a.pru
	}
	o.Availability = ratio(te.APTS, te.PBTS)
	o.EffectivenessUncapped = ratio(o.IdealS, te.APTS)
	o.EffectivenessCapped = min(o.EffectivenessUncapped, 1)
	o.Quality = ratio(float64(a.gq), float64(a.pq))
	o.OEEUncapped = o.Availability * o.EffectivenessUncapped * o.Quality
	o.OEECapped = o.Availability * o.EffectivenessCapped * o.Quality
	return o
}

// DowntimeReason is one bar of the downtime Pareto: the planned time lost
// to one reason, summed over the selected machines. Count is the number of
// stops (runs of the reason on one machine) that fell in planned time.
//
// The list covers every second of planned operation time that was neither
// value adding nor loading/unloading nor a shift break: alarms by code
// (first-out alarm overlapping the stop; "" when none was reported),
// dressing, wheel_change, starved, blocked, idle, comm_lost, unknown (no
// state known) and maintenance.
type DowntimeReason struct {
	Reason        string  `json:"reason"`
	Code          string  `json:"code,omitempty"` // alarm code
	Element       string  `json:"element"`        // ISO 22400 element: ADET, ASUT, ADOT or PDOT
	DurationS     float64 `json:"duration_s"`
	Count         int     `json:"count"`
	SharePct      float64 `json:"share_pct"`
	CumulativePct float64 `json:"cumulative_pct"`
}

func elementOf(b bucket) string {
	switch b {
	case bucketAlarm:
		return "ADET"
	case bucketDressing, bucketWheelChange:
		return "ASUT"
	case bucketMaintenance:
		return "PDOT"
	}
	return "ADOT"
}

// pareto sorts the losses by duration (then count, then name) and adds shares.
func pareto(losses map[lossKey]*loss) []DowntimeReason {
	type row struct {
		k lossKey
		l loss
	}
	rows := make([]row, 0, len(losses))
	var total int64
	for k, l := range losses {
		rows = append(rows, row{k, *l})
		total += l.ns
	}
	slices.SortFunc(rows, func(a, b row) int {
		if c := cmp.Compare(b.l.ns, a.l.ns); c != 0 {
			return c
		}
		if c := cmp.Compare(b.l.count, a.l.count); c != 0 {
			return c
		}
		if c := cmp.Compare(reasonOf(a.k.bucket), reasonOf(b.k.bucket)); c != 0 {
			return c
		}
		return cmp.Compare(a.k.code, b.k.code)
	})
	out := make([]DowntimeReason, 0, len(rows))
	var cum int64
	for _, r := range rows {
		cum += r.l.ns
		out = append(out, DowntimeReason{
			Reason:        reasonOf(r.k.bucket),
			Code:          r.k.code,
			Element:       elementOf(r.k.bucket),
			DurationS:     seconds(r.l.ns),
			Count:         r.l.count,
			SharePct:      100 * ratio(float64(r.l.ns), float64(total)),
			CumulativePct: 100 * ratio(float64(cum), float64(total)),
		})
	}
	return out
}
