package kpi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/kpi/kpitest"
)

func TestTaktPercentileAndStats(t *testing.T) {
	tests := []struct {
		name                       string
		times                      []float64
		n                          int
		mean, p50, p95, minS, maxS float64
	}{
		{"empty", nil, 0, 0, 0, 0, 0, 0},
		{"one", []float64{7}, 1, 7, 7, 7, 7, 7},
		{"even count takes the lower middle", []float64{4, 1, 3, 2}, 4, 2.5, 2, 4, 1, 4},
		{"1..100", func() []float64 {
			var v []float64
			for i := 100; i >= 1; i-- {
				v = append(v, float64(i))
			}
			return v
		}(), 100, 50.5, 50, 95, 1, 100},
		{"a slow outlier moves p95, not p50", []float64{600, 600, 600, 600, 600, 600, 600, 600, 600, 600,
			600, 600, 600, 600, 600, 600, 600, 600, 600, 1800}, 20, 660, 600, 600, 600, 1800},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s CycleStats
			fillCycleStats(&s, tt.times)
			assert.Equal(t, CycleStats{N: tt.n, MeanS: tt.mean, P50S: tt.p50, P95S: tt.p95, MinS: tt.minS, MaxS: tt.maxS}, s)
		})
	}
}

func TestTaktActual(t *testing.T) {
	sec := func(v ...int) []int64 {
		var out []int64
		for _, x := range v {
			out = append(out, testDay.Add(time.Duration(x)*time.Second).UnixNano())
		}
		return out
	}
	tests := []struct {
		name       string
		departures []int64
		lastN      int
		want       TaktReport
	}{
		{"none", nil, 20, TaktReport{TargetS: 180, LastN: 20}},
		{"one bur: no interval yet", sec(100), 20, TaktReport{TargetS: 180, Departures: 1, LastN: 20}},
		{"window of 3 out of 5 intervals, unsorted input", sec(0, 170, 350, 530, 900, 1080), 3,
			// intervals 170 180 180 370 180; last three 180 370 180
			TaktReport{TargetS: 180, Departures: 6, LastS: 180, MeanS: 730.0 / 3, PeriodMeanS: 1080.0 / 5, LastN: 3, Samples: 3, WithinTarget: 2}},
		{"window larger than the data", sec(0, 100, 300), 20,
			TaktReport{TargetS: 180, Departures: 3, LastS: 200, MeanS: 150, PeriodMeanS: 150, LastN: 20, Samples: 2, WithinTarget: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := TaktReport{TargetS: 180}
			d := append([]int64(nil), tt.departures...)
			if len(d) > 2 {
				d[0], d[len(d)-1] = d[len(d)-1], d[0]
			}
			actualTakt(&r, d, tt.lastN)
			assert.Equal(t, tt.want, r)
		})
	}
}

func TestTaktTarget(t *testing.T) {
	line := testLine() // one shift, 7 h working a day
	asOf := at("00:00")
	day := func(d int) time.Time { return testDay.AddDate(0, 0, d) }
	tests := []struct {
		name    string
		batches []*mes.Batch
		target  float64
		source  string
		demand  float64
		avail   float64
	}{
		{"no batches: no demand, no target", nil, 0, TaktNoDemand, 0, 0},
		{"planned batch is not demand", []*mes.Batch{{State: mes.BatchPlanned, Quantity: 100, PlannedEnd: day(1)}}, 0, TaktNoDemand, 0, 0},
		{"finished batch is not demand", []*mes.Batch{{State: mes.BatchRunning, Quantity: 10, Completed: 10, PlannedEnd: day(1)}}, 0, TaktNoDemand, 0, 0},
		{"no planned end: configured takt", []*mes.Batch{{State: mes.BatchRunning, Quantity: 100}}, 180, TaktFromConfig, 100, 0},
		{"running batch over two days", []*mes.Batch{{State: mes.BatchRunning, Quantity: 200, Completed: 60, GoodRequired: true, PlannedEnd: day(2)}},
			2 * 7 * 3600.0 / 140, TaktFromDemand, 140, 2 * 7 * 3600},
		{"scrap counts as done unless good burs are required", []*mes.Batch{{State: mes.BatchRunning, Quantity: 200, Completed: 60, Scrap: 40, PlannedEnd: day(2)}},
			2 * 7 * 3600.0 / 100, TaktFromDemand, 100, 2 * 7 * 3600},
		{"held batch still needs its burs", []*mes.Batch{{State: mes.BatchHeld, Quantity: 140, PlannedEnd: day(1)}},
			180, TaktFromDemand, 140, 7 * 3600},
		{"the binding due date: 70 by tomorrow, 280 in all by the day after", []*mes.Batch{
			{State: mes.BatchRunning, Quantity: 70, PlannedEnd: day(1)},   // 70 in 7 h: 360 s
			{State: mes.BatchReleased, Quantity: 210, PlannedEnd: day(2)}, // 280 in 14 h: 180 s
		}, 180, TaktFromDemand, 280, 14 * 3600},
		{"overdue burs do not vanish: they join the next due date", []*mes.Batch{
			{State: mes.BatchRunning, Quantity: 70, PlannedEnd: day(-1)},
			{State: mes.BatchRunning, Quantity: 70, PlannedEnd: day(1)},
		}, 7 * 3600.0 / 140, TaktFromDemand, 140, 7 * 3600},
		{"only overdue batches: no time left", []*mes.Batch{{State: mes.BatchRunning, Quantity: 10, PlannedEnd: day(-1)}}, 0, TaktOverdue, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := targetTakt(taktInput{line: line, batches: tt.batches, from: asOf.Add(-time.Hour), to: asOf, now: asOf, loc: time.UTC})
			assert.InDelta(t, tt.target, r.TargetS, 1e-9)
			assert.Equal(t, tt.source, r.TargetSource)
			assert.InDelta(t, tt.demand, r.DemandBurs, 1e-9)
			assert.InDelta(t, tt.avail, r.AvailableS, 1e-6)
		})
	}
}

// TestTaktTarget_PastWindow: a past window's target comes from its own
// schedule, not from today's counts. The day's shift gives 7 h of planned
// busy time; batch B1 (280 burs) is planned over two such days, so 140 are
// due in the window; B9 was past its planned end and still running when the
// window began, and the 2 good burs it made in the window were owed too.
// Target = 25200 s / 142.
func TestTaktTarget_PastWindow(t *testing.T) {
	day := func(d int, clock string) time.Time { return at(clock).AddDate(0, 0, d) }
	batches := []*mes.Batch{
		{ID: "B1", State: mes.BatchCompleted, Quantity: 280, Completed: 280, PlannedStart: day(0, "06:00"), PlannedEnd: day(1, "14:00")},
		{ID: "B9", State: mes.BatchCompleted, Quantity: 50, Completed: 50, PlannedStart: day(-3, "06:00"), PlannedEnd: day(-1, "14:00"),
			Transitions: []mes.Transition{{From: mes.BatchReleased, To: mes.BatchRunning, At: day(-3, "06:00")},
				{From: mes.BatchRunning, To: mes.BatchCompleted, At: day(0, "12:00")}}},
		{ID: "B8", State: mes.BatchCompleted, Quantity: 50, PlannedStart: day(-3, "06:00"), PlannedEnd: day(-1, "14:00"),
			Transitions: []mes.Transition{{From: mes.BatchRunning, To: mes.BatchCompleted, At: day(-1, "12:00")}}},
	}
	var events []mes.MachineEvent
	for i, clock := range []string{"07:00", "07:10", "08:00", "08:05"} {
		serial := fmt.Sprintf("B1-%05d", i+1)
		if i >= 2 {
			serial = fmt.Sprintf("B9-%05d", i)
		}
		events = append(events, measEv("QC1", at(clock), uint64(i+1), serial, 1.4))
	}
	in := Input{Line: testLine(), Events: kpitest.NewMemStore(events...), Batches: batches, Now: day(5, "12:00")}
	rep, err := Compute(context.Background(), in, Query{From: at("00:00"), To: day(1, "00:00"), Location: time.UTC})
	require.NoError(t, err)
	assert.Equal(t, TaktFromSchedule, rep.Takt.TargetSource)
	assert.InDelta(t, 142, rep.Takt.DemandBurs, 1e-9)
	assert.InDelta(t, 25200, rep.Takt.AvailableS, 1e-9)
	assert.InDelta(t, 25200.0/142, rep.Takt.TargetS, 1e-9)

	// The same window asked as the present: today's counts, all done.
	in.Now = time.Time{}
	rep, err = Compute(context.Background(), in, Query{From: at("00:00"), To: day(1, "00:00"), Location: time.UTC})
	require.NoError(t, err)
	assert.Equal(t, TaktNoDemand, rep.Takt.TargetSource)
}

// TestCompute_ActualTaktGoodBursInBusyTime: the actual takt counts good
// burs only and measures planned busy time: good burs leave at 09:10, 09:20
// (a failed one at 09:25 is not a departure) and 10:40, across the
// 09:30–10:30 break, so the intervals are 600 s and 600 + 600 s = 1200 s.
func TestCompute_ActualTaktGoodBursInBusyTime(t *testing.T) {
	events := []mes.MachineEvent{
		measEv("QC1", at("09:10"), 1, "B1-00001", 1.40),
		measEv("QC1", at("09:20"), 2, "B1-00002", 1.40),
		measEv("QC1", at("09:25"), 3, "B1-00003", 1.50),
		measEv("QC1", at("10:40"), 4, "B1-00004", 1.40),
	}
	rep, err := Compute(context.Background(), Input{Line: testLine(), Events: kpitest.NewMemStore(events...)},
		Query{From: at("06:00"), To: at("14:00"), Location: time.UTC})
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Takt.Departures)
	assert.Equal(t, 1200.0, rep.Takt.LastS)
	assert.Equal(t, 900.0, rep.Takt.PeriodMeanS)
	assert.Equal(t, 900.0, rep.Takt.MeanS)
}

func TestCompute_TaktAndCycles(t *testing.T) {
	// Departures every 170 s then one slow 400 s gap; target from a batch:
	// 7 h of shift for 140 burs = 180 s.
	var events []mes.MachineEvent
	tm := at("06:00")
	for i := 1; i <= 10; i++ {
		gap := 170 * time.Second
		if i == 10 {
			gap = 400 * time.Second
		}
		tm = tm.Add(gap)
		events = append(events, measEv("QC1", tm, uint64(i), fmt.Sprintf("B1-%05d", i), 1.4))
	}
	// Cycle times on M1 and M2: 600, 610, …, 690 and 1000 (aborted one excluded).
	for i := range 10 {
		end := at("08:00").Add(time.Duration(i) * 15 * time.Minute)
		events = append(events, cycleEv("M1", end, uint64(i+1), "", time.Duration(600+10*i)*time.Second, 0, false))
	}
	events = append(events,
		cycleEv("M2", at("09:00"), 1, "", 1000*time.Second, 0, false),
		cycleEv("M2", at("09:20"), 2, "", 50*time.Second, 0, true))
	// As of 07:00 (the end of the period) the batch has 07:00–09:30 and
	// 10:30–14:00 of shift A left before its planned end: 6 h for 140 burs.
	in := Input{Line: testLine(), Events: kpitest.NewMemStore(events...),
		Batches: []*mes.Batch{{ID: "B1", State: mes.BatchRunning, Quantity: 150, Completed: 10, GoodRequired: true,
			PlannedStart: at("06:00"), PlannedEnd: at("16:00")}}}
	q := Query{From: at("06:00"), To: at("07:00"), Location: time.UTC, LastN: 5}
	rep, err := Compute(context.Background(), in, q)
	require.NoError(t, err)
	assert.Equal(t, TaktFromDemand, rep.Takt.TargetSource)
	assert.InDelta(t, 6*3600.0/140, rep.Takt.TargetS, 1e-9) // 154.3 s
	assert.Equal(t, 10, rep.Takt.Departures)
	assert.Equal(t, 400.0, rep.Takt.LastS)
	assert.Equal(t, 5, rep.Takt.Samples)
	assert.InDelta(t, (4*170+400)/5.0, rep.Takt.MeanS, 1e-9)
	assert.Equal(t, 0, rep.Takt.WithinTarget, "170 s misses a 154 s target")

	q = Query{From: at("06:00"), To: at("14:00"), Location: time.UTC}
	rep, err = Compute(context.Background(), in, q)
	require.NoError(t, err)
	require.Len(t, rep.Cycles.Machines, 3)
	m1, m2 := rep.Cycles.Machines[0], rep.Cycles.Machines[1]
	assert.Equal(t, CycleStats{Group: "GRD", Operation: 10, Name: "Grind", Machine: "M1", IdealS: 700, N: 10,
		MeanS: 645, P50S: 640, P95S: 690, MinS: 600, MaxS: 690}, m1)
	assert.Equal(t, 1, m2.Aborted)
	assert.Equal(t, 1, m2.N)
	require.Len(t, rep.Cycles.Operations, 2)
	grd := rep.Cycles.Operations[0]
	assert.Equal(t, "GRD", grd.Group)
	assert.Equal(t, 11, grd.N)
	assert.Equal(t, 1, grd.Aborted)
	assert.InDelta(t, (6450+1000)/11.0, grd.MeanS, 1e-9)
	assert.Equal(t, 1000.0, grd.P95S)
	assert.Equal(t, 650.0, grd.P50S)
}
