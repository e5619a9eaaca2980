package mes

import (
	"cmp"
	"context"
	"iter"
	"slices"
	"sort"
	"time"
)

// kpiMemStore is an in-memory EventStore for the KPI tests: a slice sorted by
// SourceTime. It keeps duplicates (so the KPI code must dedupe), and with
// raw set it yields events in the order they were published, to show that
// the KPIs do not rely on the store's ordering.
type kpiMemStore struct {
	events []MachineEvent
	raw    bool
}

var _ EventStore = (*kpiMemStore)(nil)

func newKPIMemStore(events ...MachineEvent) *kpiMemStore {
	s := &kpiMemStore{}
	_ = s.Publish(context.Background(), events...)
	return s
}

func (s *kpiMemStore) Publish(_ context.Context, events ...MachineEvent) error {
	s.events = append(s.events, events...)
	byTime := func(a, b MachineEvent) int { return a.SourceTime.Compare(b.SourceTime) }
	if !s.raw && !slices.IsSortedFunc(s.events, byTime) {
		slices.SortStableFunc(s.events, byTime)
	}
	return nil
}

func (s *kpiMemStore) Events(ctx context.Context, f EventFilter) iter.Seq2[MachineEvent, error] {
	return func(yield func(MachineEvent, error) bool) {
		start := 0
		if !s.raw && !f.From.IsZero() {
			start = sort.Search(len(s.events), func(i int) bool { return !s.events[i].SourceTime.Before(f.From) })
		}
		for i := start; i < len(s.events); i++ {
			e := &s.events[i]
			if !f.To.IsZero() && !e.SourceTime.Before(f.To) {
				if s.raw {
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
				yield(MachineEvent{}, err)
				return
			}
			if !yield(*e, nil) {
				return
			}
		}
	}
}

// kpiTestDay is the test day: 2026-03-02 00:00 UTC.
var kpiTestDay = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// kpiAt is a time on the test day, "HH:MM" or "HH:MM:SS"; a leading "-" means the day before.
func kpiAt(clock string) time.Time {
	day := kpiTestDay
	if clock[0] == '-' {
		day, clock = day.AddDate(0, 0, -1), clock[1:]
	}
	t, err := time.Parse("15:04:05", clock)
	if err != nil {
		t, err = time.Parse("15:04", clock)
	}
	if err != nil {
		panic(err)
	}
	return day.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
}

func kpiStateEv(machine, clock string, s MachineState) MachineEvent {
	return MachineEvent{Machine: machine, Kind: EventState, SourceTime: kpiAt(clock), State: s}
}

func kpiCommEv(machine, clock string, lost bool) MachineEvent {
	k := EventCommRestored
	if lost {
		k = EventCommLost
	}
	return MachineEvent{Machine: machine, Kind: k, SourceTime: kpiAt(clock)}
}

func kpiAlarmEv(machine, clock string, raised bool, seq uint64, code string) MachineEvent {
	k := EventAlarmCleared
	if raised {
		k = EventAlarmRaised
	}
	return MachineEvent{Machine: machine, Kind: k, SourceTime: kpiAt(clock), Alarm: &Alarm{Seq: seq, Code: code}}
}

func kpiCycleEv(machine string, end time.Time, seq uint64, serial string, dur time.Duration, kwh float64, aborted bool) MachineEvent {
	return MachineEvent{Machine: machine, Kind: EventCycle, SourceTime: end, Cycle: &Cycle{
		Seq: seq, Serial: serial, Program: "P10", Start: end.Add(-dur), End: end, EnergyKWh: kwh, Aborted: aborted}}
}

func kpiMeasEv(machine string, t time.Time, seq uint64, serial string, head float64) MachineEvent {
	return MachineEvent{Machine: machine, Kind: EventMeasurement, SourceTime: t, Measurement: &Measurement{
		Seq: seq, Serial: serial, Station: machine, Time: t, Values: map[string]float64{CharHeadDiameter: head}}}
}

// kpiTestLine is a small line: grinders M1, M2 (group GRD, ideal 700 s) and
// the inspection station QC1 (ideal 60 s); one shift 06:00–14:00 with a one
// hour break in its middle (09:30–10:30); carbon 0.5 kg/kWh grid, 0.1 kg/kWh
// renewable at a 50 % share.
func kpiTestLine() *LineConfig {
	return &LineConfig{
		Name: "test line", TaktS: 180, SerialPattern: "{batch}-{seq:05}",
		Groups: []Group{{ID: "GRD", Name: "Grinding"}, {ID: "QC", Name: "Inspection"}},
		Machines: []Machine{
			{ID: "M1", Kind: KindGrinder, Row: 1, Col: 1, Group: "GRD"},
			{ID: "M2", Kind: KindGrinder, Row: 1, Col: 2, Group: "GRD"},
			{ID: "QC1", Kind: KindInspection, Group: "QC"},
		},
		Products: []Product{{ISO: "500314001001014", Name: "bur",
			Tolerances: map[string]Tolerance{CharHeadDiameter: {Nominal: 1.4, Lower: 1.38, Upper: 1.42}},
			Route: []Operation{
				{Number: 10, Name: "Grind", Group: "GRD", Program: "P10", IdealCycleS: 700},
				{Number: 20, Name: "Inspect", Group: "QC", Program: "Q20", IdealCycleS: 60},
			}}},
		Shifts: []Shift{{Name: "A", Start: "06:00", DurationS: 8 * 3600, BreakS: 3600}},
		Carbon: Carbon{GridKgPerKWh: 0.5, RenewableKgPerKWh: 0.1, RenewableShare: 0.5},
	}
}

func kpiByID(list []OEE, id string) *OEE {
	for i := range list {
		if list[i].ID == id {
			return &list[i]
		}
	}
	return nil
}

func kpiSortedLosses(res intervalResult) []intervalLossKey {
	keys := make([]intervalLossKey, 0, len(res.losses))
	for k := range res.losses {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b intervalLossKey) int {
		if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		return cmp.Compare(a.code, b.code)
	})
	return keys
}
