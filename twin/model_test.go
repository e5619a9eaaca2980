package twin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
)

// MustLoadLine returns the default 25-grinder line.
func MustLoadLine(tb testing.TB) *mes.LineConfig {
	tb.Helper()
	line, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(tb, err)
	return line
}

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.Local)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func grinder(t *testing.T, s Snapshot, id string) Grinder {
	t.Helper()
	for _, g := range s.Grinders {
		if g.ID == id {
			return g
		}
	}
	t.Fatalf("grinder %s not in snapshot", id)
	return Grinder{}
}

func TestNewModel_Layout(t *testing.T) {
	s := NewModel(MustLoadLine(t)).Snapshot()
	require.Len(t, s.Grinders, 25)
	assert.Equal(t, "G01", s.Grinders[0].ID)
	assert.Equal(t, 5, s.Grinders[24].Row)
	assert.Equal(t, "NECK", s.Grinders[24].Group)
	assert.Equal(t, mes.StateOffline, s.Grinders[0].State)
	assert.Equal(t, CommNever, s.Grinders[0].Comm)
	require.Len(t, s.Robots, 5)
	assert.Equal(t, "QC1", s.Inspection.ID)
	assert.Equal(t, "MAG", s.Magazine.ID)
	assert.Equal(t, 5000, s.Output.Capacity)
	assert.Equal(t, 180.0, s.Production.Takt.TargetS)
	assert.Len(t, s.Timeline, 25)
}

func TestModel_Apply(t *testing.T) {
	alarm := &mes.Alarm{Seq: 7, Code: "E2103", Text: "Spindle overload", Severity: 700, Raised: at(5)}
	tests := []struct {
		name   string
		events []mes.MachineEvent
		check  func(t *testing.T, s Snapshot)
	}{
		{"state and mode", []mes.MachineEvent{
			{Machine: "G03", Kind: mes.EventState, SourceTime: at(1), State: mes.StateGrinding, Mode: "Automatic"},
		}, func(t *testing.T, s Snapshot) {
			g := grinder(t, s, "G03")
			assert.Equal(t, mes.StateGrinding, g.State)
			assert.Equal(t, "Automatic", g.Mode)
			assert.True(t, g.Since.Equal(at(1)))
			assert.Equal(t, CommOK, g.Comm)
			assert.Equal(t, []Span{{State: mes.StateGrinding, From: at(1)}}, s.Timeline["G03"])
		}},
		{"sample is quantised and sets serial and batch", []mes.MachineEvent{
			{Machine: "G01", Kind: mes.EventSample, SourceTime: at(1), Sample: &mes.Sample{
				SpindleSpeed: 24013, SpindleLoad: 61.26, CoolantTemp: 21.44, Progress: 0.4321, Serial: "B000007-00012", Program: "O1010_SHANK", WheelWearUM: 3.04}},
		}, func(t *testing.T, s Snapshot) {
			g := grinder(t, s, "G01")
			assert.Equal(t, 24000.0, g.SpindleRPM)
			assert.Equal(t, 61.5, g.SpindleLoad)
			assert.InDelta(t, 21.4, g.CoolantC, 1e-9)
			assert.InDelta(t, 0.43, g.Progress, 1e-9)
			assert.Equal(t, "B000007-00012", g.Serial)
			assert.Equal(t, "B000007", g.Batch)
			assert.Equal(t, "O1010_SHANK", g.Program)
		}},
		{"cycle counts today, keeps cycle time, duplicate ignored", []mes.MachineEvent{
			{Machine: "G02", Kind: mes.EventCycle, SourceTime: at(800), Cycle: &mes.Cycle{Seq: 4, Serial: "B1-00001", Program: "O1010_SHANK", ProgramVersion: "3.2", WheelID: "W7", Start: at(20), End: at(800), EnergyKWh: 0.5}},
			{Machine: "G02", Kind: mes.EventCycle, SourceTime: at(800), Cycle: &mes.Cycle{Seq: 4, Serial: "B1-00001", Start: at(20), End: at(800)}},
			{Machine: "G02", Kind: mes.EventCycle, SourceTime: at(900), Cycle: &mes.Cycle{Seq: 5, Serial: "B1-00002", Start: at(850), End: at(900), Aborted: true}},
		}, func(t *testing.T, s Snapshot) {
			g := grinder(t, s, "G02")
			assert.Equal(t, 1, g.Today, "aborted and duplicate jobs do not count")
			require.Len(t, g.Cycles, 2)
			assert.Equal(t, 780.0, g.Cycles[0].CycleS)
			assert.True(t, g.Cycles[1].Aborted)
			assert.Equal(t, uint64(5), g.Counter)
			assert.Equal(t, "W7", g.WheelID)
			assert.Equal(t, "3.2", g.ProgramVersion)
		}},
		{"sample tells a dressing and a wheel change before the next job", []mes.MachineEvent{
			{Machine: "G02", Kind: mes.EventCycle, SourceTime: at(800), Cycle: &mes.Cycle{Seq: 4, Serial: "B1-00001", WheelID: "W7", DressCount: 2, Start: at(20), End: at(800)}},
			{Machine: "G02", Kind: mes.EventSample, SourceTime: at(900), Sample: &mes.Sample{WheelID: "W7", DressCount: 3}},
			{Machine: "G02", Kind: mes.EventSample, SourceTime: at(1800), Sample: &mes.Sample{WheelID: "W8", DressCount: 0}},
			{Machine: "G02", Kind: mes.EventSample, SourceTime: at(1801), Sample: &mes.Sample{Progress: 0.5}},
		}, func(t *testing.T, s Snapshot) {
			g := grinder(t, s, "G02")
			assert.Equal(t, "W8", g.WheelID)
			assert.Zero(t, g.DressCount)
		}},
		{"sample without a wheel leaves what the cycle told", []mes.MachineEvent{
			{Machine: "G02", Kind: mes.EventCycle, SourceTime: at(800), Cycle: &mes.Cycle{Seq: 4, Serial: "B1-00001", WheelID: "W7", DressCount: 2, Start: at(20), End: at(800)}},
			{Machine: "G02", Kind: mes.EventSample, SourceTime: at(900), Sample: &mes.Sample{Progress: 0.5}},
		}, func(t *testing.T, s Snapshot) {
			g := grinder(t, s, "G02")
			assert.Equal(t, "W7", g.WheelID)
			assert.Equal(t, uint32(2), g.DressCount)
		}},
		{"alarm raised then cleared", []mes.MachineEvent{
			{Machine: "G09", Kind: mes.EventAlarmRaised, SourceTime: at(5), Alarm: alarm},
			{Machine: "G09", Kind: mes.EventAlarmRaised, SourceTime: at(5), Alarm: alarm},
		}, func(t *testing.T, s Snapshot) {
			g := grinder(t, s, "G09")
			require.Len(t, g.Alarms, 1)
			assert.Equal(t, "E2103", g.Alarms[0].Code)
			assert.Len(t, g.AlarmHistory, 1)
		}},
		{"alarm cleared leaves history", []mes.MachineEvent{
			{Machine: "G09", Kind: mes.EventAlarmRaised, SourceTime: at(5), Alarm: alarm},
			{Machine: "G09", Kind: mes.EventAlarmCleared, SourceTime: at(65), Alarm: &mes.Alarm{Seq: 7}},
		}, func(t *testing.T, s Snapshot) {
			g := grinder(t, s, "G09")
			assert.Empty(t, g.Alarms)
			require.Len(t, g.AlarmHistory, 1)
			assert.True(t, g.AlarmHistory[0].Cleared.Equal(at(65)))
		}},
		{"comm lost greys out and restores the state", []mes.MachineEvent{
			{Machine: "G04", Kind: mes.EventState, SourceTime: at(1), State: mes.StateGrinding},
			{Machine: "G04", Kind: mes.EventSample, SourceTime: at(2), Sample: &mes.Sample{Progress: 0.5}},
			{Machine: "G04", Kind: mes.EventCommLost, SourceTime: at(10), Reason: "timeout"},
		}, func(t *testing.T, s Snapshot) {
			g := grinder(t, s, "G04")
			assert.Equal(t, CommLost, g.Comm)
			assert.Equal(t, mes.StateCommLost, g.State)
			assert.Equal(t, "timeout", g.CommReason)
			assert.True(t, g.LastData.Equal(at(2)), "no data since the last sample")
		}},
		{"comm restored", []mes.MachineEvent{
			{Machine: "G04", Kind: mes.EventState, SourceTime: at(1), State: mes.StateGrinding},
			{Machine: "G04", Kind: mes.EventCommLost, SourceTime: at(10)},
			{Machine: "G04", Kind: mes.EventCommRestored, SourceTime: at(20)},
		}, func(t *testing.T, s Snapshot) {
			g := grinder(t, s, "G04")
			assert.Equal(t, CommOK, g.Comm)
			assert.Equal(t, mes.StateGrinding, g.State)
			states := []mes.MachineState{}
			for _, sp := range s.Timeline["G04"] {
				states = append(states, sp.State)
			}
			assert.Equal(t, []mes.MachineState{mes.StateGrinding, mes.StateCommLost, mes.StateGrinding}, states)
		}},
		{"robot", []mes.MachineEvent{
			{Machine: "R2", Kind: mes.EventRobot, SourceTime: at(1), Robot: &mes.RobotStatus{State: mes.StateMoving, At: "G06", Target: "G08", Bur: "B1-00003"}},
		}, func(t *testing.T, s Snapshot) {
			r := s.Robots[1]
			assert.Equal(t, Robot{ID: "R2", Row: 2, Serves: r.Serves, State: mes.StateMoving, At: "G06", Target: "G08", Bur: "B1-00003"}, r)
		}},
		{"stations, takt and burs today from the tray", []mes.MachineEvent{
			{Machine: "MAG", Kind: mes.EventStation, SourceTime: at(1), Station: &mes.StationStatus{Count: 1999}},
			{Machine: "OUT", Kind: mes.EventStation, SourceTime: at(100), Station: &mes.StationStatus{Count: 10, LastSerial: "B1-00010"}},
			{Machine: "OUT", Kind: mes.EventStation, SourceTime: at(280), Station: &mes.StationStatus{Count: 11, LastSerial: "B1-00011"}},
			{Machine: "OUT", Kind: mes.EventStation, SourceTime: at(480), Station: &mes.StationStatus{Count: 12, LastSerial: "B1-00012"}},
		}, func(t *testing.T, s Snapshot) {
			assert.Equal(t, uint64(1999), s.Magazine.Count)
			assert.Equal(t, uint64(12), s.Output.Count)
			assert.Equal(t, []string{"B1-00012", "B1-00011", "B1-00010"}, s.Output.LastSerials)
			assert.Equal(t, 200.0, s.Production.Takt.LastS)
			assert.Equal(t, 190.0, s.Production.Takt.RollingS)
			assert.Equal(t, 2, s.Production.BursToday)
		}},
		{"measurement judged against the product's tolerances", []mes.MachineEvent{
			{Machine: "QC1", Kind: mes.EventMeasurement, SourceTime: at(3), Measurement: &mes.Measurement{Seq: 1, Serial: "B1-00001", Time: at(3),
				Values: map[string]float64{mes.CharHeadDiameter: 1.45, mes.CharRadialRunout: 0.004}}},
		}, func(t *testing.T, s Snapshot) {
			require.NotNil(t, s.Inspection.Last)
			assert.False(t, s.Inspection.Last.Pass)
			assert.Equal(t, []string{mes.CharHeadDiameter}, s.Inspection.Last.Failed)
			assert.Equal(t, 1, s.Inspection.Failed)
		}},
		{"unknown machine ignored", []mes.MachineEvent{
			{Machine: "G99", Kind: mes.EventState, SourceTime: at(1), State: mes.StateAlarm},
		}, func(t *testing.T, s Snapshot) {
			assert.Equal(t, uint64(0), s.Seq)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewModel(MustLoadLine(t))
			for _, ev := range tt.events {
				m.Apply(ev)
			}
			tt.check(t, m.Snapshot())
		})
	}
}

func TestModel_SetProduction(t *testing.T) {
	m := NewModel(MustLoadLine(t))
	m.SetProduction(Production{
		Takt: Takt{LastS: 175, RollingS: 182}, BursToday: 140, EnergyPerBurKWh: 1.9,
		OEE:      &OEE{Availability: 0.9, Performance: 0.95, Quality: 0.99, OEE: 0.846},
		Grinders: map[string]OEE{"G05": {Availability: 0.8, Performance: 1, Quality: 1, OEE: 0.8}},
		Batches:  []BatchProgress{{ID: "B000001", Quantity: 500, Completed: 140, State: mes.BatchRunning}},
	})
	s := m.Snapshot()
	assert.Equal(t, 180.0, s.Production.Takt.TargetS, "target filled from the line")
	assert.Equal(t, 175.0, s.Production.Takt.LastS)
	assert.Equal(t, 140, s.Production.BursToday)
	require.NotNil(t, s.Production.OEE)
	assert.Equal(t, 0.846, s.Production.OEE.OEE)
	assert.Nil(t, s.Production.Grinders, "per-grinder OEE travels on the grinders")
	require.NotNil(t, grinder(t, s, "G05").OEE)
	assert.Equal(t, 0.8, grinder(t, s, "G05").OEE.OEE)
	assert.Nil(t, grinder(t, s, "G06").OEE)
	assert.Len(t, s.Production.Batches, 1)
}

func TestModel_TimelineKeepsTheLastHour(t *testing.T) {
	m := NewModel(MustLoadLine(t))
	states := []mes.MachineState{mes.StateLoading, mes.StateGrinding, mes.StateUnloading, mes.StateIdle}
	for i := range 200 {
		m.Apply(mes.MachineEvent{Machine: "G01", Kind: mes.EventState, SourceTime: at(i * 60), State: states[i%4]})
	}
	tl := m.Snapshot().Timeline["G01"]
	require.NotEmpty(t, tl)
	// The first span kept is the one running at now − 1 h.
	assert.False(t, tl[0].From.After(at(199*60).Add(-time.Hour)))
	assert.True(t, tl[1].From.After(at(199*60).Add(-time.Hour)))
	assert.Len(t, tl, 61)
}

func TestBatchParser(t *testing.T) {
	tests := []struct{ pattern, serial, want string }{
		{"{batch}-{seq:05}", "B000001-00042", "B000001"},
		{"{batch}-{seq:05}", "B-X-00042", "B-X"},
		{"PL{batch}/{seq}", "PLB7/3", "B7"},
		{"{batch}-{seq:05}", "", ""},
		{"{seq}", "123", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, batchParser(tt.pattern)(tt.serial), "%s %s", tt.pattern, tt.serial)
	}
}

// randomEvents is a random stream over a few machines and every event
// kind, with source times that mostly advance and sometimes repeat.
func randomEvents(r *rand.Rand, n int, start time.Time) []mes.MachineEvent {
	machines := []string{"G01", "G02", "G13", "G25", "QC1", "R1", "R5", "MAG", "OUT"}
	states := []mes.MachineState{mes.StateIdle, mes.StateLoading, mes.StateGrinding, mes.StateUnloading, mes.StateAlarm, mes.StateDressing}
	serials := []string{"", "B000001-00001", "B000002-00001", "B000001-00002"}
	wheels := []string{"", "W1", "W2"}
	now := start
	var evs []mes.MachineEvent
	var count uint64
	for range n {
		now = now.Add(time.Duration(r.IntN(120)) * time.Second)
		ev := mes.MachineEvent{Machine: machines[r.IntN(len(machines))], SourceTime: now}
		switch r.IntN(10) {
		case 0, 1:
			ev.Kind, ev.State = mes.EventState, states[r.IntN(len(states))]
		case 2:
			ev.Kind, ev.Counter = mes.EventCounter, uint64(r.IntN(50))
		case 3:
			ev.Kind = mes.EventCycle
			ev.Cycle = &mes.Cycle{Seq: uint64(r.IntN(50)), Serial: serials[r.IntN(4)], Start: now.Add(-700 * time.Second), End: now, Aborted: r.IntN(5) == 0,
				WheelID: wheels[r.IntN(3)], DressCount: uint32(r.IntN(3))}
		case 4:
			ev.Kind, ev.Alarm = mes.EventAlarmRaised, &mes.Alarm{Seq: uint64(r.IntN(4)), Code: "E1", Raised: now}
		case 5:
			ev.Kind, ev.Alarm = mes.EventAlarmCleared, &mes.Alarm{Seq: uint64(r.IntN(4))}
		case 6:
			ev.Kind = mes.EventSample
			ev.Sample = &mes.Sample{SpindleSpeed: r.Float64() * 30000, SpindleLoad: r.Float64() * 100, CoolantTemp: 20 + r.Float64()*5, Progress: r.Float64(), Serial: serials[r.IntN(4)],
				WheelID: wheels[r.IntN(3)], DressCount: uint32(r.IntN(3))}
		case 7:
			ev.Kind, ev.Reason = mes.EventCommLost, "timeout"
		case 8:
			ev.Kind = mes.EventCommRestored
		case 9:
			count += uint64(r.IntN(2))
			ev.Kind = mes.EventStation
			ev.Station = &mes.StationStatus{Count: count, LastSerial: serials[r.IntN(4)]}
			ev.Robot = &mes.RobotStatus{State: states[r.IntN(2)], At: "G01", Target: "G02", Bur: serials[r.IntN(4)]}
			if r.IntN(3) == 0 {
				ev.Kind = mes.EventMeasurement
				ev.Measurement = &mes.Measurement{Seq: uint64(r.IntN(9)), Serial: serials[r.IntN(4)], Time: now, Values: map[string]float64{mes.CharHeadDiameter: 1.38 + r.Float64()*0.05}}
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

func encode(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// decoded is what a viewer holds: the snapshot after a JSON round trip.
func decoded(t *testing.T, s Snapshot) Snapshot {
	t.Helper()
	var out Snapshot
	require.NoError(t, json.Unmarshal([]byte(encode(t, s)), &out))
	return out
}

// TestDeltas_ReproduceSnapshots is the stream's core property: over random
// event streams, the snapshot a viewer got plus every delta since, each sent
// over JSON, equals the snapshot it would get by reconnecting now — for the
// full view and filtered ones.
func TestDeltas_ReproduceSnapshots(t *testing.T) {
	filters := []Filter{{}, {Grinders: []string{"G02", "G25"}}, {Batch: "B000001"}}
	seeds := 15
	if testing.Short() || raceEnabled {
		seeds = 4
	}
	for seed := range seeds {
		for _, f := range filters {
			r := rand.New(rand.NewPCG(uint64(seed), 1))
			m := NewModel(MustLoadLine(t))
			evs := randomEvents(r, 300, t0)
			start := r.IntN(50)
			for _, ev := range evs[:start] {
				m.Apply(ev)
			}
			d := newDiffer(f, 100, f.Apply(m.Snapshot(), m.batchOf))
			m.takeSpans()
			view := f.Apply(m.Snapshot(), m.batchOf)
			view.Seq = 100
			view = decoded(t, view)
			for i := start; i < len(evs); {
				n := 1 + r.IntN(8)
				for ; n > 0 && i < len(evs); n, i = n-1, i+1 {
					m.Apply(evs[i])
					if r.IntN(20) == 0 {
						m.SetProduction(Production{BursToday: r.IntN(5), Grinders: map[string]OEE{"G02": {OEE: r.Float64()}},
							Batches: []BatchProgress{{ID: "B000001", Completed: r.IntN(3)}, {ID: "B000002"}}})
					}
				}
				want := f.Apply(m.Snapshot(), m.batchOf)
				delta, ok, err := d.diff(want, m.takeSpans())
				require.NoError(t, err)
				if !ok {
					continue
				}
				var wire Delta
				require.NoError(t, json.Unmarshal([]byte(encode(t, delta)), &wire))
				require.NoError(t, view.ApplyDelta(wire), "seed %d", seed)
				want.Seq = delta.Seq
				require.Equal(t, encode(t, want), encode(t, view), "seed %d filter %+v after event %d", seed, f, i)
			}
		}
	}
}

func TestApplyDelta_Gap(t *testing.T) {
	s := Snapshot{Seq: 4}
	err := s.ApplyDelta(Delta{Seq: 6})
	require.Error(t, err)
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
}

func TestFilter_Batch(t *testing.T) {
	m := NewModel(MustLoadLine(t))
	m.Apply(mes.MachineEvent{Machine: "G01", Kind: mes.EventSample, SourceTime: at(1), Sample: &mes.Sample{Serial: "B000001-00001"}})
	m.Apply(mes.MachineEvent{Machine: "G02", Kind: mes.EventSample, SourceTime: at(1), Sample: &mes.Sample{Serial: "B000002-00001"}})
	m.Apply(mes.MachineEvent{Machine: "R1", Kind: mes.EventRobot, SourceTime: at(1), Robot: &mes.RobotStatus{Bur: "B000002-00002"}})
	m.SetProduction(Production{Batches: []BatchProgress{{ID: "B000001"}, {ID: "B000002"}}})
	s := Filter{Batch: "B000001"}.Apply(m.Snapshot(), m.batchOf)
	assert.Len(t, s.Grinders, 25, "the floor plan stays whole")
	assert.Equal(t, "B000001-00001", grinder(t, s, "G01").Serial)
	assert.Empty(t, grinder(t, s, "G02").Serial, "another customer's bur is not shown")
	assert.Empty(t, s.Robots[0].Bur)
	require.Len(t, s.Production.Batches, 1)
	assert.Equal(t, "B000001", s.Production.Batches[0].ID)
}

// TestModel_PeriodFromMES: once the MES names the period (a shift), the
// grinders' counts count that period, like the header's, and start again
// when the next shift begins; without the MES the period is the local day.
func TestModel_PeriodFromMES(t *testing.T) {
	m := NewModel(MustLoadLine(t))
	job := func(seq uint64, end time.Time) mes.MachineEvent {
		return mes.MachineEvent{Machine: "G02", Kind: mes.EventCycle, SourceTime: end,
			Cycle: &mes.Cycle{Seq: seq, Serial: fmt.Sprintf("B1-%05d", seq), Start: end.Add(-3 * time.Minute), End: end}}
	}
	m.Apply(job(1, at(60)))
	s := m.Snapshot()
	assert.Equal(t, PeriodDay, s.Production.Period.Kind, "no MES: the local day")
	y, mo, d := t0.Date()
	assert.Equal(t, time.Date(y, mo, d, 0, 0, 0, 0, time.Local), s.Production.Period.From)
	assert.Equal(t, 1, grinder(t, s, "G02").Today)

	early := Period{Kind: PeriodShift, Name: "Early", From: at(120)}
	m.SetProduction(Production{Period: early, BursToday: 0})
	m.Apply(job(2, at(100))) // ended before the shift began
	m.Apply(job(3, at(300)))
	s = m.Snapshot()
	assert.Equal(t, early, s.Production.Period)
	assert.Equal(t, 1, grinder(t, s, "G02").Today, "only the job of this shift")

	m.SetProduction(Production{Period: early, BursToday: 1}) // the same shift again: counts stay
	assert.Equal(t, 1, grinder(t, m.Snapshot(), "G02").Today)

	late := Period{Kind: PeriodShift, Name: "Late", From: at(600)}
	m.SetProduction(Production{Period: late})
	assert.Equal(t, 0, grinder(t, m.Snapshot(), "G02").Today, "a new shift starts at zero")
	m.Apply(job(4, at(700)))
	s = m.Snapshot()
	assert.Equal(t, 1, grinder(t, s, "G02").Today)
	assert.Equal(t, "Late", s.Production.Period.Name)
}
