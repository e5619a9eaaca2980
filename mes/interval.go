package mes

import (
	"cmp"
	"slices"
	"sort"
	"time"
)

// The state timeline of a machine is folded into time buckets by interval
// arithmetic: every nanosecond of [From, To) lands in exactly one bucket.
//
// IMPORTANT: all arithmetic is in int64 nanoseconds, so the buckets of one
// machine sum to To − From exactly, none is negative and none exceeds the
// period, whatever order, duplication or overlap the events arrive in.
// Seconds (float64) appear only when the report is written.

// intervalBucket indexes the time elements one machine's period is split into.
type intervalBucket int

const (
	bucketNotScheduled intervalBucket = iota // outside the shift calendar: not POT
	bucketBreak                              // shift break: PDOT
	bucketMaintenance                        // maintenance state: PDOT
	bucketAPT                                // grinding (measuring at inspection): value adding
	bucketLoadUnload                         // loading/unloading: busy, not value adding
	bucketDressing                           // ASUT
	bucketWheelChange                        // ASUT
	bucketAlarm                              // ADET
	bucketIdle                               // ADOT
	bucketStarved                            // ADOT
	bucketBlocked                            // ADOT
	bucketCommLost                           // ADOT: no data from the machine
	bucketUnknown                            // ADOT: offline, or no state known yet
	intervalBucketCount
)

// intervalBuckets holds nanoseconds per bucket.
type intervalBuckets [intervalBucketCount]int64

func (b *intervalBuckets) add(o *intervalBuckets) {
	for i := range b {
		b[i] += o[i]
	}
}

func (b *intervalBuckets) total() int64 {
	var t int64
	for _, v := range b {
		t += v
	}
	return t
}

// intervalStateBucket maps a machine state to its bucket. Loading and
// unloading are busy time that adds no value (AUBT but not APT); offline
// and states this version does not know count as unknown downtime, so that
// a bad value can never inflate APT.
func intervalStateBucket(s MachineState) intervalBucket {
	switch s {
	case StateGrinding, StateMeasuring:
		return bucketAPT
	case StateLoading, StateUnloading, StateMoving:
		return bucketLoadUnload
	case StateDressing:
		return bucketDressing
	case StateToolChange:
		return bucketWheelChange
	case StateAlarm:
		return bucketAlarm
	case StateIdle:
		return bucketIdle
	case StateStarved:
		return bucketStarved
	case StateBlocked:
		return bucketBlocked
	case StateMaintenance:
		return bucketMaintenance
	case StateCommLost:
		return bucketCommLost
	}
	return bucketUnknown
}

// intervalReason is the downtime Pareto label of a bucket; "" for buckets
// that are not losses (APT, handling) or not planned time (breaks, outside shifts).
func intervalReason(b intervalBucket) string {
	switch b {
	case bucketMaintenance:
		return "maintenance"
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

// intervalSegment is one window of the shift calendar.
type intervalSegment struct {
	start, end int64 // ns since epoch, [start, end)
	brk        bool  // a shift break: planned downtime
	shift      string
}

// intervalCalendar is the shift calendar clipped to a period: sorted,
// non-overlapping segments. Time in no segment is not scheduled.
type intervalCalendar struct {
	from, to int64
	segs     []intervalSegment
}

// newIntervalCalendar lays the shifts over [from, to) in loc. With no
// shifts configured the line is planned around the clock. only restricts the
// calendar to one shift's windows.
//
// A shift's break (Shift has its length, not its position) is placed in the
// middle of the shift. Where shifts overlap, the earlier-starting one keeps
// the overlap, so no instant is counted twice.
func newIntervalCalendar(shifts []Shift, from, to time.Time, loc *time.Location, only string) intervalCalendar {
	c := intervalCalendar{from: from.UnixNano(), to: to.UnixNano()}
	if len(shifts) == 0 {
		c.segs = []intervalSegment{{start: c.from, end: c.to}}
		return c
	}
	type window struct {
		start, bs, be, end int64
		shift              string
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
			m, err := ParseClock(s.Start)
			if err != nil {
				continue // Validate rejects this; skip rather than guess
			}
			st := time.Date(day.Year(), day.Month(), day.Day(), m/60, m%60, 0, 0, loc).UnixNano()
			dur := int64(s.DurationS * float64(time.Second))
			brk := int64(s.BreakS * float64(time.Second))
			if dur <= 0 {
				continue
			}
			brk = min(max(brk, 0), dur)
			bs := st + (dur-brk)/2
			raw = append(raw, window{start: st, bs: bs, be: bs + brk, end: st + dur, shift: s.Name})
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
		for _, seg := range [3]intervalSegment{
			{start: w.start, end: w.bs, shift: w.shift},
			{start: w.bs, end: w.be, brk: true, shift: w.shift},
			{start: w.be, end: w.end, shift: w.shift},
		} {
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
func (c *intervalCalendar) find(t int64) *intervalSegment {
	i := sort.Search(len(c.segs), func(i int) bool { return c.segs[i].end > t })
	if i < len(c.segs) && c.segs[i].start <= t {
		return &c.segs[i]
	}
	return nil
}

// scheduled reports whether t lies in planned operation time (shifts, breaks included).
func (c *intervalCalendar) scheduled(t int64) bool { return c.find(t) != nil }

// working reports whether t lies in planned busy time of the calendar (a shift, not its break).
func (c *intervalCalendar) working(t int64) bool {
	s := c.find(t)
	return s != nil && !s.brk
}

// workingNS is the calendar's planned busy time (shift time minus breaks).
func (c *intervalCalendar) workingNS() int64 {
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

// intervalRecord is the part of a MachineEvent the timeline needs, kept
// small (32 bytes) because a month of a line is half a million of them.
type intervalRecord struct {
	t, recv int64  // source and receive time, ns
	seq     uint64 // alarm sequence
	code    uint32 // alarm code, interned in intervalCodes
	kind    uint8
	bucket  intervalBucket8 // the state's bucket
}

// intervalBucket8 is an intervalBucket stored in a byte.
type intervalBucket8 uint8

// intervalCodes interns alarm codes; id 0 is "no code".
type intervalCodes struct {
	names []string
	index map[string]uint32
}

func newIntervalCodes() *intervalCodes {
	return &intervalCodes{names: []string{""}, index: map[string]uint32{"": 0}}
}

func (c *intervalCodes) id(code string) uint32 {
	if id, ok := c.index[code]; ok {
		return id
	}
	id := uint32(len(c.names))
	c.names = append(c.names, code)
	c.index[code] = id
	return id
}

func (c *intervalCodes) name(id uint32) string { return c.names[id] }

// intervalRecordOf converts e; ok is false for kinds the timeline ignores.
func intervalRecordOf(e *MachineEvent, codes *intervalCodes) (intervalRecord, bool) {
	r := intervalRecord{t: e.SourceTime.UnixNano()}
	if !e.Received.IsZero() {
		r.recv = e.Received.UnixNano()
	}
	switch e.Kind {
	case EventState:
		r.kind, r.bucket = recState, intervalBucket8(intervalStateBucket(e.State))
	case EventCommLost:
		r.kind = recCommLost
	case EventCommRestored:
		r.kind = recCommRestored
	case EventAlarmRaised, EventAlarmCleared:
		if e.Alarm == nil {
			return r, false
		}
		r.kind, r.seq, r.code = recAlarmRaised, e.Alarm.Seq, codes.id(e.Alarm.Code)
		if e.Kind == EventAlarmCleared {
			r.kind = recAlarmCleared
		}
	default:
		return r, false
	}
	return r, true
}

// intervalLess orders records by source time, then by receive time, so
// that among events with equal source times the last one received wins.
func intervalLess(a, b *intervalRecord) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	return a.recv < b.recv
}

// intervalSort sorts recs stably (equal keys keep delivery order).
func intervalSort(recs []intervalRecord) {
	slices.SortStableFunc(recs, func(a, b intervalRecord) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.recv, b.recv)
	})
}

// intervalAlarm is an active alarm.
type intervalAlarm struct {
	code   uint32
	raised int64
}

// intervalMachine is what the timeline knows of a machine at an instant.
// Applying a record is idempotent, so duplicate events change nothing.
type intervalMachine struct {
	state    intervalBucket // the bucket of the latest state
	known    bool           // a state has been seen
	commLost bool           // acquisition has lost the machine: overrides the state
	alarms   map[uint64]intervalAlarm
}

func (m *intervalMachine) apply(r *intervalRecord) {
	switch r.kind {
	case recState:
		m.state, m.known = intervalBucket(r.bucket), true
	case recCommLost:
		m.commLost = true
	case recCommRestored:
		// Back to the last known state until the machine reports a new one.
		m.commLost = false
	case recAlarmRaised:
		if m.alarms == nil {
			m.alarms = map[uint64]intervalAlarm{}
		}
		if _, ok := m.alarms[r.seq]; !ok {
			m.alarms[r.seq] = intervalAlarm{code: r.code, raised: r.t}
		}
	case recAlarmCleared:
		delete(m.alarms, r.seq)
	}
}

func (m *intervalMachine) bucket() intervalBucket {
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
func (m *intervalMachine) firstOut() uint32 {
	var best intervalAlarm
	var seq uint64
	found := false
	for s, a := range m.alarms {
		if !found || a.raised < best.raised || (a.raised == best.raised && s < seq) {
			best, seq, found = a, s, true
		}
	}
	return best.code
}

// intervalLoss accumulates one downtime reason.
type intervalLoss struct {
	ns    int64
	count int
}

// intervalLossKey identifies a downtime reason: the bucket and, for alarms, the code.
type intervalLossKey struct {
	bucket intervalBucket
	code   string
}

// intervalResult is one machine's folded timeline.
type intervalResult struct {
	buckets intervalBuckets
	losses  map[intervalLossKey]*intervalLoss
}

// intervalSweep folds a machine's records (sorted with intervalSort) over
// the calendar's period, starting from the state m carries in at From.
// Records before From only update m; records at or after To are ignored.
//
// Records with the same source time are applied together before the state
// is read, so the last of them wins and no zero-length run is counted.
func intervalSweep(cal *intervalCalendar, recs []intervalRecord, m *intervalMachine, codes *intervalCodes) intervalResult {
	res := intervalResult{losses: map[intervalLossKey]*intervalLoss{}}
	i := 0
	for i < len(recs) && recs[i].t < cal.from {
		m.apply(&recs[i])
		i++
	}
	type run struct {
		b     intervalBucket
		start int64
		code  uint32
	}
	open := func(b intervalBucket, at int64) run {
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
			cursor = intervalEmit(cal, &res, cursor, cur.b, codes.name(cur.code), cur.start, t)
			cur = open(nb, t)
		}
	}
	intervalEmit(cal, &res, cursor, cur.b, codes.name(cur.code), cur.start, cal.to)
	return res
}

// intervalEmit adds the run [s, e) in bucket b to res, split by the
// calendar, and returns the calendar cursor for the next (later) run.
func intervalEmit(cal *intervalCalendar, res *intervalResult, cursor int, b intervalBucket, code string, s, e int64) int {
	if e <= s {
		return cursor
	}
	for cursor < len(cal.segs) && cal.segs[cursor].end <= s {
		cursor++
	}
	var sched, work int64
	for j := cursor; j < len(cal.segs) && cal.segs[j].start < e; j++ {
		seg := &cal.segs[j]
		ov := min(e, seg.end) - max(s, seg.start)
		if ov <= 0 {
			continue
		}
		sched += ov
		if seg.brk {
			res.buckets[bucketBreak] += ov
		} else {
			work += ov
		}
	}
	res.buckets[bucketNotScheduled] += (e - s) - sched
	res.buckets[b] += work
	if work > 0 && intervalReason(b) != "" {
		k := intervalLossKey{bucket: b, code: code}
		l := res.losses[k]
		if l == nil {
			l = &intervalLoss{}
			res.losses[k] = l
		}
		l.ns += work
		l.count++
	}
	return cursor
}
