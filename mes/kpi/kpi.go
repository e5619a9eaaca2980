package kpi

import (
	"context"
	"fmt"
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
	Batches []*mes.Batch // released and running batches: the demand behind the target takt
	// BurBatch maps a bur serial to its batch id. Nil derives the batch from
	// the line's serial pattern (see defaultBurBatch).
	BurBatch func(serial string) string
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
		PeriodS: seconds(q.To.UnixNano() - q.From.UnixNano())}

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

	// Inspection verdicts: the latest measurement of a serial decides.
	products := productLookup(in)
	verdicts := map[string]verdict{}
	seenMeas := make(map[seqKey]struct{}, len(meas))
	uniq := meas[:0]
	for i := range meas {
		mm := &meas[i]
		k := seqKey{mm.m, measEvents[i].Seq}
		if _, dup := seenMeas[k]; dup {
			continue
		}
		seenMeas[k] = struct{}{}
		mm.pass = judge(products(mm.serial, burBatch), measEvents[i].Values)
		if v, ok := verdicts[mm.serial]; !ok || mm.t >= v.t {
			verdicts[mm.serial] = verdict{t: mm.t, pass: mm.pass}
		}
		uniq = append(uniq, *mm)
	}
	meas = uniq
	status := func(serial string) (bool, bool) {
		v, ok := verdicts[serial]
		return v.pass, ok
	}

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
		res := sweep(&cal, m.recs, &m.carry, codes)
		aggs[i].buckets = res.buckets
		aggs[i].machines = 1
		for k, l := range res.losses {
			if t := losses[k]; t != nil {
				t.ns += l.ns
				t.count += l.count
			} else {
				losses[k] = l
			}
		}
	}
	rep.Downtime = pareto(losses)

	// Jobs: produced quantity, cycle times, energy.
	ideal := newIdealTimes(line)
	inWindow := func(t int64) bool { return q.Shift == "" || cal.scheduled(t) }
	seenCycle := make(map[seqKey]struct{}, len(cycles))
	machineTimes := make([][]float64, len(machines))
	aborted := make([]int, len(machines))
	burs := map[string]*burTally{}
	lineScrap := 0
	for _, c := range cycles {
		k := seqKey{c.m, c.c.Seq}
		if _, dup := seenCycle[k]; dup {
			continue
		}
		seenCycle[k] = struct{}{}
		m := &machines[c.m]
		working := cal.working(c.t)
		if working && c.c.Aborted && m.Kind != mes.KindInspection {
			lineScrap++
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
		if working && m.Kind != mes.KindInspection {
			a := &aggs[c.m]
			a.pq++
			a.addIdeal(ideal.of(m.Group, c.c.Program))
			if pass, ok := status(c.c.Serial); !c.c.Aborted && (!ok || pass) {
				a.gq++
			}
		}
	}

	// Inspection results: the station's output and the line's departures.
	var departures []int64
	linePQ, lineGQ := lineScrap, 0
	for _, mm := range meas {
		m := &machines[mm.m]
		if m.Kind != mes.KindInspection {
			continue
		}
		if inWindow(mm.t) {
			departures = append(departures, mm.t)
		}
		if !cal.working(mm.t) {
			continue
		}
		linePQ++
		if mm.pass {
			lineGQ++
		}
		if m.selected {
			a := &aggs[mm.m]
			a.pq++
			a.addIdeal(ideal.of(m.Group, ""))
			if mm.pass {
				a.gq++
			}
		}
	}

	rep.Takt = targetTakt(line, in.Batches, q.To, loc)
	actualTakt(&rep.Takt, departures, lastN)
	rep.Cycles = cycleReportOf(line, machines, machineTimes, aborted, ideal)
	rep.OEE = oeeReportOf(line, machines, aggs, q, linePQ, lineGQ)
	rep.Energy = reportEnergy(line.Carbon.KgPerKWh(), burs, burBatch, status, q.BurDetail)
	return rep, nil
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

// verdict is the latest inspection result of a serial.
type verdict struct {
	t    int64
	pass bool
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

// judge reports whether values meet every tolerance of p; a toleranced
// characteristic missing from the values fails. Without a product nothing
// can be held against the bur: it passes.
func judge(p *mes.Product, values map[string]float64) bool {
	if p == nil {
		return true
	}
	for ch, tol := range p.Tolerances {
		v, ok := values[ch]
		if !ok || !tol.Contains(v) {
			return false
		}
	}
	return true
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
func oeeReportOf(line *mes.LineConfig, machines []lineMachine, aggs []aggregate, q Query, linePQ, lineGQ int) OEEReport {
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
		all.pq, all.gq = linePQ, lineGQ
		o := newOEE("line", line.Name, &all)
		r.Line = &o
	}
	return r
}
