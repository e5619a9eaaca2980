package kpi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/kpi/kpitest"
)

// scenario is a hand-computed day on testLine (shift A: work
// 06:00–09:30 and 10:30–14:00, break 09:30–10:30; no maintenance window).
//
// M1: grinding 06:00, alarm 07:00 (E100 raised 5 s later), grinding 07:30,
// dressing 09:00, grinding 09:10 (through the break), starved 11:00, comm
// lost 12:00–12:30, maintenance 13:00, idle 13:30. Within planned time:
// APT 06:00–07:00, 07:30–09:00, 09:10–11:00 = 15600 s (grinding through the
// break counts where it was made); alarm 1800; unplanned maintenance 1800
// (no window); dressing 600; starved 3600 + 1800 = 5400 in two stops; comm
// lost 1800; idle 1800; break 0. So POT = PBT = 28800, no work 7200.
//
// M1's jobs (10 min, PRU 700 s) end every 10 minutes 06:10–07:00 (the one at
// 07:00 aborted by the alarm), 07:40–09:00, 09:20, 10:00 (in the break:
// counted where it was made), 10:40–11:00, plus one at 05:00 outside the
// shift: PQ 20, ideal 19 × 700 + 600 (the aborted job ran 600 s < PRU).
// Burs 1–5 are inspected, bur 2 fails: GQ 4, SQ 2 (bur 2 and the aborted
// job), 14 not yet inspected.
//
// M2 is idle all day: 25200 s idle, 3600 s break. QC1 measures all day (APT
// 28800, breaks included) and measures burs 1–5 at 06:15–06:55, bur 2 out
// of tolerance.
func scenario() []mes.MachineEvent {
	ev := []mes.MachineEvent{
		stateEv("M1", "-23:00", mes.StateIdle),
		stateEv("M2", "-23:00", mes.StateIdle),
		stateEv("QC1", "-23:00", mes.StateMeasuring),
		stateEv("M1", "06:00", mes.StateGrinding),
		alarmEv("M1", "06:30", true, 1, "E999"), alarmEv("M1", "06:31", false, 1, "E999"),
		stateEv("M1", "07:00", mes.StateAlarm),
		alarmEv("M1", "07:00:05", true, 2, "E100"), alarmEv("M1", "07:30", false, 2, "E100"),
		stateEv("M1", "07:30", mes.StateGrinding),
		stateEv("M1", "07:30", mes.StateGrinding), // duplicate delivery
		stateEv("M1", "09:00", mes.StateDressing),
		stateEv("M1", "09:10", mes.StateGrinding),
		stateEv("M1", "11:00", mes.StateStarved),
		commEv("M1", "12:00", true), commEv("M1", "12:30", false),
		stateEv("M1", "13:00", mes.StateMaintenance),
		stateEv("M1", "13:30", mes.StateIdle),
	}
	var ends []time.Time
	for m := 10; m <= 60; m += 10 {
		ends = append(ends, at("06:00").Add(time.Duration(m)*time.Minute))
	}
	for m := 40; m <= 120; m += 10 {
		ends = append(ends, at("07:00").Add(time.Duration(m)*time.Minute))
	}
	ends = append(ends, at("09:20"), at("10:00"), at("10:40"), at("10:50"), at("11:00"))
	for i, end := range ends {
		seq := uint64(i + 1)
		aborted := end.Equal(at("07:00"))
		kwh := 0.5
		if aborted {
			kwh = 0.25
		}
		ev = append(ev, cycleEv("M1", end, seq, fmt.Sprintf("B1-%05d", seq), 10*time.Minute, kwh, aborted))
	}
	ev = append(ev, cycleEv("M1", at("05:00"), 100, "B2-00001", 10*time.Minute, 0.5, false))
	ev = append(ev, cycleEv("M1", ends[2], 3, "B1-00003", 10*time.Minute, 0.5, false)) // duplicate delivery
	for i := 1; i <= 5; i++ {
		head := 1.40
		if i == 2 {
			head = 1.50
		}
		ev = append(ev, measEv("QC1", at("06:05").Add(time.Duration(i)*10*time.Minute), uint64(i), fmt.Sprintf("B1-%05d", i), head))
	}
	return ev
}

func scenarioQuery() Query {
	return Query{From: testDay, To: testDay.Add(24 * time.Hour), Location: time.UTC, BurDetail: true}
}

func TestCompute_OEEScenario(t *testing.T) {
	rep, err := Compute(context.Background(), Input{Line: testLine(), Events: kpitest.NewMemStore(scenario()...)}, scenarioQuery())
	require.NoError(t, err)
	const eps = 1e-9

	m1 := byID(rep.OEE.Machines, "M1")
	require.NotNil(t, m1)
	assert.Equal(t, TimeElements{PeriodS: 86400, NotScheduledS: 57600, POTS: 28800, PBTS: 28800,
		APTS: 15600, GrindingS: 15600, ASUTS: 600, DressingS: 600, ADETS: 3600, AlarmS: 1800, MaintenanceUnplannedS: 1800,
		ADOTS: 9000, IdleS: 1800, StarvedS: 5400, CommLostS: 1800, NoWorkS: 7200, AUPTS: 16200, AUBTS: 19800}, m1.Time)
	assert.Equal(t, []int{20, 4, 2, 1, 14}, []int{m1.PQ, m1.GQ, m1.SQ, m1.AbortedQ, m1.PendingQ}, "PQ GQ SQ aborted pending")
	assert.Equal(t, 700.0, m1.PRUS)
	assert.InDelta(t, 19*700+600, m1.IdealS, eps)
	assert.InDelta(t, 15600.0/21600, m1.Availability, eps)
	assert.InDelta(t, 15600.0/28800, m1.AvailabilityPBT, eps)
	assert.InDelta(t, 13900.0/15600, m1.EffectivenessUncapped, eps)
	assert.InDelta(t, 4.0/20, m1.Quality, eps)
	assert.InDelta(t, 15600.0/21600*13900/15600*4/20, m1.OEEUncapped, eps)
	assert.InDelta(t, 16200.0/28800*13900/15600*4/20, m1.NEE, eps)
	assert.InDelta(t, 15600.0/(15600+3600), m1.TechnicalEfficiency, eps)
	assert.InDelta(t, 600.0/16200, m1.SetupRatio, eps)
	assert.InDelta(t, 2.0/20, m1.ScrapRatio, eps)
	assert.InDelta(t, 20/8.0, m1.ThroughputPerHour, eps)
	assert.Equal(t, 2, m1.Failures, "the alarm stop and the unplanned maintenance")
	assert.InDelta(t, 16200.0/3, m1.MTBFS, eps)
	assert.InDelta(t, 3600.0/2, m1.MTTRS, eps)

	m2 := byID(rep.OEE.Machines, "M2")
	require.NotNil(t, m2)
	assert.Equal(t, 25200.0, m2.Time.IdleS)
	assert.Equal(t, 3600.0, m2.Time.BreakS)
	assert.Equal(t, 25200.0, m2.Time.NoWorkS)
	assert.Zero(t, m2.Availability, "no work: no availability loss and no availability")
	assert.Zero(t, m2.OEEUncapped)

	qc := byID(rep.OEE.Machines, "QC1")
	require.NotNil(t, qc)
	assert.Equal(t, 28800.0, qc.Time.APTS)
	assert.Equal(t, []int{5, 4, 1}, []int{qc.PQ, qc.GQ, qc.SQ})
	assert.InDelta(t, 300.0/28800, qc.EffectivenessUncapped, eps)

	grd := byID(rep.OEE.Groups, "GRD")
	require.NotNil(t, grd)
	assert.Equal(t, 2, grd.Machines)
	assert.Equal(t, 54000.0, grd.Time.PBTS)
	assert.InDelta(t, 15600.0/(54000-32400), grd.Availability, eps)
	assert.InDelta(t, 13900.0/15600, grd.EffectivenessUncapped, eps)
	assert.InDelta(t, 4.0/20, grd.Quality, eps)

	require.NotNil(t, rep.OEE.AllMachines)
	all := rep.OEE.AllMachines
	assert.Equal(t, 3, all.Machines)
	assert.Equal(t, 3*86400.0, all.Time.PeriodS)
	assert.Equal(t, 82800.0, all.Time.PBTS)
	assert.Equal(t, 44400.0, all.Time.APTS)

	// The line's OEE is output-based: 4 good burs × ideal takt 350 s (the
	// two grinders share PRU 700 s; inspection 60 s) over 25200 s of PBT.
	require.NotNil(t, rep.OEE.Line)
	line := rep.OEE.Line
	assert.Equal(t, 350.0, line.IdealTaktS)
	assert.Equal(t, 25200.0, line.PBTS)
	assert.Equal(t, []int{6, 4, 2, 0}, []int{line.PQ, line.GQ, line.SQ, line.RQ}, "5 measured + 1 aborted; 4 passed")
	assert.InDelta(t, 4*350.0/25200, line.OEE, eps)
	assert.InDelta(t, 4/7.0, line.ThroughputPerHour, eps)
	assert.InDelta(t, 4.0/5, line.FirstPassYield, eps)
	assert.InDelta(t, 2.0/6, line.ScrapRatio, eps)

	var got []string
	for _, d := range rep.Downtime {
		got = append(got, fmt.Sprintf("%s/%s/%s %.0f×%d", d.Reason, d.Code, d.Element, d.DurationS, d.Count))
	}
	assert.Equal(t, []string{
		"idle//ADOT 27000×2", "starved//ADOT 5400×2", "alarm/E100/ADET 1800×1", "comm_lost//ADOT 1800×1",
		"maintenance_unplanned//ADET 1800×1", "dressing//ASUT 600×1",
	}, got)
	require.NotEmpty(t, rep.Downtime)
	assert.InDelta(t, 100*27000.0/38400, rep.Downtime[0].SharePct, eps)
	assert.InDelta(t, 100.0, rep.Downtime[len(rep.Downtime)-1].CumulativePct, eps)

	// Takt: good burs 1, 3, 4, 5 left at 06:15, 06:35, 06:45, 06:55 (bur 2
	// failed: not a departure); no batch needs burs: no target.
	assert.Equal(t, TaktReport{TargetSource: TaktNoDemand, Departures: 4, LastS: 600, MeanS: 800, PeriodMeanS: 800,
		LastN: TaktDefaultLastN, Samples: 3}, rep.Takt)
}

func TestCompute_OrderAndDuplicatesDoNotMatter(t *testing.T) {
	ctx := context.Background()
	in := Input{Line: testLine(), Events: kpitest.NewMemStore(scenario()...)}
	want, err := Compute(ctx, in, scenarioQuery())
	require.NoError(t, err)

	for seed := range 5 {
		events := scenario()
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		for range 10 {
			events = append(events, events[rng.IntN(len(events))])
		}
		rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		store := &kpitest.MemStore{Raw: true}
		require.NoError(t, store.Publish(ctx, events...))
		got, err := Compute(ctx, Input{Line: testLine(), Events: store}, scenarioQuery())
		require.NoError(t, err)
		got.Events, want.Events = 0, 0
		assert.Equal(t, want, got, "seed %d", seed)
	}
}

func TestCompute_MachineFilter(t *testing.T) {
	q := scenarioQuery()
	q.Machine = "M1"
	rep, err := Compute(context.Background(), Input{Line: testLine(), Events: kpitest.NewMemStore(scenario()...)}, q)
	require.NoError(t, err)
	assert.Nil(t, rep.OEE.Line, "no line figure for one machine")
	assert.Nil(t, rep.OEE.AllMachines)
	require.Len(t, rep.OEE.Machines, 1)
	require.Len(t, rep.OEE.Groups, 1)
	assert.Equal(t, rep.OEE.Machines[0].Time, rep.OEE.Groups[0].Time)
	for _, d := range rep.Downtime {
		assert.NotEqual(t, 27000.0, d.DurationS, "M2's idle time must not be in M1's Pareto")
	}
	require.Len(t, rep.Cycles.Machines, 1)
	assert.Equal(t, "M1", rep.Cycles.Machines[0].Machine)
	assert.Equal(t, 4, rep.Takt.Departures, "takt is the line's")
}

func TestCompute_ShiftFilter(t *testing.T) {
	line := testLine()
	line.Shifts = append(line.Shifts, mes.Shift{Name: "B", Start: "14:00", DurationS: 8 * 3600})
	events := append(scenario(), stateEv("M1", "15:00", mes.StateGrinding))
	ctx := context.Background()
	for _, tt := range []struct {
		shift                 string
		pot, apt, notSched    float64
		cycles, cycleMachines int
	}{
		{"", 16 * 3600, 15600 + 7*3600, 8 * 3600, 20, 3},
		{"A", 8 * 3600, 15600, 16 * 3600, 19, 3},
		{"B", 8 * 3600, 7 * 3600, 16 * 3600, 0, 3},
	} {
		q := scenarioQuery()
		q.Shift = tt.shift
		rep, err := Compute(ctx, Input{Line: line, Events: kpitest.NewMemStore(events...)}, q)
		require.NoError(t, err)
		m1 := byID(rep.OEE.Machines, "M1")
		require.NotNil(t, m1)
		assert.Equal(t, tt.pot, m1.Time.POTS, "shift %q", tt.shift)
		assert.Equal(t, tt.apt, m1.Time.APTS, "shift %q", tt.shift)
		assert.Equal(t, tt.notSched, m1.Time.NotScheduledS, "shift %q", tt.shift)
		assert.Equal(t, 86400.0, m1.Time.PeriodS)
		assert.Equal(t, tt.cycles, rep.Cycles.Machines[0].N, "shift %q: cycles in the shift's windows", tt.shift)
	}
}

func TestCompute_CarryInFromLongBefore(t *testing.T) {
	// The only state is three days before From: a longer look back finds it.
	events := []mes.MachineEvent{
		{Machine: "M1", Kind: mes.EventState, SourceTime: testDay.Add(-72 * time.Hour), State: mes.StateBlocked},
		{Machine: "M2", Kind: mes.EventCommLost, SourceTime: testDay.Add(-30 * time.Minute)},
	}
	q := Query{From: at("07:00"), To: at("08:00"), Location: time.UTC}
	rep, err := Compute(context.Background(), Input{Line: testLine(), Events: kpitest.NewMemStore(events...)}, q)
	require.NoError(t, err)
	assert.Equal(t, 3600.0, byID(rep.OEE.Machines, "M1").Time.BlockedS)
	assert.Equal(t, 3600.0, byID(rep.OEE.Machines, "M2").Time.CommLostS)
	assert.Equal(t, 3600.0, byID(rep.OEE.Machines, "QC1").Time.UnknownS, "never seen")
}

func TestJudgeAgreesWithEvaluate(t *testing.T) {
	p := &testLine().Products[0]
	p.Tolerances[mes.CharRadialRunout] = mes.Tolerance{Nominal: 0.005, Lower: 0, Upper: 0.02}
	for _, values := range []map[string]float64{
		{mes.CharHeadDiameter: 1.40, mes.CharRadialRunout: 0.01},
		{mes.CharHeadDiameter: 1.43, mes.CharRadialRunout: 0.01},
		{mes.CharHeadDiameter: 1.38, mes.CharRadialRunout: 0.02},
		{mes.CharHeadDiameter: 1.40},
		{},
	} {
		_, disp, _ := mes.Evaluate(p, mes.Measurement{Values: values})
		assert.Equal(t, disp == mes.BurGood, len(judge(p, values)) == 0, "%v", values)
	}
	assert.Empty(t, judge(nil, nil), "without a product nothing is held against a bur")
	assert.Equal(t, []string{mes.CharHeadDiameter, mes.CharRadialRunout}, judge(p, map[string]float64{mes.CharHeadDiameter: 1.43}))
}
