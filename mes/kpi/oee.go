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
//	POT    = PDOT + PBT,   PDOT = break + maintenance (inside a maintenance window)
//	PBT    = APT + ASUT + ADET + ADOT
//	APT    = grinding + load_unload
//	ASUT   = dressing + wheel_change
//	ADET   = alarm + maintenance_unplanned
//	ADOT   = idle + starved + blocked + comm_lost + unknown
//	AUPT   = APT + ASUT,   AUBT = AUPT + ADET
//	no_work = idle + starved + blocked
//
// Machine states map as follows: grinding (measuring at the inspection
// station), loading and unloading are APT — the ideal cycle time (PRU) of an
// operation is planned from the start of loading to the end of unloading, so
// APT is taken on the same basis; dressing and wheel change are setup
// (ASUT); alarm is a disturbance (ADET); maintenance is planned downtime
// only inside a maintenance window of the capacity calendar and a
// disturbance (ADET) outside one; idle, starved, blocked, comm_lost and
// offline are down time (ADOT); shift breaks are planned downtime, except
// that a machine producing during a break (grinding, loading, unloading) has
// that time counted as APT where it was made. Time outside the shifts is not
// planned operation time. Before the first state known for a machine the
// time is unknown down time. no_work is the down time in which the machine
// had no work to do (idle: no demand; starved; blocked).
type TimeElements struct {
	PeriodS               float64 `json:"period_s"`
	NotScheduledS         float64 `json:"not_scheduled_s"`
	POTS                  float64 `json:"pot_s"`
	PDOTS                 float64 `json:"pdot_s"`
	BreakS                float64 `json:"break_s"`
	MaintenanceS          float64 `json:"maintenance_s"` // planned: inside a maintenance window
	PBTS                  float64 `json:"pbt_s"`
	APTS                  float64 `json:"apt_s"`
	GrindingS             float64 `json:"grinding_s"`
	LoadUnloadS           float64 `json:"load_unload_s"`
	ASUTS                 float64 `json:"asut_s"`
	DressingS             float64 `json:"dressing_s"`
	WheelChangeS          float64 `json:"wheel_change_s"`
	ADETS                 float64 `json:"adet_s"`
	AlarmS                float64 `json:"alarm_s"`
	MaintenanceUnplannedS float64 `json:"maintenance_unplanned_s"` // outside any maintenance window
	ADOTS                 float64 `json:"adot_s"`
	IdleS                 float64 `json:"idle_s"`
	StarvedS              float64 `json:"starved_s"`
	BlockedS              float64 `json:"blocked_s"`
	CommLostS             float64 `json:"comm_lost_s"`
	UnknownS              float64 `json:"unknown_s"`
	NoWorkS               float64 `json:"no_work_s"`
	AUPTS                 float64 `json:"aupt_s"`
	AUBTS                 float64 `json:"aubt_s"`
}

// seconds converts nanoseconds to seconds.
func seconds(ns int64) float64 { return float64(ns) / float64(time.Second) }

// elements are the time elements in nanoseconds.
type elements struct {
	pdot, apt, asut, adet, adot, pbt, aupt, noWork int64
}

func elementsOf(b *buckets) elements {
	e := elements{
		pdot:   b[bucketBreak] + b[bucketMaintenance],
		apt:    b[bucketAPT] + b[bucketLoadUnload],
		asut:   b[bucketDressing] + b[bucketWheelChange],
		adet:   b[bucketAlarm] + b[bucketMaintenanceUnplanned],
		adot:   b[bucketIdle] + b[bucketStarved] + b[bucketBlocked] + b[bucketCommLost] + b[bucketUnknown],
		noWork: b[bucketIdle] + b[bucketStarved] + b[bucketBlocked],
	}
	e.pbt = e.apt + e.asut + e.adet + e.adot
	e.aupt = e.apt + e.asut
	return e
}

// timeElementsOf derives the time elements from the buckets. Sums are taken
// in nanoseconds before conversion so that they stay exact.
func timeElementsOf(b *buckets) TimeElements {
	e := elementsOf(b)
	return TimeElements{
		PeriodS:               seconds(b.total()),
		NotScheduledS:         seconds(b[bucketNotScheduled]),
		POTS:                  seconds(e.pdot + e.pbt),
		PDOTS:                 seconds(e.pdot),
		BreakS:                seconds(b[bucketBreak]),
		MaintenanceS:          seconds(b[bucketMaintenance]),
		PBTS:                  seconds(e.pbt),
		APTS:                  seconds(e.apt),
		GrindingS:             seconds(b[bucketAPT]),
		LoadUnloadS:           seconds(b[bucketLoadUnload]),
		ASUTS:                 seconds(e.asut),
		DressingS:             seconds(b[bucketDressing]),
		WheelChangeS:          seconds(b[bucketWheelChange]),
		ADETS:                 seconds(e.adet),
		AlarmS:                seconds(b[bucketAlarm]),
		MaintenanceUnplannedS: seconds(b[bucketMaintenanceUnplanned]),
		ADOTS:                 seconds(e.adot),
		IdleS:                 seconds(b[bucketIdle]),
		StarvedS:              seconds(b[bucketStarved]),
		BlockedS:              seconds(b[bucketBlocked]),
		CommLostS:             seconds(b[bucketCommLost]),
		UnknownS:              seconds(b[bucketUnknown]),
		NoWorkS:               seconds(e.noWork),
		AUPTS:                 seconds(e.aupt),
		AUBTS:                 seconds(e.aupt + e.adet),
	}
}

// OEE is the ISO 22400-2 overall equipment effectiveness of a machine or a
// group for a period, with the KPIs of the standard built on the same time
// elements and quantities. A ratio whose denominator is zero is reported as 0.
//
//	Availability           = APT / (PBT − no_work)
//	Availability (PBT)     = APT / PBT
//	Effectiveness          = Σ PRU / APT            (uncapped; capped: min(1, ·))
//	Quality                = GQ / PQ
//	OEE                    = Availability × Effectiveness × Quality
//	NEE                    = AUPT / PBT × Effectiveness × Quality
//	Technical efficiency   = APT / (APT + ADET)
//	Setup ratio            = ASUT / AUPT
//	Scrap ratio            = SQ / PQ
//	Throughput rate        = PQ / PBT             (units per hour)
//	MTBF                   = AUPT / (FE + 1)      (operating time between failures)
//	MTTR                   = ADET / FE            (time to repair per failure)
//
// Availability leaves out the time the machine had no work (no_work: idle,
// starved, blocked): that is the line's loss, reported as such and in the
// line's output-based OEE, not the machine's; availability_pbt is APT / PBT
// for comparison. FE counts the failures: stops in the alarm state and
// unplanned maintenance in planned busy time.
//
// Quantities: PQ counts the jobs the work unit ended in planned operation
// time (a job finished during a break counts where it was made), aborted ones
// included. An aborted job produced no good unit: it is scrap at this
// operation (SQ, aborted_q) and earns as ideal time only the time it ran, at
// most its PRU, so a fault never raises effectiveness. A completed job is
// good (GQ) once its bur passed inspection, or failed it only on
// characteristics other operations form (mes.Operation.Forms; a failing
// characteristic no operation forms counts against every operation); it is
// scrap (SQ) when it failed a characteristic this operation forms; until
// inspected it is neither (pending_q), so GQ + SQ + pending = PQ. At the
// inspection station PQ is the burs measured and GQ those that passed.
type OEE struct {
	Scope                 string       `json:"scope"` // "machine", "group" or "machines" (all machines summed)
	ID                    string       `json:"id"`
	Machines              int          `json:"machines"`
	Time                  TimeElements `json:"time"`
	PRUS                  float64      `json:"pru_s,omitempty"` // ideal cycle time per unit, when one applies
	IdealS                float64      `json:"ideal_s"`         // Σ PRU over the units produced
	PQ                    int          `json:"pq"`
	GQ                    int          `json:"gq"`
	SQ                    int          `json:"sq"`
	AbortedQ              int          `json:"aborted_q"`              // of SQ: jobs aborted at this work unit
	PendingQ              int          `json:"pending_q"`              // of PQ: burs not inspected yet
	Failures              int          `json:"failures"`               // FE
	Availability          float64      `json:"availability"`           // APT / (PBT − no_work)
	AvailabilityPBT       float64      `json:"availability_pbt"`       // APT / PBT
	EffectivenessUncapped float64      `json:"effectiveness_uncapped"` // Σ PRU / APT, may exceed 1
	EffectivenessCapped   float64      `json:"effectiveness_capped"`   // min(1, effectiveness_uncapped)
	Quality               float64      `json:"quality"`                // GQ / PQ
	OEEUncapped           float64      `json:"oee_uncapped"`           // availability × effectiveness_uncapped × quality
	OEECapped             float64      `json:"oee_capped"`             // availability × effectiveness_capped × quality
	NEE                   float64      `json:"nee"`                    // AUPT / PBT × effectiveness_uncapped × quality
	TechnicalEfficiency   float64      `json:"technical_efficiency"`   // APT / (APT + ADET)
	SetupRatio            float64      `json:"setup_ratio"`            // ASUT / AUPT
	ScrapRatio            float64      `json:"scrap_ratio"`            // SQ / PQ
	ThroughputPerHour     float64      `json:"throughput_per_h"`       // PQ / PBT
	MTBFS                 float64      `json:"mtbf_s"`                 // AUPT / (FE + 1)
	MTTRS                 float64      `json:"mttr_s"`                 // ADET / FE
}

// OEEReport holds OEE per machine, per group and for the line. Line and
// AllMachines are nil when the query selects a machine or a group.
type OEEReport struct {
	Line        *LineOEE `json:"line,omitempty"`
	AllMachines *OEE     `json:"all_machines,omitempty"` // every machine's elements and quantities summed
	Groups      []OEE    `json:"groups"`
	Machines    []OEE    `json:"machines"`
}

// LineOEE is the line's output-based OEE (ISO 22400-2 for a production
// line): the good burs that left the line, each worth the line's ideal
// takt, over the line's planned busy time, with the line's output KPIs.
//
//	OEE              = GQ × ideal takt / PBT
//	ideal takt       = max over the route of PRU / machines in the group (the bottleneck's ideal interval)
//	PBT              = shift time − breaks − maintenance windows of the whole line
//	Throughput rate  = GQ / PBT                  (good burs per hour)
//	First-pass yield = passed at first inspection / inspected
//	Scrap ratio      = SQ / PQ
//	Rework ratio     = RQ / PQ
//
// PQ are the burs that left the line (inspected) plus those scrapped by an
// aborted job, each counted once; GQ those whose latest inspection passed;
// SQ = PQ − GQ; RQ the burs inspected more than once whose first inspection
// failed (reworked and re-inspected). Burs not yet inspected are not good.
type LineOEE struct {
	ID                string  `json:"id"`
	IdealTaktS        float64 `json:"ideal_takt_s"` // of the line's (first) product; Σ per bur in ideal_s
	IdealS            float64 `json:"ideal_s"`      // Σ ideal takt over the good burs
	PBTS              float64 `json:"pbt_s"`
	PQ                int     `json:"pq"`
	GQ                int     `json:"gq"`
	SQ                int     `json:"sq"`
	RQ                int     `json:"rq"`
	Inspected         int     `json:"inspected"`        // burs with a first inspection in the period
	FirstPass         int     `json:"first_pass"`       // of those, passed first time
	OEE               float64 `json:"oee"`              // GQ × ideal takt / PBT
	ThroughputPerHour float64 `json:"throughput_per_h"` // GQ / PBT
	FirstPassYield    float64 `json:"first_pass_yield"`
	ScrapRatio        float64 `json:"scrap_ratio"`
	ReworkRatio       float64 `json:"rework_ratio"`
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
	buckets          buckets
	idealNS          int64 // Σ PRU, ns, kept integral so sums are exact
	pq, gq, sq       int
	aborted, pending int
	failures         int
	machines         int
	pru              float64 // the PRU shared by every unit; 0 none yet, -1 mixed
}

func (a *aggregate) addIdeal(pru float64) {
	a.addIdealNS(int64(pru*float64(time.Second)), pru)
}

func (a *aggregate) addIdealNS(ns int64, pru float64) {
	a.idealNS += ns
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
	a.sq += o.sq
	a.aborted += o.aborted
	a.pending += o.pending
	a.failures += o.failures
	a.machines += o.machines
}

// newOEE computes the figure from an aggregate.
func newOEE(scope, id string, a *aggregate) OEE {
	te := timeElementsOf(&a.buckets)
	e := elementsOf(&a.buckets)
	o := OEE{Scope: scope, ID: id, Machines: a.machines, Time: te,
		IdealS: seconds(a.idealNS), PQ: a.pq, GQ: a.gq, SQ: a.sq, AbortedQ: a.aborted, PendingQ: a.pending, Failures: a.failures}
	if a.pru > 0 {
		o.PRUS = a.pru
	}
	o.Availability = ratio(float64(e.apt), float64(e.pbt-e.noWork))
	o.AvailabilityPBT = ratio(float64(e.apt), float64(e.pbt))
	o.EffectivenessUncapped = ratio(float64(a.idealNS), float64(e.apt))
	o.EffectivenessCapped = min(o.EffectivenessUncapped, 1)
	o.Quality = ratio(float64(a.gq), float64(a.pq))
	o.OEEUncapped = o.Availability * o.EffectivenessUncapped * o.Quality
	o.OEECapped = o.Availability * o.EffectivenessCapped * o.Quality
	o.NEE = ratio(float64(e.aupt), float64(e.pbt)) * o.EffectivenessUncapped * o.Quality
	o.TechnicalEfficiency = ratio(float64(e.apt), float64(e.apt+e.adet))
	o.SetupRatio = ratio(float64(e.asut), float64(e.aupt))
	o.ScrapRatio = ratio(float64(a.sq), float64(a.pq))
	o.ThroughputPerHour = ratio(float64(a.pq), seconds(e.pbt)/3600)
	o.MTBFS = seconds(e.aupt) / float64(a.failures+1)
	if a.failures > 0 {
		o.MTTRS = seconds(e.adet) / float64(a.failures)
	}
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
// state known), maintenance (planned, in a maintenance window) and
// maintenance_unplanned.
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
	case bucketAlarm, bucketMaintenanceUnplanned:
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
