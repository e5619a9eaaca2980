package kpi

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// testCalendar is the test day with shift A: work 06:00–09:30 and
// 10:30–14:00, break 09:30–10:30, the rest not scheduled.
func testCalendar() calendar {
	return newCalendar(testLine().Shifts, testDay, testDay.Add(24*time.Hour), time.UTC, "")
}

func testRecs(t *testing.T, events []mes.MachineEvent, codes *alarmCodes) []record {
	t.Helper()
	var recs []record
	for i := range events {
		r, ok := recordOf(&events[i], codes)
		require.True(t, ok, "event %d", i)
		recs = append(recs, r)
	}
	sortRecords(recs)
	return recs
}

// assertPartition checks the invariant every result must keep.
func assertPartition(t *testing.T, cal *calendar, res sweepResult) {
	t.Helper()
	assert.Equal(t, cal.to-cal.from, res.buckets.total(), "buckets must sum to the period")
	for b, v := range res.buckets {
		assert.GreaterOrEqual(t, v, int64(0), "bucket %d negative", b)
	}
	byBucket := map[bucket]int64{}
	for k, l := range res.losses {
		byBucket[k.bucket] += l.ns
		assert.Positive(t, l.count)
	}
	for b := range bucketCount {
		if reasonOf(b) != "" {
			assert.Equal(t, res.buckets[b], byBucket[b], "losses of bucket %d must equal the bucket", b)
		}
	}
}

func TestIntervalCalendar(t *testing.T) {
	day := testDay
	h := func(x float64) int64 { return day.Add(time.Duration(x * float64(time.Hour))).UnixNano() }
	tests := []struct {
		name     string
		shifts   []mes.Shift
		from, to float64 // hours after the test day's midnight
		only     string
		want     []segment
	}{
		{"no shifts: around the clock", nil, 0, 24, "", []segment{{start: h(0), end: h(24)}}},
		{"break where configured", []mes.Shift{{Name: "A", Start: "06:00", DurationS: 8 * 3600, Breaks: []mes.Break{{Start: "09:30", DurationS: 3600}}}}, 0, 24, "",
			[]segment{{h(6), h(9.5), false, "A"}, {h(9.5), h(10.5), true, "A"}, {h(10.5), h(14), false, "A"}}},
		{"night shift from the day before", []mes.Shift{{Name: "C", Start: "22:00", DurationS: 8 * 3600}}, 0, 12, "",
			[]segment{{h(0), h(6), false, "C"}}},
		{"clipped to the period", []mes.Shift{{Name: "A", Start: "06:00", DurationS: 8 * 3600, Breaks: []mes.Break{{Start: "09:30", DurationS: 3600}}}}, 9.75, 12, "",
			[]segment{{h(9.75), h(10.5), true, "A"}, {h(10.5), h(12), false, "A"}}},
		{"overlap: the earlier shift keeps it, break included",
			[]mes.Shift{{Name: "X", Start: "06:00", DurationS: 10 * 3600, Breaks: []mes.Break{{Start: "10:00", DurationS: 2 * 3600}}}, {Name: "Y", Start: "08:00", DurationS: 10 * 3600}}, 0, 24, "",
			[]segment{{h(6), h(10), false, "X"}, {h(10), h(12), true, "X"}, {h(12), h(16), false, "X"}, {h(16), h(18), false, "Y"}}},
		{"two breaks, early in the shift and across midnight",
			[]mes.Shift{{Name: "C", Start: "22:00", DurationS: 8 * 3600, Breaks: []mes.Break{{Start: "22:30", DurationS: 900}, {Start: "01:00", DurationS: 1800}}}}, 0, 24, "",
			[]segment{{h(0), h(1), false, "C"}, {h(1), h(1.5), true, "C"}, {h(1.5), h(6), false, "C"},
				{h(22), h(22.5), false, "C"}, {h(22.5), h(22.75), true, "C"}, {h(22.75), h(24), false, "C"}}},
		{"only one shift", []mes.Shift{{Name: "A", Start: "06:00", DurationS: 8 * 3600}, {Name: "B", Start: "14:00", DurationS: 8 * 3600}}, 0, 24, "B",
			[]segment{{h(14), h(22), false, "B"}}},
		{"three shifts cover the day", []mes.Shift{{Name: "A", Start: "06:00", DurationS: 8 * 3600}, {Name: "B", Start: "14:00", DurationS: 8 * 3600}, {Name: "C", Start: "22:00", DurationS: 8 * 3600}}, 0, 24, "",
			[]segment{{h(0), h(6), false, "C"}, {h(6), h(14), false, "A"}, {h(14), h(22), false, "B"}, {h(22), h(24), false, "C"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCalendar(tt.shifts, day.Add(time.Duration(tt.from*float64(time.Hour))), day.Add(time.Duration(tt.to*float64(time.Hour))), time.UTC, tt.only)
			assert.Equal(t, tt.want, c.segs)
		})
	}
}

func TestIntervalCalendar_Lookups(t *testing.T) {
	c := testCalendar()
	for _, tt := range []struct {
		clock              string
		scheduled, working bool
	}{{"05:59:59", false, false}, {"06:00", true, true}, {"09:30", true, false}, {"10:29:59", true, false}, {"10:30", true, true}, {"13:59:59", true, true}, {"14:00", false, false}} {
		ts := at(tt.clock).UnixNano()
		assert.Equal(t, tt.scheduled, c.scheduled(ts), tt.clock)
		assert.Equal(t, tt.working, c.working(ts), tt.clock)
	}
	assert.Equal(t, int64(7*time.Hour), c.workingNS())
}

func TestIntervalSweep(t *testing.T) {
	const hour = 3600.0
	recv := func(e mes.MachineEvent, clock string) mes.MachineEvent { e.Received = at(clock); return e }
	type loss struct {
		reason, code string
		s            float64
		count        int
	}
	tests := []struct {
		name   string
		events []mes.MachineEvent
		want   map[bucket]float64 // seconds; buckets not listed must be 0
		losses []loss             // in bucket order
	}{
		{
			name:   "no events: the planned time is unknown",
			want:   map[bucket]float64{bucketNotScheduled: 16 * hour, bucketBreak: hour, bucketUnknown: 7 * hour},
			losses: []loss{{"unknown", "", 7 * hour, 1}},
		},
		{
			name:   "the state before From carries in",
			events: []mes.MachineEvent{stateEv("M1", "-23:00", mes.StateIdle)},
			want:   map[bucket]float64{bucketNotScheduled: 16 * hour, bucketBreak: hour, bucketIdle: 7 * hour},
			losses: []loss{{"idle", "", 7 * hour, 1}},
		},
		{
			name: "duplicates and repeated states do not double count",
			events: []mes.MachineEvent{
				stateEv("M1", "06:00", mes.StateGrinding), stateEv("M1", "06:00", mes.StateGrinding),
				stateEv("M1", "07:00", mes.StateAlarm), stateEv("M1", "07:00", mes.StateAlarm), stateEv("M1", "07:30", mes.StateAlarm),
				stateEv("M1", "08:00", mes.StateGrinding),
			},
			want:   map[bucket]float64{bucketNotScheduled: 16 * hour, bucketAPT: 7 * hour, bucketAlarm: hour}, // grinding through the break
			losses: []loss{{"alarm", "", hour, 1}},
		},
		{
			name: "out of order delivery is sorted",
			events: []mes.MachineEvent{
				stateEv("M1", "08:00", mes.StateGrinding), stateEv("M1", "07:00", mes.StateAlarm), stateEv("M1", "06:00", mes.StateGrinding),
			},
			want:   map[bucket]float64{bucketNotScheduled: 16 * hour, bucketAPT: 7 * hour, bucketAlarm: hour}, // grinding through the break
			losses: []loss{{"alarm", "", hour, 1}},
		},
		{
			name: "equal source times: the last received wins",
			events: []mes.MachineEvent{
				stateEv("M1", "06:00", mes.StateGrinding),
				recv(stateEv("M1", "07:00", mes.StateStarved), "07:00:02"), recv(stateEv("M1", "07:00", mes.StateBlocked), "07:00:01"),
				stateEv("M1", "08:00", mes.StateGrinding),
			},
			want:   map[bucket]float64{bucketNotScheduled: 16 * hour, bucketAPT: 7 * hour, bucketStarved: hour},
			losses: []loss{{"starved", "", hour, 1}},
		},
		{
			name: "a change and its undo at one instant leave no trace",
			events: []mes.MachineEvent{
				stateEv("M1", "06:00", mes.StateGrinding),
				recv(stateEv("M1", "07:00", mes.StateAlarm), "07:00:01"), recv(stateEv("M1", "07:00", mes.StateGrinding), "07:00:02"),
			},
			want: map[bucket]float64{bucketNotScheduled: 16 * hour, bucketAPT: 8 * hour},
		},
		{
			name: "comm lost overrides the state; restored returns to the latest state",
			events: []mes.MachineEvent{
				stateEv("M1", "06:00", mes.StateGrinding), commEv("M1", "07:00", true),
				stateEv("M1", "07:30", mes.StateStarved), commEv("M1", "08:00", false),
			},
			want:   map[bucket]float64{bucketNotScheduled: 16 * hour, bucketBreak: hour, bucketAPT: hour, bucketCommLost: hour, bucketStarved: 5 * hour},
			losses: []loss{{"starved", "", 5 * hour, 1}, {"comm_lost", "", hour, 1}},
		},
		{
			name: "comm lost carried in from before From",
			events: []mes.MachineEvent{
				stateEv("M1", "-20:00", mes.StateGrinding), commEv("M1", "-21:00", true), commEv("M1", "12:00", false),
			},
			want:   map[bucket]float64{bucketNotScheduled: 16 * hour, bucketBreak: hour, bucketCommLost: 5 * hour, bucketAPT: 2 * hour},
			losses: []loss{{"comm_lost", "", 5 * hour, 1}},
		},
		{
			name: "a shift break splits a run, counted once",
			events: []mes.MachineEvent{
				stateEv("M1", "06:00", mes.StateGrinding), stateEv("M1", "09:00", mes.StateMaintenance), stateEv("M1", "11:00", mes.StateGrinding),
			},
			want:   map[bucket]float64{bucketNotScheduled: 16 * hour, bucketBreak: hour, bucketAPT: 6 * hour, bucketMaintenanceUnplanned: hour},
			losses: []loss{{"maintenance_unplanned", "", hour, 1}}, // no maintenance window
		},
		{
			name: "runs outside the shift are not scheduled; events at or after To are ignored",
			events: []mes.MachineEvent{
				stateEv("M1", "-23:00", mes.StateStarved), stateEv("M1", "02:00", mes.StateGrinding), stateEv("M1", "15:00", mes.StateAlarm),
				{Machine: "M1", Kind: mes.EventState, SourceTime: testDay.Add(24 * time.Hour), State: mes.StateBlocked},
			},
			want: map[bucket]float64{bucketNotScheduled: 16 * hour, bucketAPT: 8 * hour},
		},
		{
			name: "setup, handling, offline and unknown states",
			events: []mes.MachineEvent{
				stateEv("M1", "06:00", mes.StateLoading), stateEv("M1", "06:30", mes.StateDressing), stateEv("M1", "07:00", mes.StateToolChange),
				stateEv("M1", "08:00", mes.StateUnloading), stateEv("M1", "08:30", mes.StateOffline), stateEv("M1", "09:00", mes.MachineState("bogus")),
				stateEv("M1", "11:00", mes.StateBlocked),
			},
			want: map[bucket]float64{bucketNotScheduled: 16 * hour, bucketBreak: hour, bucketLoadUnload: hour,
				bucketDressing: hour / 2, bucketWheelChange: hour, bucketUnknown: 1.5 * hour, bucketBlocked: 3 * hour},
			losses: []loss{{"dressing", "", hour / 2, 1}, {"wheel_change", "", hour, 1}, {"blocked", "", 3 * hour, 1}, {"unknown", "", 1.5 * hour, 1}},
		},
		{
			name: "alarm codes: first-out active alarm, or the first raised during the stop",
			events: []mes.MachineEvent{
				stateEv("M1", "-22:00", mes.StateGrinding),
				alarmEv("M1", "-23:00", true, 1, "E1"), // still active at From
				alarmEv("M1", "06:30", true, 2, "E2"),
				stateEv("M1", "07:00", mes.StateAlarm),
				stateEv("M1", "07:10", mes.StateGrinding),
				alarmEv("M1", "07:20", false, 1, "E1"), alarmEv("M1", "07:20", false, 2, "E2"),
				stateEv("M1", "08:00", mes.StateAlarm),
				alarmEv("M1", "08:00:30", true, 3, "E3"),
				alarmEv("M1", "08:00:40", true, 4, "E4"),
				stateEv("M1", "08:20", mes.StateGrinding),
				alarmEv("M1", "09:00", false, 3, "E3"), alarmEv("M1", "09:00", false, 4, "E4"),
				stateEv("M1", "12:00", mes.StateAlarm), // no alarm ever reported
				stateEv("M1", "12:05", mes.StateGrinding),
			},
			want:   map[bucket]float64{bucketNotScheduled: 16 * hour, bucketAlarm: 35 * 60, bucketAPT: 8*hour - 35*60},
			losses: []loss{{"alarm", "", 300, 1}, {"alarm", "E1", 600, 1}, {"alarm", "E3", 1200, 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cal := testCalendar()
			var m timeline
			codes := newAlarmCodes()
			res := sweep(&cal, testRecs(t, tt.events, codes), &m, codes, nil)
			assertPartition(t, &cal, res)
			for b := range bucketCount {
				assert.Equal(t, int64(tt.want[b]*float64(time.Second)), res.buckets[b], "bucket %d", b)
			}
			var got []loss
			for _, k := range sortedLosses(res) {
				l := res.losses[k]
				got = append(got, loss{reasonOf(k.bucket), k.code, seconds(l.ns), l.count})
			}
			assert.Equal(t, tt.losses, got)
		})
	}
}

// TestIntervalSweep_MaintenanceWindows: maintenance is planned downtime
// only inside a maintenance window. M1 is in maintenance 07:00–09:00 and
// 11:00–12:00; the calendar's window is 08:00–11:30. Planned: 08:00–09:00
// and 11:00–11:30 (1.5 h, PDOT); unplanned: 07:00–08:00 and 11:30–12:00
// (1.5 h, ADET).
func TestIntervalSweep_MaintenanceWindows(t *testing.T) {
	const hour = 3600.0
	cal := testCalendar()
	codes := newAlarmCodes()
	var m timeline
	recs := testRecs(t, []mes.MachineEvent{
		stateEv("M1", "06:00", mes.StateGrinding), stateEv("M1", "07:00", mes.StateMaintenance), stateEv("M1", "09:00", mes.StateGrinding),
		stateEv("M1", "11:00", mes.StateMaintenance), stateEv("M1", "12:00", mes.StateGrinding),
	}, codes)
	res := sweep(&cal, recs, &m, codes, []span{{at("08:00").UnixNano(), at("11:30").UnixNano()}})
	assertPartition(t, &cal, res)
	assert.Equal(t, int64(1.5*hour)*int64(time.Second), res.buckets[bucketMaintenance])
	assert.Equal(t, int64(1.5*hour)*int64(time.Second), res.buckets[bucketMaintenanceUnplanned])
	te := timeElementsOf(&res.buckets)
	assert.Equal(t, 1.5*hour, te.PDOTS, "planned maintenance; the break was ground through")
	assert.Equal(t, 1.5*hour, te.ADETS)
	assert.Equal(t, 2, res.losses[lossKey{bucket: bucketMaintenanceUnplanned}].count)
	assert.Equal(t, 2, res.losses[lossKey{bucket: bucketMaintenance}].count)
}

// TestIntervalSweep_Property checks random event streams against a
// minute-by-minute reference: every minute of the period lands in the
// bucket the reference assigns it, duplicates and delivery order change
// nothing, and the buckets partition the period.
func TestIntervalSweep_Property(t *testing.T) {
	iterations := 300
	if testing.Short() {
		iterations = 60
	}
	states := []mes.MachineState{mes.StateIdle, mes.StateLoading, mes.StateGrinding, mes.StateUnloading, mes.StateDressing, mes.StateToolChange,
		mes.StateAlarm, mes.StateStarved, mes.StateBlocked, mes.StateMaintenance, mes.StateCommLost, mes.StateOffline, "bogus"}
	for it := range iterations {
		rng := rand.New(rand.NewPCG(uint64(it), 7))
		from := testDay.Add(time.Duration(rng.IntN(24*60)) * time.Minute)
		periodMin := 1 + rng.IntN(3*24*60)
		to := from.Add(time.Duration(periodMin) * time.Minute)
		var shifts []mes.Shift
		for i := range rng.IntN(4) {
			dur := 1 + rng.IntN(1440) // minutes
			brk := rng.IntN(dur)
			off := rng.IntN(dur - brk + 1)
			sh, sm := rng.IntN(24), rng.IntN(60)
			s := mes.Shift{Name: fmt.Sprintf("S%d", i), Start: fmt.Sprintf("%02d:%02d", sh, sm), DurationS: float64(dur * 60)}
			if brk > 0 {
				bm := (sh*60 + sm + off) % 1440
				s.Breaks = []mes.Break{{Start: fmt.Sprintf("%02d:%02d", bm/60, bm%60), DurationS: float64(brk * 60)}}
			}
			shifts = append(shifts, s)
		}
		minute := func(k int) time.Time { return from.Add(time.Duration(k) * time.Minute) }
		var events []mes.MachineEvent
		for i := range rng.IntN(150) {
			e := mes.MachineEvent{Machine: "M1", SourceTime: minute(rng.IntN(periodMin+24*60+60) - 24*60),
				Received: testDay.Add(time.Duration(i) * time.Millisecond)}
			switch p := rng.IntN(10); {
			case p < 7:
				e.Kind, e.State = mes.EventState, states[rng.IntN(len(states))]
			case p == 7:
				e.Kind = mes.EventCommLost
			case p == 8:
				e.Kind = mes.EventCommRestored
			default:
				e.Kind = mes.EventAlarmRaised
				if rng.IntN(2) == 0 {
					e.Kind = mes.EventAlarmCleared
				}
				seq := uint64(rng.IntN(4))
				e.Alarm = &mes.Alarm{Seq: seq, Code: fmt.Sprintf("E%d", seq)}
			}
			events = append(events, e)
			if rng.IntN(5) == 0 {
				events = append(events, e) // a duplicate delivery
			}
		}
		rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })

		cal := newCalendar(shifts, from, to, time.UTC, "")
		codes := newAlarmCodes()
		var recs []record
		for i := range events {
			r, _ := recordOf(&events[i], codes)
			recs = append(recs, r)
		}
		sortRecords(recs)
		var m timeline
		res := sweep(&cal, recs, &m, codes, nil)

		// The reference: each minute's calendar class from the shift
		// definitions, and its state from replaying every event up to it.
		var want buckets
		var ref timeline
		next := 0
		for k := -24 * 60; k < periodMin; k++ {
			for next < len(recs) && recs[next].t <= minute(k).UnixNano() {
				ref.apply(&recs[next])
				next++
			}
			if k < 0 {
				continue
			}
			want[refClass(shifts, minute(k), ref.bucket())] += int64(time.Minute)
		}
		if !assert.Equal(t, want, res.buckets, "iteration %d", it) {
			return
		}
		assertPartition(t, &cal, res)
	}
}

// refClass classifies one instant independently of the calendar
// code: the shift window that contains it and started first decides.
func refClass(shifts []mes.Shift, ts time.Time, state bucket) bucket {
	var best *mes.Shift
	var bestStart time.Time
	for d := -1; d <= 0; d++ {
		day := time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, d)
		for i := range shifts {
			m, _ := mes.ParseClock(shifts[i].Start)
			st := day.Add(time.Duration(m) * time.Minute)
			end := st.Add(time.Duration(shifts[i].DurationS) * time.Second)
			if !ts.Before(st) && ts.Before(end) && (best == nil || st.Before(bestStart)) {
				best, bestStart = &shifts[i], st
			}
		}
	}
	switch {
	case len(shifts) == 0 && state == bucketMaintenance:
		return bucketMaintenanceUnplanned
	case len(shifts) == 0:
		return state
	case best == nil:
		return bucketNotScheduled
	}
	for _, b := range best.Breaks {
		off, _ := best.BreakOffsetS(b)
		bs := bestStart.Add(time.Duration(off) * time.Second)
		if !ts.Before(bs) && ts.Before(bs.Add(time.Duration(b.DurationS)*time.Second)) && !producing(state) {
			return bucketBreak
		}
	}
	if state == bucketMaintenance {
		return bucketMaintenanceUnplanned // no maintenance window
	}
	return state
}
