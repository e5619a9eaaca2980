// Package kpitest holds test data for the KPI engine and its users: an
// in-memory event store and a synthetic month of the default line.
package kpitest

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
)

// MemStore is an in-memory EventStore for the KPI tests: a slice sorted by
// SourceTime. It keeps duplicates (so the KPI code must dedupe), and with
// Raw set it yields events in the order they were published, to show that
// the KPIs do not rely on the store's ordering.
type MemStore struct {
	events []mes.MachineEvent
	// Raw yields events in publishing order, unsorted.
	Raw bool
}

var _ mes.EventStore = (*MemStore)(nil)

// All returns the stored events, sorted by source time unless Raw.
func (s *MemStore) All() []mes.MachineEvent { return s.events }

// NewMemStore returns a store holding events.
func NewMemStore(events ...mes.MachineEvent) *MemStore {
	s := &MemStore{}
	_ = s.Publish(context.Background(), events...)
	return s
}

// Publish stores events.
func (s *MemStore) Publish(_ context.Context, events ...mes.MachineEvent) error {
	s.events = append(s.events, events...)
	byTime := func(a, b mes.MachineEvent) int { return a.SourceTime.Compare(b.SourceTime) }
	if !s.Raw && !slices.IsSortedFunc(s.events, byTime) {
		slices.SortStableFunc(s.events, byTime)
	}
	return nil
}

// Events yields the stored events that f selects.
func (s *MemStore) Events(ctx context.Context, f mes.EventFilter) iter.Seq2[mes.MachineEvent, error] {
	return func(yield func(mes.MachineEvent, error) bool) {
		start := 0
		if !s.Raw && !f.From.IsZero() {
			start = sort.Search(len(s.events), func(i int) bool { return !s.events[i].SourceTime.Before(f.From) })
		}
		for i := start; i < len(s.events); i++ {
			e := &s.events[i]
			if !f.To.IsZero() && !e.SourceTime.Before(f.To) {
				if s.Raw {
					continue
				}
				return
			}
			if (!f.From.IsZero() && e.SourceTime.Before(f.From)) ||
				(f.Machine != "" && e.Machine != f.Machine) ||
				(len(f.Kinds) > 0 && !slices.Contains(f.Kinds, e.Kind)) {
				continue
			}
			if err := ctx.Err(); err != nil {
				yield(mes.MachineEvent{}, err)
				return
			}
			if !yield(*e, nil) {
				return
			}
		}
	}
}

// monthDays is how much history the benchmark line has: one day of
// carry-in before the 30-day period.
const monthDays = 31

var (
	monthOnce  sync.Once
	monthStore *MemStore
	monthLine  *mes.LineConfig
)

// Month synthesises 31 days of the default 25-grinder line: every
// grinder makes a part about every 15 minutes (loading, grinding,
// unloading, blocked, idle, starved: six state events and one cycle per
// part), dresses its wheel every 40 parts and changes it every 400, and
// faults about once per 8 hours of operation (alarm state with raise and
// clear, the job aborted, 15 minutes to repair); the inspection station
// measures a bur every 180 s (measuring/idle and the result).
func Month(tb testing.TB) (*mes.LineConfig, *MemStore) {
	tb.Helper()
	monthOnce.Do(func() {
		line, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
		if err != nil {
			tb.Fatal(err)
		}
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		end := start.Add(monthDays * 24 * time.Hour)
		rng := rand.New(rand.NewPCG(42, 42))
		var events []mes.MachineEvent
		state := func(m string, t time.Time, s mes.MachineState) {
			events = append(events, mes.MachineEvent{Machine: m, Kind: mes.EventState, SourceTime: t, Received: t.Add(50 * time.Millisecond), State: s})
		}
		sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
		groupPos := map[string]int{}
		var alarmSeq uint64
		for _, m := range line.Machines {
			if m.Kind != mes.KindGrinder {
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
					kind := mes.StateDressing
					dur := 240.0
					if part%400 == 0 {
						kind, dur = mes.StateToolChange, 900
					}
					state(m.ID, t, kind)
					t = t.Add(sec(dur))
				}
				state(m.ID, t, mes.StateLoading)
				t = t.Add(20 * time.Second)
				state(m.ID, t, mes.StateGrinding)
				jobStart := t
				grind := 780 * (1 + 0.03*rng.NormFloat64())
				aborted := rng.Float64() < 900.0/28800
				if aborted {
					t = t.Add(sec(grind * rng.Float64()))
					alarmSeq++
					code := fmt.Sprintf("E%d", 2100+rng.IntN(12))
					state(m.ID, t, mes.StateAlarm)
					events = append(events, mes.MachineEvent{Machine: m.ID, Kind: mes.EventAlarmRaised, SourceTime: t.Add(200 * time.Millisecond),
						Alarm: &mes.Alarm{Seq: alarmSeq, Code: code, Severity: 700, Raised: t}})
					events = append(events, mes.MachineEvent{Machine: m.ID, Kind: mes.EventCycle, SourceTime: t, Cycle: &mes.Cycle{Seq: seq, Serial: serial,
						Program: op.Program, ProgramVersion: op.ProgramVersion, Start: jobStart, End: t, EnergyKWh: 0.4 * (t.Sub(jobStart).Hours()), Aborted: true}})
					t = t.Add(sec(900 * rng.ExpFloat64()))
					events = append(events, mes.MachineEvent{Machine: m.ID, Kind: mes.EventAlarmCleared, SourceTime: t,
						Alarm: &mes.Alarm{Seq: alarmSeq, Code: code, Severity: 700, Raised: t}})
				} else {
					t = t.Add(sec(grind))
					events = append(events, mes.MachineEvent{Machine: m.ID, Kind: mes.EventCycle, SourceTime: t, Cycle: &mes.Cycle{Seq: seq, Serial: serial,
						Program: op.Program, ProgramVersion: op.ProgramVersion, Start: jobStart, End: t, EnergyKWh: 0.4 * grind / 3600,
						PeakSpindleLoad: 60 + 10*rng.Float64(), WheelID: "W1", DressCount: uint32(part / 40)}})
				}
				state(m.ID, t, mes.StateUnloading)
				t = t.Add(20 * time.Second)
				state(m.ID, t, mes.StateBlocked)
				t = t.Add(10 * time.Second)
				state(m.ID, t, mes.StateIdle)
				t = t.Add(sec(30 * rng.Float64()))
				state(m.ID, t, mes.StateStarved)
				t = t.Add(sec(20 + 40*rng.Float64()))
			}
		}
		var mseq uint64
		for t := start; t.Before(end); t = t.Add(180 * time.Second) {
			mseq++
			state("QC1", t, mes.StateMeasuring)
			head := 1.40 + 0.004*rng.NormFloat64()
			serial := fmt.Sprintf("B%06d-%05d", int(mseq)/500+1, int(mseq)%500+1)
			events = append(events, mes.MachineEvent{Machine: "QC1", Kind: mes.EventMeasurement, SourceTime: t.Add(90 * time.Second),
				Measurement: &mes.Measurement{Seq: mseq, Serial: serial, Station: "QC1", GaugeID: "GA-1", Time: t.Add(90 * time.Second),
					Values: map[string]float64{mes.CharHeadDiameter: head, mes.CharWorkingLength: 1.3, mes.CharOverallLength: 19.0,
						mes.CharShankDiameter: 1.595, mes.CharRadialRunout: 0.006}}})
			state("QC1", t.Add(90*time.Second), mes.StateIdle)
		}
		monthLine, monthStore = line, NewMemStore(events...)
	})
	return monthLine, monthStore
}
