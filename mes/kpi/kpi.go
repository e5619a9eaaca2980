package kpi

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// maxRange is the longest period a KPI query may cover.
const maxRange = 400 * 24 * time.Hour

// lookbacks are the windows read before From, shortest first, to learn
// the state every machine carries into the period. A longer one is read
// only while some machine's state is still unknown.
var lookbacks = []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 35 * 24 * time.Hour}

// timelineKinds are the events the state timeline is built from.
var timelineKinds = []mes.EventKind{mes.EventState, mes.EventCommLost, mes.EventCommRestored, mes.EventAlarmRaised, mes.EventAlarmCleared}

// periodKinds are the events read for the period itself.
var periodKinds = []mes.EventKind{mes.EventState, mes.EventCommLost, mes.EventCommRestored, mes.EventAlarmRaised, mes.EventAlarmCleared,
	mes.EventCycle, mes.EventMeasurement}

// Query selects what Compute reports on.
type Query struct {
	From     time.Time      // inclusive, required
	To       time.Time      // exclusive; To − From at most 400 days
	Machine  string         // optional: one machine's OEE, cycle times, downtime and energy
	Group    string         // optional: one group's machines
	Shift    string         // optional: restrict to that shift's windows
	LastN    int            // rolling takt window; 0 means TaktDefaultLastN
	Location *time.Location // zone of the shift calendar; nil means time.Local
	// BurDetail adds one energy row per bur to the report.
	BurDetail bool
}

// Input is what the KPIs are computed from.
type Input struct {
	Line    *mes.LineConfig
	Events  mes.EventStore
	Batches []*mes.Batch // the batches: demand behind the target takt, products of the burs
	// BurBatch maps a bur serial to its batch id. Nil derives the batch from
	// the line's serial pattern (see defaultBurBatch).
	BurBatch func(serial string) string
	// Reservations are the capacity calendar's reservations over the
	// period; the maintenance ones are the windows in which a machine's
	// maintenance is planned downtime.
	Reservations []*mes.Reservation
	// Now is the line time at which Batches' counts were read. A period
	// ending before Now is a past window whose target takt comes from its
	// own schedule; zero means To.
	Now time.Time
}

// Report is the line's takt, cycle times, OEE, downtime Pareto, energy
// and carbon for a period. Times are in seconds (_s), energy in kWh, carbon
// in kg CO2e.
type Report struct {
	From     time.Time        `json:"from"`
	To       time.Time        `json:"to"`
	Machine  string           `json:"machine,omitempty"`
	Group    string           `json:"group,omitempty"`
	Shift    string           `json:"shift,omitempty"`
	PeriodS  float64          `json:"period_s"`
	Events   int              `json:"events"` // stored events read, carry-in included
	Takt     TaktReport       `json:"takt"`
	Cycles   CycleReport      `json:"cycle_time"`
	OEE      OEEReport        `json:"oee"`
	Downtime []DowntimeReason `json:"downtime"`
	Energy   EnergyReport     `json:"energy"`
	// Formulas defines every figure (the package's Formulas).
	Formulas map[string]string `json:"formulas"`
}

// lineMachine is one machine of the line during a computation.
type lineMachine struct {
	mes.Machine
	selected bool
	recs     []record
	sorted   bool
	carry    timeline
}

func (m *lineMachine) add(r record) {
	if n := len(m.recs); n > 0 && recordLess(&r, &m.recs[n-1]) {
		m.sorted = false
	}
	m.recs = append(m.recs, r)
}

// job is a job read for the period.
type job struct {
	m int
	t int64
	c *mes.Cycle
}

// inspection is an inspection result read for the period.
type inspection struct {
	m      int
	t      int64
	serial string
	pass   bool
}

// seqKey identifies a cycle or measurement the way MachineEvent.Key does.
type seqKey struct {
	m   int
	seq uint64
}

// Compute computes the KPIs for q from the stored events, reading the
// period once (plus a short window before From to learn the state each
// machine carries in).
//
// Events may come in any order and more than once: they are deduplicated by
// their idempotency key, and among state events with equal source times the
// one received last wins.
//
// Errors: EINVALID (no line or store, To ≤ From, a period over 400 days,
// LastN < 0, unknown machine, group or shift, machine not in group),
// EINTERNAL (reading the store), or the context's error.
func Compute(ctx context.Context, in Input, q Query) (*Report, error) {
	line := in.Line
	if err := validate(in, q); err != nil {
		return nil, err
	}
	loc := q.Location
	if loc == nil {
		loc = time.Local
	}
	lastN := q.LastN
	if lastN == 0 {
		lastN = TaktDefaultLastN
	}
	burBatch := in.BurBatch
	if burBatch == nil {
		burBatch = defaultBurBatch(line.SerialPattern)
	}
	cal := newCalendar(line.Shifts, q.From, q.To, loc, q.Shift)

	machines := make([]lineMachine, len(line.Machines))
	index := make(map[string]int, len(machines))
	for i, m := range line.Machines {
		machines[i] = lineMachine{Machine: m, sorted: true,
			selected: (q.Machine == "" || q.Machine == m.ID) && (q.Group == "" || q.Group == m.Group)}
		index[m.ID] = i
	}

	rep := &Report{From: q.From, To: q.To, Machine: q.Machine, Group: q.Group, Shift: q.Shift,
		PeriodS: seconds(q.To.UnixNano() - q.From.UnixNano()), Formulas: Formulas}

	codes := newAlarmCodes()
	n, err := carryIn(ctx, in.Events, machines, index, q.From, codes)
	rep.Events += n
	if err != nil {
		return nil, err
	}

	// The single pass over the period.
	var cycles []job
	var meas []inspection
	var measEvents []*mes.Measurement
	for ev, err := range in.Events.Events(ctx, mes.EventFilter{From: q.From, To: q.To, Kinds: periodKinds}) {
		if err != nil {
			return nil, fmt.Errorf("kpi: read events: %w", err)
		}
		rep.Events++
		if rep.Events&8191 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		mi, ok := index[ev.Machine]
		if !ok {
			continue
		}
		t := ev.SourceTime.UnixNano()
		if t < cal.from || t >= cal.to {
			continue // a store that filters loosely must not widen the period
		}
		switch ev.Kind {
		case mes.EventCycle:
			if ev.Cycle != nil {
				cycles = append(cycles, job{m: mi, t: t, c: ev.Cycle})
			}
		case mes.EventMeasurement:
			if ev.Measurement != nil {
				meas = append(meas, inspection{m: mi, t: t, serial: ev.Measurement.Serial})
				measEvents = append(measEvents, ev.Measurement)
			}
		default:
			if r, ok := recordOf(&ev, codes); ok {
				machines[mi].add(r)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Inspection verdicts: the latest measurement of a serial decides; the
	// first decides first-pass yield.
	products := productLookup(in)
	verdicts := map[string]verdict{}
	firsts := map[string]verdict{}
	inspections := map[string]int{}
	seenMeas := make(map[seqKey]struct{}, len(meas))
	uniq := meas[:0]
	for i := range meas {
		mm := &meas[i]
		k := seqKey{mm.m, measEvents[i].Seq}
		if _, dup := seenMeas[k]; dup {
			continue
		}
		seenMeas[k] = struct{}{}
		failed := judge(products(mm.serial, burBatch), measEvents[i].Values)
		mm.pass = len(failed) == 0
		if machines[mm.m].Kind == mes.KindInspection {
			inspections[mm.serial]++
			if v, ok := firsts[mm.serial]; !ok || mm.t < v.t {
				firsts[mm.serial] = verdict{t: mm.t, pass: mm.pass, failed: failed}
			}
		}
		if v, ok := verdicts[mm.serial]; !ok || mm.t >= v.t {
			verdicts[mm.serial] = verdict{t: mm.t, pass: mm.pass, failed: failed}
		}
		uniq = append(uniq, *mm)
	}
	meas = uniq
	status := func(serial string) (bool, bool) {
		v, ok := verdicts[serial]
		return v.pass, ok
	}

	// Maintenance windows per group: only there is maintenance planned.
	maint, lineMaint := maintenanceWindows(line, in.Reservations)

	// Time elements and losses per machine.
	aggs := make([]aggregate, len(machines))
	losses := map[lossKey]*loss{}
	for i := range machines {
		m := &machines[i]
		if !m.selected {
			continue
		}
		if !m.sorted {
			sortRecords(m.recs)
		}
		res := sweep(&cal, m.recs, &m.carry, codes, maint[m.Group])
		aggs[i].buckets = res.buckets
		aggs[i].machines = 1
		for k, l := range res.losses {
			if k.bucket == bucketAlarm || k.bucket == bucketMaintenanceUnplanned {
				aggs[i].failures += l.count
			}
			if t := losses[k]; t != nil {
				t.ns += l.ns
				t.count += l.count
			} else {
				losses[k] = l
			}
		}
	}
	rep.Downtime = pareto(losses)

	// Jobs: produced quantity, cycle times, energy. A job counts where it
	// was made: in planned operation time, breaks included.
	ideal := newIdealTimes(line)
	inWindow := func(t int64) bool { return q.Shift == "" || cal.scheduled(t) }
	seenCycle := make(map[seqKey]struct{}, len(cycles))
	machineTimes := make([][]float64, len(machines))
	aborted := make([]int, len(machines))
	burs := map[string]*burTally{}
	lineScrap := map[string]struct{}{}
	for _, c := range cycles {
		k := seqKey{c.m, c.c.Seq}
		if _, dup := seenCycle[k]; dup {
			continue
		}
		seenCycle[k] = struct{}{}
		m := &machines[c.m]
		counted := cal.scheduled(c.t)
		if counted && c.c.Aborted && m.Kind != mes.KindInspection {
			lineScrap[c.c.Serial] = struct{}{}
		}
		if !m.selected {
			continue
		}
		if inWindow(c.t) {
			if c.c.Aborted {
				aborted[c.m]++
			} else {
				machineTimes[c.m] = append(machineTimes[c.m], c.c.CycleTime().Seconds())
			}
			if c.c.Serial != "" && m.Kind != mes.KindInspection {
				b := burs[c.c.Serial]
				if b == nil {
					b = &burTally{}
					burs[c.c.Serial] = b
				}
				b.kwh += c.c.EnergyKWh
				b.jobs++
				b.aborted = b.aborted || c.c.Aborted
			}
		}
		if !counted || m.Kind == mes.KindInspection {
			continue
		}
		a := &aggs[c.m]
		a.pq++
		pru := ideal.of(m.Group, c.c.Program)
		if c.c.Aborted {
			// Scrap at this operation; credit only the time it ran, at most PRU.
			a.sq++
			a.aborted++
			a.addIdealNS(min(int64(pru*float64(time.Second)), max(0, int64(c.c.CycleTime()))), pru)
			continue
		}
		a.addIdeal(pru)
		v, ok := verdicts[c.c.Serial]
		switch {
		case !ok:
			a.pending++
		case v.pass || !formedHere(products(c.c.Serial, burBatch), m.Group, v.failed):
			a.gq++
		default:
			a.sq++
		}
	}

	// Inspection results: the station's output and the line's good departures.
	var departures []int64
	lineBurs := map[string]struct{}{}
	for s := range lineScrap {
		lineBurs[s] = struct{}{}
	}
	goodByBatch := map[string]int{}
	lineOut := LineOEE{ID: line.Name}
	var lineIdealNS int64
	takts := map[*mes.Product]int64{}
	for _, mm := range meas {
		m := &machines[mm.m]
		if m.Kind != mes.KindInspection {
			continue
		}
		final := verdicts[mm.serial].t == mm.t
		if mm.pass && final && inWindow(mm.t) {
			departures = append(departures, cal.workingBetween(cal.from, mm.t))
			goodByBatch[burBatch(mm.serial)]++
		}
		if !cal.scheduled(mm.t) {
			continue
		}
		if _, seen := lineBurs[mm.serial]; !seen {
			lineBurs[mm.serial] = struct{}{}
			if v := verdicts[mm.serial]; v.pass {
				lineOut.GQ++
				p := products(mm.serial, burBatch)
				tk, ok := takts[p]
				if !ok {
					tk = int64(idealTakt(line, p) * float64(time.Second))
					takts[p] = tk
				}
				lineIdealNS += tk
			}
			if f, ok := firsts[mm.serial]; ok {
				lineOut.Inspected++
				if f.pass {
					lineOut.FirstPass++
				} else if inspections[mm.serial] > 1 {
					lineOut.RQ++
				}
			}
		}
		if m.selected {
			a := &aggs[mm.m]
			a.pq++
			a.addIdeal(ideal.of(m.Group, ""))
			if mm.pass {
				a.gq++
			} else {
				a.sq++
			}
		}
	}
	lineOut.PQ = len(lineBurs)
	lineOut.SQ = lineOut.PQ - lineOut.GQ
	lineOut.IdealS = seconds(lineIdealNS)
	if len(line.Products) > 0 {
		lineOut.IdealTaktS = idealTakt(line, &line.Products[0])
	}
	pbt := cal.workingNS()
	for _, seg := range cal.segs {
		if !seg.brk {
			pbt -= overlapNS(lineMaint, seg.start, seg.end)
		}
	}
	lineOut.PBTS = seconds(pbt)
	lineOut.OEE = ratio(float64(lineIdealNS), float64(pbt))
	lineOut.ThroughputPerHour = ratio(float64(lineOut.GQ), seconds(pbt)/3600)
	lineOut.FirstPassYield = ratio(float64(lineOut.FirstPass), float64(lineOut.Inspected))
	lineOut.ScrapRatio = ratio(float64(lineOut.SQ), float64(lineOut.PQ))
	lineOut.ReworkRatio = ratio(float64(lineOut.RQ), float64(lineOut.PQ))

	rep.Takt = targetTakt(taktInput{line: line, batches: in.Batches, from: q.From, to: q.To, now: in.Now, loc: loc, good: goodByBatch})
	actualTakt(&rep.Takt, departures, lastN)
	rep.Cycles = cycleReportOf(line, machines, machineTimes, aborted, ideal)
	rep.OEE = oeeReportOf(line, machines, aggs, q, &lineOut)
	rep.Energy = reportEnergy(line.Carbon.KgPerKWh(), burs, burBatch, status, q.BurDetail)
	return rep, nil
}

// maintenanceWindows returns the maintenance reservations' windows per
// machine group, and those that take the whole line, sorted and merged.
func maintenanceWindows(line *mes.LineConfig, rs []*mes.Reservation) (map[string][]span, []span) {
	byGroup := map[string][]span{}
	var whole []span
	for _, r := range rs {
		if r == nil || r.Kind != mes.ReservationMaintenance {
			continue
		}
		sp := span{r.BlockedStart().UnixNano(), r.BlockedEnd().UnixNano()}
		all := true
		for _, g := range line.Groups {
			all = all && slices.Contains(r.Groups, g.ID)
		}
		if all || len(r.Groups) == 0 {
			whole = append(whole, sp)
		}
		groups := r.Groups
		if len(groups) == 0 {
			for _, g := range line.Groups {
				groups = append(groups, g.ID)
			}
		}
		for _, g := range groups {
			byGroup[g] = append(byGroup[g], sp)
		}
	}
	for g := range byGroup {
		byGroup[g] = mergeSpans(byGroup[g])
	}
	return byGroup, mergeSpans(whole)
}

// formedHere reports whether a failed characteristic is formed by the
// operation of group (or by no operation of the route: then every
// operation answers for it).
func formedHere(p *mes.Product, group string, failed []string) bool {
	if p == nil {
		return true
	}
	for _, ch := range failed {
		op, ok := p.FormedBy(ch)
		if !ok || op.Group == group {
			return true
		}
	}
	return false
}

// idealTakt is the line's ideal interval between burs of p: the slowest
// route operation's PRU over the machines of its group. 0 without a product.
func idealTakt(line *mes.LineConfig, p *mes.Product) float64 {
	if p == nil {
		return 0
	}
	var t float64
	for _, op := range p.Route {
		if n := len(line.GroupMachines(op.Group)); n > 0 {
			t = max(t, op.IdealCycleS/float64(n))
		}
	}
	return t
}

// validate checks the input and the query.
func validate(in Input, q Query) error {
	if in.Line == nil || in.Events == nil {
		return mes.Errorf(mes.EINVALID, "kpi: a line configuration and an event store are required")
	}
	switch {
	case q.From.IsZero() || q.To.IsZero():
		return mes.Errorf(mes.EINVALID, "kpi: from and to are required")
	case !q.To.After(q.From):
		return mes.Errorf(mes.EINVALID, "kpi: to (%s) must be after from (%s)", q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	case q.To.Sub(q.From) > maxRange:
		return mes.Errorf(mes.EINVALID, "kpi: period of %s exceeds the maximum of 400 days", q.To.Sub(q.From).Round(time.Hour))
	case q.LastN < 0:
		return mes.Errorf(mes.EINVALID, "kpi: last_n must be ≥ 0, got %d", q.LastN)
	}
	if q.Machine != "" {
		m, ok := in.Line.Machine(q.Machine)
		if !ok {
			return mes.Errorf(mes.EINVALID, "kpi: unknown machine %q", q.Machine)
		}
		if q.Group != "" && m.Group != q.Group {
			return mes.Errorf(mes.EINVALID, "kpi: machine %q is not in group %q", q.Machine, q.Group)
		}
	}
	if q.Group != "" {
		found := false
		for _, g := range in.Line.Groups {
			found = found || g.ID == q.Group
		}
		if !found {
			return mes.Errorf(mes.EINVALID, "kpi: unknown group %q", q.Group)
		}
	}
	if q.Shift != "" {
		found := false
		for _, s := range in.Line.Shifts {
			found = found || s.Name == q.Shift
		}
		if !found {
			return mes.Errorf(mes.EINVALID, "kpi: unknown shift %q", q.Shift)
		}
	}
	return nil
}

// carryIn learns the state, communication status and active alarms each
// machine has at from, reading ever longer windows before it until every
// machine's state is known or the longest window is read. It returns the
// number of events read.
func carryIn(ctx context.Context, store mes.EventStore, machines []lineMachine, index map[string]int, from time.Time, codes *alarmCodes) (int, error) {
	read := 0
	for _, lb := range lookbacks {
		recs := make([][]record, len(machines))
		for ev, err := range store.Events(ctx, mes.EventFilter{From: from.Add(-lb), To: from, Kinds: timelineKinds}) {
			if err != nil {
				return read, fmt.Errorf("kpi: read events before the period: %w", err)
			}
			read++
			mi, ok := index[ev.Machine]
			if !ok || !ev.SourceTime.Before(from) {
				continue
			}
			if r, ok := recordOf(&ev, codes); ok {
				recs[mi] = append(recs[mi], r)
			}
		}
		if err := ctx.Err(); err != nil {
			return read, err
		}
		known := true
		for i := range machines {
			sortRecords(recs[i])
			m := timeline{}
			for j := range recs[i] {
				m.apply(&recs[i][j])
			}
			machines[i].carry = m
			known = known && (m.known || m.commLost)
		}
		if known {
			break
		}
	}
	return read, nil
}

// verdict is an inspection result of a serial.
type verdict struct {
	t      int64
	pass   bool
	failed []string // characteristics out of tolerance or missing
}

// productLookup returns how to find the product of a serial: through its
// batch, or the line's only product. Nil when neither tells.
func productLookup(in Input) func(serial string, burBatch func(string) string) *mes.Product {
	batches := map[string]string{}
	for _, b := range in.Batches {
		if b != nil {
			batches[b.ID] = b.Product
		}
	}
	byISO := map[string]*mes.Product{}
	for i := range in.Line.Products {
		byISO[in.Line.Products[i].ISO] = &in.Line.Products[i]
	}
	var only *mes.Product
	if len(in.Line.Products) == 1 {
		only = &in.Line.Products[0]
	}
	return func(serial string, burBatch func(string) string) *mes.Product {
		if iso, ok := batches[burBatch(serial)]; ok && byISO[iso] != nil {
			return byISO[iso]
		}
		return only
	}
}

// judge returns the characteristics of p's tolerances that values fail
// (out of tolerance or missing), sorted; none means the bur passes. Without
// a product nothing can be held against the bur: it passes.
func judge(p *mes.Product, values map[string]float64) []string {
	if p == nil {
		return nil
	}
	var failed []string
	for ch, tol := range p.Tolerances {
		v, ok := values[ch]
		if !ok || !tol.Contains(v) {
			failed = append(failed, ch)
		}
	}
	slices.Sort(failed)
	return failed
}

// idealTimes holds the ISO 22400 PRU (ideal cycle time) of each group's operations.
type idealTimes struct {
	byProgram map[string]map[string]float64 // group → program → seconds
	byGroup   map[string]mes.Operation      // group → first operation found in the products' routes
}

func newIdealTimes(line *mes.LineConfig) idealTimes {
	k := idealTimes{byProgram: map[string]map[string]float64{}, byGroup: map[string]mes.Operation{}}
	for _, p := range line.Products {
		for _, op := range p.Route {
			if k.byProgram[op.Group] == nil {
				k.byProgram[op.Group] = map[string]float64{}
			}
			if _, ok := k.byProgram[op.Group][op.Program]; !ok {
				k.byProgram[op.Group][op.Program] = op.IdealCycleS
			}
			if _, ok := k.byGroup[op.Group]; !ok {
				k.byGroup[op.Group] = op
			}
		}
	}
	return k
}

// of is the PRU of a job of program on a machine of group: the operation
// running that program, else the group's first operation.
func (k idealTimes) of(group, program string) float64 {
	if s, ok := k.byProgram[group][program]; ok {
		return s
	}
	return k.byGroup[group].IdealCycleS
}

// cycleReportOf assembles the cycle-time statistics in configuration order.
func cycleReportOf(line *mes.LineConfig, machines []lineMachine, times [][]float64, aborted []int, ideal idealTimes) CycleReport {
	r := CycleReport{Operations: []CycleStats{}, Machines: []CycleStats{}}
	for _, g := range line.Groups {
		var all []float64
		ab, sel := 0, false
		for i := range machines {
			if machines[i].Group == g.ID && machines[i].selected {
				all = append(all, times[i]...)
				ab += aborted[i]
				sel = true
			}
		}
		if !sel {
			continue
		}
		op := ideal.byGroup[g.ID]
		s := CycleStats{Group: g.ID, Operation: op.Number, Name: op.Name, IdealS: op.IdealCycleS, Aborted: ab}
		fillCycleStats(&s, all)
		r.Operations = append(r.Operations, s)
	}
	for i := range machines {
		m := &machines[i]
		if !m.selected {
			continue
		}
		op := ideal.byGroup[m.Group]
		s := CycleStats{Group: m.Group, Operation: op.Number, Name: op.Name, Machine: m.ID, IdealS: op.IdealCycleS, Aborted: aborted[i]}
		fillCycleStats(&s, times[i])
		r.Machines = append(r.Machines, s)
	}
	return r
}

// oeeReportOf assembles OEE per machine, group and line in configuration order.
func oeeReportOf(line *mes.LineConfig, machines []lineMachine, aggs []aggregate, q Query, lineOut *LineOEE) OEEReport {
	r := OEEReport{Groups: []OEE{}, Machines: []OEE{}}
	var all aggregate
	for _, g := range line.Groups {
		var ga aggregate
		for i := range machines {
			if machines[i].Group == g.ID && machines[i].selected {
				ga.merge(&aggs[i])
			}
		}
		if ga.machines == 0 {
			continue
		}
		r.Groups = append(r.Groups, newOEE("group", g.ID, &ga))
		all.merge(&ga)
	}
	for i := range machines {
		if machines[i].selected {
			r.Machines = append(r.Machines, newOEE("machine", machines[i].ID, &aggs[i]))
		}
	}
	if q.Machine == "" && q.Group == "" {
		o := newOEE("machines", line.Name, &all)
		r.AllMachines = &o
		r.Line = lineOut
	}
	return r
}
