package mes

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kpiBenchDays is how much history the benchmark line has: one day of
// carry-in before the 30-day period.
const kpiBenchDays = 31

var (
	kpiBenchOnce  sync.Once
	kpiBenchStore *kpiMemStore
	kpiBenchLine  *LineConfig
)

// kpiBenchData synthesises 31 days of the default 25-grinder line: every
// grinder makes a part about every 15 minutes (loading, grinding,
// unloading, blocked, idle, starved: six state events and one cycle per
// part), dresses its wheel every 40 parts and changes it every 400, and
// faults about once per 8 hours of operation (alarm state with raise and
// clear, the job aborted, 15 minutes to repair); the inspection station
// measures a bur every 180 s (measuring/idle and the result).
func kpiBenchData(tb testing.TB) (*LineConfig, *kpiMemStore) {
	tb.Helper()
	kpiBenchOnce.Do(func() {
		line, err := LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
		if err != nil {
			tb.Fatal(err)
		}
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		end := start.Add(kpiBenchDays * 24 * time.Hour)
		rng := rand.New(rand.NewPCG(42, 42))
		var events []MachineEvent
		state := func(m string, t time.Time, s MachineState) {
			events = append(events, MachineEvent{Machine: m, Kind: EventState, SourceTime: t, Received: t.Add(50 * time.Millisecond), State: s})
		}
		sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
		groupPos := map[string]int{}
		var alarmSeq uint64
		for _, m := range line.Machines {
			if m.Kind != KindGrinder {
				continue
			}
			pos := groupPos[m.Group]
			groupPos[m.Group]++
			width := len(line.GroupMachines(m.Group))
			op := line.Products[0].Route[0]
			for _, o := range line.Products[0].Route {
				if o.Group == m.Group {
					op = o
				}
			}
			t := start.Add(sec(rng.Float64() * 900))
			var seq uint64
			for part := 0; t.Before(end); part++ {
				seq++
				serialNo := part*width + pos + 1
				serial := fmt.Sprintf("B%06d-%05d", serialNo/500+1, serialNo%500+1)
				if part > 0 && part%40 == 0 {
					kind := StateDressing
					dur := 240.0
					if part%400 == 0 {
						kind, dur = StateToolChange, 900
					}
					state(m.ID, t, kind)
					t = t.Add(sec(dur))
				}
				state(m.ID, t, StateLoading)
				t = t.Add(20 * time.Second)
				state(m.ID, t, StateGrinding)
				jobStart := t
				grind := 780 * (1 + 0.03*rng.NormFloat64())
				aborted := rng.Float64() < 900.0/28800
				if aborted {
					t = t.Add(sec(grind * rng.Float64()))
					alarmSeq++
					code := fmt.Sprintf("E%d", 2100+rng.IntN(12))
					state(m.ID, t, StateAlarm)
					events = append(events, MachineEvent{Machine: m.ID, Kind: EventAlarmRaised, SourceTime: t.Add(200 * time.Millisecond),
						Alarm: &Alarm{Seq: alarmSeq, Code: code, Severity: 700, Raised: t}})
					events = append(events, MachineEvent{Machine: m.ID, Kind: EventCycle, SourceTime: t, Cycle: &Cycle{Seq: seq, Serial: serial,
						Program: op.Program, ProgramVersion: op.ProgramVersion, Start: jobStart, End: t, EnergyKWh: 0.4 * (t.Sub(jobStart).Hours()), Aborted: true}})
					t = t.Add(sec(900 * rng.ExpFloat64()))
					events = append(events, MachineEvent{Machine: m.ID, Kind: EventAlarmCleared, SourceTime: t,
						Alarm: &Alarm{Seq: alarmSeq, Code: code, Severity: 700, Raised: t}})
				} else {
					t = t.Add(sec(grind))
					events = append(events, MachineEvent{Machine: m.ID, Kind: EventCycle, SourceTime: t, Cycle: &Cycle{Seq: seq, Serial: serial,
						Program: op.Program, ProgramVersion: op.ProgramVersion, Start: jobStart, End: t, EnergyKWh: 0.4 * grind / 3600,
						PeakSpindleLoad: 60 + 10*rng.Float64(), WheelID: "W1", DressCount: uint32(part / 40)}})
				}
				state(m.ID, t, StateUnloading)
				t = t.Add(20 * time.Second)
				state(m.ID, t, StateBlocked)
				t = t.Add(10 * time.Second)
				state(m.ID, t, StateIdle)
				t = t.Add(sec(30 * rng.Float64()))
				state(m.ID, t, StateStarved)
				t = t.Add(sec(20 + 40*rng.Float64()))
			}
		}
		var mseq uint64
		for t := start; t.Before(end); t = t.Add(180 * time.Second) {
			mseq++
			state("QC1", t, StateMeasuring)
			head := 1.40 + 0.004*rng.NormFloat64()
			serial := fmt.Sprintf("B%06d-%05d", int(mseq)/500+1, int(mseq)%500+1)
			events = append(events, MachineEvent{Machine: "QC1", Kind: EventMeasurement, SourceTime: t.Add(90 * time.Second),
				Measurement: &Measurement{Seq: mseq, Serial: serial, Station: "QC1", GaugeID: "GA-1", Time: t.Add(90 * time.Second),
					Values: map[string]float64{CharHeadDiameter: head, CharWorkingLength: 1.3, CharOverallLength: 19.0,
						CharShankDiameter: 1.595, CharRadialRunout: 0.006}}})
			state("QC1", t.Add(90*time.Second), StateIdle)
		}
		kpiBenchLine, kpiBenchStore = line, newKPIMemStore(events...)
	})
	return kpiBenchLine, kpiBenchStore
}

// BenchmarkComputeKPI computes the KPIs of the 25-grinder line over 30
// days (and, for comparison, one machine over 30 days and the line over one
// day). Target: under 500 ms per 30-day line query.
//
//	go test ./mes -run '^$' -bench ComputeKPI -benchmem
func BenchmarkComputeKPI(b *testing.B) {
	line, store := kpiBenchData(b)
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	in := KPIInput{Line: line, Events: store, Batches: []*Batch{{ID: "B000100", State: BatchRunning, Quantity: 500,
		Completed: 120, GoodRequired: true, PlannedStart: from, PlannedEnd: from.Add(40 * 24 * time.Hour)}}}
	for _, bc := range []struct {
		name string
		q    KPIQuery
	}{
		{"line_30d", KPIQuery{From: from, To: from.Add(30 * 24 * time.Hour), Location: time.UTC}},
		{"machine_30d", KPIQuery{From: from, To: from.Add(30 * 24 * time.Hour), Location: time.UTC, Machine: "G07"}},
		{"line_1d", KPIQuery{From: from.Add(10 * 24 * time.Hour), To: from.Add(11 * 24 * time.Hour), Location: time.UTC}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var rep *KPIReport
			for b.Loop() {
				var err error
				rep, err = ComputeKPI(context.Background(), in, bc.q)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rep.Events), "events/op")
			b.ReportMetric(float64(len(store.events)), "stored_events")
		})
	}
}

// TestKPIBenchDataIsRealistic keeps the benchmark honest: the synthetic
// month has the volume and the shape the benchmark claims.
func TestKPIBenchDataIsRealistic(t *testing.T) {
	line, store := kpiBenchData(t)
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	rep, err := ComputeKPI(context.Background(), KPIInput{Line: line, Events: store},
		KPIQuery{From: from, To: from.Add(30 * 24 * time.Hour), Location: time.UTC})
	require.NoError(t, err)
	assert.Greater(t, rep.Events, 500_000, "events in 30 days")
	require.NotNil(t, rep.OEE.Line)
	assert.InDelta(t, 0.75, rep.OEE.Line.Availability, 0.2)
	assert.InDelta(t, 0.87, rep.OEE.Line.Quality, 0.05, "about 3 %% of jobs per operation aborted, 1 %% fail inspection")
	assert.Greater(t, len(rep.Downtime), 10, "alarms by code in the Pareto")
	assert.InDelta(t, 180, rep.Takt.PeriodMeanS, 1, "a bur leaves every 180 s")
	assert.Equal(t, 30*86400.0*26, rep.OEE.Line.Time.PeriodS)
}

// KPIBenchMonth exposes the benchmark month (line and events sorted by
// source time) to the benchmarks of the durable store in package mes_test.
func KPIBenchMonth(tb testing.TB) (*LineConfig, []MachineEvent) {
	line, store := kpiBenchData(tb)
	return line, store.events
}
