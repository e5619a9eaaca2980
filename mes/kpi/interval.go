package kpi

import (
	"cmp"
	"slices"
	"sort"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// The state timeline of a machine is folded into time buckets by interval
// arithmetic: every nanosecond of [From, To) lands in exactly one bucket.
//
// IMPORTANT: all arithmetic is in int64 nanoseconds, so the buckets of one
// machine sum to To − From exactly, none is negative and none exceeds the
// period, whatever order, duplication or overlap the events arrive in.
// Seconds (float64) appear only when the report is written.

// bucket indexes the time elements one machine's period is split into.
type bucket int

const (
	bucketNotScheduled         bucket = iota // outside the shift calendar: not POT
	bucketBreak                              // shift break: PDOT
	bucketMaintenance                        // maintenance state inside a maintenance window: PDOT
	bucketAPT                                // grinding (measuring at inspection): APT
	bucketLoadUnload                         // loading/unloading: APT, since PRU includes it
	bucketDressing                           // ASUT
	bucketWheelChange                        // ASUT
	bucketAlarm                              // ADET
	bucketIdle                               // ADOT
	bucketStarved                            // ADOT
	bucketBlocked                            // ADOT
	bucketCommLost                           // ADOT: no data from the machine
	bucketUnknown                            // ADOT: offline, or no state known yet
	bucketMaintenanceUnplanned               // maintenance state outside a maintenance window: ADET
	bucketCount
)

// buckets holds nanoseconds per bucket.
type buckets [bucketCount]int64

func (b *buckets) add(o *buckets) {
	for i := range b {
		b[i] += o[i]
	}
}

func (b *buckets) total() int64 {
	var t int64
	for _, v := range b {
		t += v
	}
	return t
}

// stateBucket maps a machine state to its bucket. Loading and unloading
// are part of the job the ideal cycle time (PRU) is planned for, so they
// count as APT; offline and states this version does not know count as
// unknown downtime, so that a bad value can never inflate APT. Maintenance
// is split into planned and unplanned by the calendar's maintenance windows
// when the run is emitted.
func stateBucket(s mes.MachineState) bucket {
	switch s {
	case mes.StateGrinding, mes.StateMeasuring:
		return bucketAPT
	case mes.StateLoading, mes.StateUnloading, mes.StateMoving:
		return bucketLoadUnload
	case mes.StateDressing:
		return bucketDressing
	case mes.StateToolChange:
		return bucketWheelChange
	case mes.StateAlarm:
		return bucketAlarm
	case mes.StateIdle:
		return bucketIdle
	case mes.StateStarved:
		return bucketStarved
	case mes.StateBlocked:
		return bucketBlocked
	case mes.StateMaintenance:
		return bucketMaintenance
	case mes.StateCommLost:
		return bucketCommLost
	}
	return bucketUnknown
}

// reasonOf is the downtime Pareto label of a bucket; "" for buckets
// that are not losses (APT, handling) or not planned time (breaks, outside shifts).
func reasonOf(b bucket) string {
	switch b {
	case bucketMaintenance:
		return "maintenance"
	case bucketMaintenanceUnplanned:
		return "maintenance_unplanned"
	case bucketDressing:
		return "dressing"
	case bucketWheelChange:
		return "wheel_change"
	case bucketAlarm:
		return "alarm"
	case bucketIdle:
		return "idle"
	case bucketStarved:
		return "starved"
	case bucketBlocked:
		return "blocked"
	case bucketCommLost:
		return "comm_lost"
	case bucketUnknown:
		return "unknown"
	}
	return ""
}

// segment is one window of the shift calendar.
type segment struct {
	start, end int64 // ns since epoch, [start, end)
	brk        bool  // a shift break: planned downtime
	shift      string
}

// calendar is the shift calendar clipped to a period: sorted,
// non-overlapping segments. Time in no segment is not scheduled.
type calendar struct {
	from, to int64
	segs     []segment
}

// newCalendar lays the shifts over [from, to) in loc. With no
// shifts configured the line is planned around the clock. only restricts the
// calendar to one shift's windows.
//
// Each break lies where the shift configuration puts it (mes.Break.Start).
// Where shifts overlap, the earlier-starting one keeps the overlap, so no
// instant is counted twice.
func newCalendar(shifts []mes.Shift, from, to time.Time, loc *time.Location, only string) calendar {
	c := calendar{from: from.UnixNano(), to: to.UnixNano()}
	if len(shifts) == 0 {
		c.segs = []segment{{start: c.from, end: c.to}}
		return c
	}
	type window struct {
		start, end int64
		breaks     [][2]int64 // [start, end), in order, inside the window
		shift      string
	}
	var raw []window
	// A shift may start the day before From and run past midnight.
	lf, lt := from.In(loc), to.In(loc)
	day := time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -1)
	last := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	for ; !day.After(last); day = day.AddDate(0, 0, 1) {
		for _, s := range shifts {
			if only != "" && s.Name != only {
				continue
			}
			m, err := mes.ParseClock(s.Start)
			if err != nil {
				continue // Validate rejects this; skip rather than guess
			}
			st := time.Date(day.Year(), day.Month(), day.Day(), m/60, m%60, 0, 0, loc).UnixNano()
			dur := int64(s.DurationS * float64(time.Second))
			if dur <= 0 {
				continue
			}
			w := window{start: st, end: st + dur, shift: s.Name}
			for _, b := range s.Breaks {
				off, err := s.BreakOffsetS(b)
				if err != nil {
					continue
				}
				bs := st + int64(off*float64(time.Second))
				be := min(bs+int64(b.DurationS*float64(time.Second)), w.end)
				if n := len(w.breaks); n > 0 {
					bs = max(bs, w.breaks[n-1][1])
				}
				if be > bs {
					w.breaks = append(w.breaks, [2]int64{bs, be})
				}
			}
			raw = append(raw, w)
		}
	}
	// Stable, so that at equal starts configuration order wins.
	slices.SortStableFunc(raw, func(a, b window) int { return cmp.Compare(a.start, b.start) })
	covered := c.from // everything before covered belongs to an earlier shift
	for _, w := range raw {
		lo, hi := max(w.start, covered), min(w.end, c.to)
		if hi <= lo {
			continue
		}
		pieces := make([]segment, 0, 2*len(w.breaks)+1)
		at := w.start
		for _, b := range w.breaks {
			pieces = append(pieces, segment{start: at, end: b[0], shift: w.shift}, segment{start: b[0], end: b[1], brk: true, shift: w.shift})
			at = b[1]
		}
		pieces = append(pieces, segment{start: at, end: w.end, shift: w.shift})
		for _, seg := range pieces {
			seg.start, seg.end = max(seg.start, lo), min(seg.end, hi)
			switch n := len(c.segs); {
			case seg.end <= seg.start:
			case n > 0 && c.segs[n-1].end == seg.start && c.segs[n-1].brk == seg.brk && c.segs[n-1].shift == seg.shift:
				c.segs[n-1].end = seg.end // a shift without a break is one window
			default:
				c.segs = append(c.segs, seg)
			}
		}
		covered = hi
	}
	return c
}

// find returns the segment containing t, or nil.
func (c *calendar) find(t int64) *segment {
	i := sort.Search(len(c.segs), func(i int) bool { return c.segs[i].end > t })
	if i < len(c.segs) && c.segs[i].start <= t {
		return &c.segs[i]
	}
	return nil
}

// scheduled reports whether t lies in planned operation time (shifts, breaks included).
func (c *calendar) scheduled(t int64) bool { return c.find(t) != nil }

// working reports whether t lies in planned busy time of the calendar (a shift, not its break).
func (c *calendar) working(t int64) bool {
	s := c.find(t)
	return s != nil && !s.brk
}

// workingBetween is the planned busy time of the calendar in [a, b).
func (c *calendar) workingBetween(a, b int64) int64 {
	var n int64
	i := sort.Search(len(c.segs), func(i int) bool { return c.segs[i].end > a })
	for ; i < len(c.segs) && c.segs[i].start < b; i++ {
		if s := &c.segs[i]; !s.brk {
			n += max(0, min(b, s.end)-max(a, s.start))
		}
	}
	return n
}

// workingNS is the calendar's planned busy time (shift time minus breaks).
func (c *calendar) workingNS() int64 {
	var n int64
	for _, s := range c.segs {
		if !s.brk {
			n += s.end - s.start
		}
	}
	return n
}

// Timeline records: the state-bearing events of one machine.
const (
	recState uint8 = iota
	recCommLost
	recCommRestored
	recAlarmRaised
	recAlarmCleared
)

// record is the part of a MachineEvent the timeline needs, kept
// small (32 bytes) because a month of a line is half a million of them.
type record struct {
	t, recv int64  // source and receive time, ns
	seq     uint64 // alarm sequence
	code    uint32 // alarm code, interned in alarmCodes
	kind    uint8
	bucket  bucket8 // the state's bucket
}

// bucket8 is an bucket stored in a byte.
type bucket8 uint8

// alarmCodes interns alarm codes; id 0 is "no code".
type alarmCodes struct {
	names []string
	index map[string]uint32
}

func newAlarmCodes() *alarmCodes {
	return &alarmCodes{names: []string{""}, index: map[string]uint32{"": 0}}
}

func (c *alarmCodes) id(code string) uint32 {
	if id, ok := c.index[code]; ok {
		return id
	}
	id := uint32(len(c.names))
	c.names = append(c.names, code)
	c.index[code] = id
	return id
}

func (c *alarmCodes) name(id uint32) string { return c.names[id] }

// recordOf converts e; ok is false for kinds the timeline ignores.
func recordOf(e *mes.MachineEvent, codes *alarmCodes) (record, bool) {
	r := record{t: e.SourceTime.UnixNano()}
	if !e.Received.IsZero() {
		r.recv = e.Received.UnixNano()
	}
	switch e.Kind {
	case mes.EventState:
		r.kind, r.bucket = recState, bucket8(stateBucket(e.State))
	case mes.EventCommLost:
		r.kind = recCommLost
	case mes.EventCommRestored:
		r.kind = recCommRestored
	case mes.EventAlarmRaised, mes.EventAlarmCleared:
		if e.Alarm == nil {
			return r, false
		}
		r.kind, r.seq, r.code = recAlarmRaised, e.Alarm.Seq, codes.id(e.Alarm.Code)
		if e.Kind == mes.EventAlarmCleared {
			r.kind = recAlarmCleared
		}
	default:
		return r, false
	}
	return r, true
}

// recordLess orders records by source time, then by receive time, so
// that among events with equal source times the last one received wins.
func recordLess(a, b *record) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	return a.recv < b.recv
}

// sortRecords sorts recs stably (equal keys keep delivery order).
func sortRecords(recs []record) {
	slices.SortStableFunc(recs, func(a, b record) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.recv, b.recv)
	})
}

// openAlarm is an active alarm.
type openAlarm struct {
	code   uint32
	raised int64
}

// timeline is what the timeline knows of a machine at an instant.
// Applying a record is idempotent, so duplicate events change nothing.
type timeline struct {
	state    bucket // the bucket of the latest state
	known    bool   // a state has been seen
	commLost bool   // acquisition has lost the machine: overrides the state
	alarms   map[uint64]openAlarm
}

func (m *timeline) apply(r *record) {
	switch r.kind {
	case recState:
		m.state, m.known = bucket(r.bucket), true
	case recCommLost:
		m.commLost = true
	case recCommRestored:
		// Back to the last known state until the machine reports a new one.
		m.commLost = false
	case recAlarmRaised:
		if m.alarms == nil {
			m.alarms = map[uint64]openAlarm{}
		}
		if _, ok := m.alarms[r.seq]; !ok {
			m.alarms[r.seq] = openAlarm{code: r.code, raised: r.t}
		}
	case recAlarmCleared:
		delete(m.alarms, r.seq)
	}
}

func (m *timeline) bucket() bucket {
	switch {
	case m.commLost:
		return bucketCommLost
	case !m.known:
		return bucketUnknown
	}
	return m.state
}

// firstOut is the code of the earliest raised active alarm: the first-out
// alarm is usually the cause, the ones after it its consequences.
func (m *timeline) firstOut() uint32 {
	var best openAlarm
	var seq uint64
	found := false
	for s, a := range m.alarms {
		if !found || a.raised < best.raised || (a.raised == best.raised && s < seq) {
			best, seq, found = a, s, true
		}
	}
	return best.code
}

// loss accumulates one downtime reason.
type loss struct {
	ns    int64
	count int
}

// lossKey identifies a downtime reason: the bucket and, for alarms, the code.
type lossKey struct {
	bucket bucket
	code   string
}

// sweepResult is one machine's folded timeline.
type sweepResult struct {
	buckets buckets
	losses  map[lossKey]*loss
}

// span is a half-open window [start, end) in ns.
type span struct{ start, end int64 }

// overlapNS is the time of [a, b) covered by spans (sorted, non-overlapping).
func overlapNS(spans []span, a, b int64) int64 {
	var n int64
	i := sort.Search(len(spans), func(i int) bool { return spans[i].end > a })
	for ; i < len(spans) && spans[i].start < b; i++ {
		n += max(0, min(b, spans[i].end)-max(a, spans[i].start))
	}
	return n
}

// mergeSpans sorts spans and merges the overlapping ones.
func mergeSpans(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	out := spans[:0]
	for _, sp := range spans {
		if sp.end <= sp.start {
			continue
		}
		if n := len(out); n > 0 && sp.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, sp.end)
			continue
		}
		out = append(out, sp)
	}
	return out
}

// producing reports whether a bucket is a machine making product: such time
// during a shift break is counted where it was made (APT), not as the break.
func producing(b bucket) bool { return b == bucketAPT || b == bucketLoadUnload }

// sweep folds a machine's records (sorted with sortRecords) over
// the calendar's period, starting from the state m carries in at From.
// Records before From only update m; records at or after To are ignored.
// maint holds the machine's maintenance windows (sorted, merged): only
// maintenance inside one is planned downtime.
//
// Records with the same source time are applied together before the state
// is read, so the last of them wins and no zero-length run is counted.
func sweep(cal *calendar, recs []record, m *timeline, codes *alarmCodes, maint []span) sweepResult {
	res := sweepResult{losses: map[lossKey]*loss{}}
	i := 0
	for i < len(recs) && recs[i].t < cal.from {
		m.apply(&recs[i])
		i++
	}
	type run struct {
		b     bucket
		start int64
		code  uint32
	}
	open := func(b bucket, at int64) run {
		r := run{b: b, start: at}
		if b == bucketAlarm {
			r.code = m.firstOut()
		}
		return r
	}
	cur := open(m.bucket(), cal.from)
	cursor := 0
	for i < len(recs) && recs[i].t < cal.to {
		t := recs[i].t
		for ; i < len(recs) && recs[i].t == t; i++ {
			m.apply(&recs[i])
			// An alarm raised just after the machine entered the alarm state
			// names the cause of that stop.
			if recs[i].kind == recAlarmRaised && cur.b == bucketAlarm && cur.code == 0 {
				cur.code = recs[i].code
			}
		}
		if nb := m.bucket(); nb != cur.b {
			cursor = emit(cal, &res, cursor, cur.b, codes.name(cur.code), cur.start, t, maint)
			cur = open(nb, t)
		}
	}
	emit(cal, &res, cursor, cur.b, codes.name(cur.code), cur.start, cal.to, maint)
	return res
}

// emit adds the run [s, e) in bucket b to res, split by the calendar and,
// for maintenance, by the maintenance windows, and returns the calendar
// cursor for the next (later) run.
func emit(cal *calendar, res *sweepResult, cursor int, b bucket, code string, s, e int64, maint []span) int {
	if e <= s {
		return cursor
	}
	for cursor < len(cal.segs) && cal.segs[cursor].end <= s {
		cursor++
	}
	var sched, work, unplanned int64
	for j := cursor; j < len(cal.segs) && cal.segs[j].start < e; j++ {
		seg := &cal.segs[j]
		lo, hi := max(s, seg.start), min(e, seg.end)
		if hi <= lo {
			continue
		}
		sched += hi - lo
		switch {
		case seg.brk && !producing(b):
			res.buckets[bucketBreak] += hi - lo
		case b == bucketMaintenance:
			planned := overlapNS(maint, lo, hi)
			work += planned
			unplanned += hi - lo - planned
		default:
			work += hi - lo
		}
	}
	res.buckets[bucketNotScheduled] += (e - s) - sched
	res.buckets[b] += work
	res.buckets[bucketMaintenanceUnplanned] += unplanned
	for _, x := range [2]struct {
		b  bucket
		ns int64
	}{{b, work}, {bucketMaintenanceUnplanned, unplanned}} {
		if x.ns <= 0 || reasonOf(x.b) == "" {
			continue
		}
		k := lossKey{bucket: x.b, code: code}
		l := res.losses[k]
		if l == nil {
			l = &loss{}
			res.losses[k] = l
		}
		l.ns += x.ns
		l.count++
	}
	return cursor
}
