package kpi

import (
	"cmp"
	"slices"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// testDay is the test day: 2026-03-02 00:00 UTC.
var testDay = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// at is a time on the test day, "HH:MM" or "HH:MM:SS"; a leading "-" means the day before.
func at(clock string) time.Time {
	day := testDay
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

func stateEv(machine, clock string, s mes.MachineState) mes.MachineEvent {
	return mes.MachineEvent{Machine: machine, Kind: mes.EventState, SourceTime: at(clock), State: s}
}

func commEv(machine, clock string, lost bool) mes.MachineEvent {
	k := mes.EventCommRestored
	if lost {
		k = mes.EventCommLost
	}
	return mes.MachineEvent{Machine: machine, Kind: k, SourceTime: at(clock)}
}

func alarmEv(machine, clock string, raised bool, seq uint64, code string) mes.MachineEvent {
	k := mes.EventAlarmCleared
	if raised {
		k = mes.EventAlarmRaised
	}
	return mes.MachineEvent{Machine: machine, Kind: k, SourceTime: at(clock), Alarm: &mes.Alarm{Seq: seq, Code: code}}
}

func cycleEv(machine string, end time.Time, seq uint64, serial string, dur time.Duration, kwh float64, aborted bool) mes.MachineEvent {
	return mes.MachineEvent{Machine: machine, Kind: mes.EventCycle, SourceTime: end, Cycle: &mes.Cycle{
		Seq: seq, Serial: serial, Program: "P10", Start: end.Add(-dur), End: end, EnergyKWh: kwh, Aborted: aborted}}
}

func measEv(machine string, t time.Time, seq uint64, serial string, head float64) mes.MachineEvent {
	return mes.MachineEvent{Machine: machine, Kind: mes.EventMeasurement, SourceTime: t, Measurement: &mes.Measurement{
		Seq: seq, Serial: serial, Station: machine, Time: t, Values: map[string]float64{mes.CharHeadDiameter: head}}}
}

// testLine is a small line: grinders M1, M2 (group GRD, ideal 700 s) and
// the inspection station QC1 (ideal 60 s); one shift 06:00–14:00 with a one
// hour break in its middle (09:30–10:30); carbon 0.5 kg/kWh grid, 0.1 kg/kWh
// renewable at a 50 % share.
func testLine() *mes.LineConfig {
	return &mes.LineConfig{
		Name: "test line", TaktS: 180, SerialPattern: "{batch}-{seq:05}",
		Groups: []mes.Group{{ID: "GRD", Name: "Grinding"}, {ID: "QC", Name: "Inspection"}},
		Machines: []mes.Machine{
			{ID: "M1", Kind: mes.KindGrinder, Row: 1, Col: 1, Group: "GRD"},
			{ID: "M2", Kind: mes.KindGrinder, Row: 1, Col: 2, Group: "GRD"},
			{ID: "QC1", Kind: mes.KindInspection, Group: "QC"},
		},
		Products: []mes.Product{{ISO: "500314001001014", Name: "bur",
			Tolerances: map[string]mes.Tolerance{mes.CharHeadDiameter: {Nominal: 1.4, Lower: 1.38, Upper: 1.42}},
			Route: []mes.Operation{
				{Number: 10, Name: "Grind", Group: "GRD", Program: "P10", IdealCycleS: 700},
				{Number: 20, Name: "Inspect", Group: "QC", Program: "Q20", IdealCycleS: 60},
			}}},
		Shifts: []mes.Shift{{Name: "A", Start: "06:00", DurationS: 8 * 3600, Breaks: []mes.Break{{Start: "09:30", DurationS: 3600}}}},
		Carbon: mes.Carbon{GridKgPerKWh: 0.5, RenewableKgPerKWh: 0.1, RenewableShare: 0.5},
	}
}

func byID(list []OEE, id string) *OEE {
	for i := range list {
		if list[i].ID == id {
			return &list[i]
		}
	}
	return nil
}

func sortedLosses(res sweepResult) []lossKey {
	keys := make([]lossKey, 0, len(res.losses))
	for k := range res.losses {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b lossKey) int {
		if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		return cmp.Compare(a.code, b.code)
	})
	return keys
}
