package twintest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// Generator makes a plausible stream of machine events for a line without
// any machine or OPC UA: grinders cycle through loading, grinding and
// unloading with process samples, dress their wheels, raise the odd alarm;
// robots move; the inspection station measures; the output tray fills.
// Tests, benchmarks and demos of the twin use it; the real line's events
// come from acquisition.
type Generator struct {
	// SampleEvery is the line-time interval of process samples per grinder
	// (acquisition polls every 500 ms by default).
	SampleEvery time.Duration
	// AlarmEvery is the mean line time between alarms on one grinder; 0 = none.
	AlarmEvery time.Duration
	// Batch is the batch id used in serials.
	Batch string

	line     *mes.LineConfig
	rnd      *rand.Rand
	now      time.Time
	grinders []*genGrinder
	rowSeq   map[int]int
	mag, out uint64
	alarmSeq uint64
	measSeq  uint64
}

type genGrinder struct {
	id         string
	row, col   int
	program    string
	ideal      time.Duration
	state      mes.MachineState
	until      time.Time
	start      time.Time
	serial     string
	parts      uint64
	wear       float64
	dress      uint32
	energy     float64
	nextSample time.Time
	alarm      *mes.Alarm
}

// NewGenerator returns a generator for line starting at line time start,
// deterministic for a seed.
func NewGenerator(line *mes.LineConfig, seed uint64, start time.Time) *Generator {
	g := &Generator{SampleEvery: 500 * time.Millisecond, Batch: "B000001", line: line,
		rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: start, rowSeq: map[int]int{}, mag: 2000}
	ideal := map[string]mes.Operation{}
	if len(line.Products) > 0 {
		for _, op := range line.Products[0].Route {
			ideal[op.Group] = op
		}
	}
	for _, m := range line.Machines {
		if m.Kind != mes.KindGrinder {
			continue
		}
		op, ok := ideal[m.Group]
		if !ok {
			op = mes.Operation{Program: "O0000", IdealCycleS: 600}
		}
		gg := &genGrinder{id: m.ID, row: m.Row, col: m.Col, program: op.Program,
			ideal: time.Duration(op.IdealCycleS * float64(time.Second)), state: mes.StateIdle}
		// Stagger the grinders so the floor does not move in lockstep.
		gg.until = start.Add(time.Duration(g.rnd.Float64() * float64(gg.ideal)))
		g.grinders = append(g.grinders, gg)
	}
	return g
}

// Now returns the generator's line time.
func (g *Generator) Now() time.Time { return g.now }

// Start returns the events that bring every machine online in its current state.
func (g *Generator) Start() []mes.MachineEvent {
	var evs []mes.MachineEvent
	for _, gg := range g.grinders {
		evs = append(evs, mes.MachineEvent{Machine: gg.id, Kind: mes.EventState, SourceTime: g.now, State: gg.state, Mode: "Automatic"})
	}
	for _, m := range g.line.Machines {
		if m.Kind == mes.KindInspection {
			evs = append(evs, mes.MachineEvent{Machine: m.ID, Kind: mes.EventState, SourceTime: g.now, State: mes.StateIdle})
		}
	}
	for _, r := range g.line.Robots {
		evs = append(evs, g.robot(r.ID, mes.StateIdle, r.Serves[0], r.Serves[0], ""))
	}
	return evs
}

// Step advances line time by dt and returns what happened meanwhile, in
// source-time order per machine.
func (g *Generator) Step(dt time.Duration) []mes.MachineEvent {
	end := g.now.Add(dt)
	var evs []mes.MachineEvent
	for _, gg := range g.grinders {
		evs = append(evs, g.stepGrinder(gg, end)...)
	}
	g.now = end
	return evs
}

func (g *Generator) state(gg *genGrinder, s mes.MachineState, at time.Time) mes.MachineEvent {
	gg.state = s
	return mes.MachineEvent{Machine: gg.id, Kind: mes.EventState, SourceTime: at, State: s, Mode: "Automatic"}
}

func (g *Generator) robot(id string, s mes.MachineState, at, target, bur string) mes.MachineEvent {
	return mes.MachineEvent{Machine: id, Kind: mes.EventRobot, SourceTime: g.now,
		Robot: &mes.RobotStatus{State: s, At: at, Target: target, Bur: bur}}
}

func (g *Generator) jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.97 + 0.06*g.rnd.Float64()))
}

func (g *Generator) stepGrinder(gg *genGrinder, end time.Time) []mes.MachineEvent {
	var evs []mes.MachineEvent
	robot := fmt.Sprintf("R%d", gg.row)
	for !gg.until.After(end) {
		at := gg.until
		switch gg.state {
		case mes.StateIdle, mes.StateDressing, mes.StateAlarm:
			if gg.alarm != nil {
				a := *gg.alarm
				a.Cleared = at
				evs = append(evs, mes.MachineEvent{Machine: gg.id, Kind: mes.EventAlarmCleared, SourceTime: at, Alarm: &a})
				gg.alarm = nil
			}
			g.rowSeq[gg.row]++
			gg.serial = fmt.Sprintf("%s-%05d", g.Batch, g.rowSeq[gg.row])
			evs = append(evs, g.state(gg, mes.StateLoading, at))
			from := fmt.Sprintf("G%02d", (gg.row-2)*5+gg.col)
			if gg.row == 1 {
				from = "MAG"
				g.mag--
				evs = append(evs, mes.MachineEvent{Machine: "MAG", Kind: mes.EventStation, SourceTime: at, Station: &mes.StationStatus{Count: g.mag}})
			}
			evs = append(evs, mes.MachineEvent{Machine: robot, Kind: mes.EventRobot, SourceTime: at,
				Robot: &mes.RobotStatus{State: mes.StateLoading, At: from, Target: gg.id, Bur: gg.serial}})
			gg.until = at.Add(20 * time.Second)
		case mes.StateLoading:
			evs = append(evs, g.state(gg, mes.StateGrinding, at))
			gg.start = at
			gg.nextSample = at
			gg.until = at.Add(g.jitter(gg.ideal))
			if g.AlarmEvery > 0 && g.rnd.Float64() < float64(gg.ideal)/float64(g.AlarmEvery) {
				gg.until = at.Add(time.Duration(g.rnd.Float64() * float64(gg.ideal)))
				gg.alarm = &mes.Alarm{}
			}
		case mes.StateGrinding:
			evs = append(evs, g.samples(gg, at)...)
			if gg.alarm != nil && gg.alarm.Seq == 0 {
				g.alarmSeq++
				*gg.alarm = mes.Alarm{Seq: g.alarmSeq, Code: "E2103", Text: "Spindle overload", TextZH: "主轴过载", Severity: 700, Raised: at}
				a := *gg.alarm
				evs = append(evs, mes.MachineEvent{Machine: gg.id, Kind: mes.EventAlarmRaised, SourceTime: at, Alarm: &a}, g.state(gg, mes.StateAlarm, at))
				gg.until = at.Add(g.jitter(3 * time.Minute))
				continue
			}
			gg.parts++
			gg.wear += 0.4 + 0.2*g.rnd.Float64()
			e := 0.9 * gg.ideal.Hours() * 2.2
			gg.energy += e
			evs = append(evs,
				mes.MachineEvent{Machine: gg.id, Kind: mes.EventCycle, SourceTime: at, Cycle: &mes.Cycle{
					Seq: gg.parts, Serial: gg.serial, Program: gg.program, ProgramVersion: "1.0", WheelID: "W-" + gg.id,
					WheelWearUM: gg.wear, DressCount: gg.dress, Start: gg.start, End: at, PeakSpindleLoad: 70, EnergyKWh: e}},
				mes.MachineEvent{Machine: gg.id, Kind: mes.EventCounter, SourceTime: at, Counter: gg.parts},
				g.state(gg, mes.StateUnloading, at))
			gg.until = at.Add(20 * time.Second)
		case mes.StateUnloading:
			target := fmt.Sprintf("G%02d", gg.row*5+gg.col)
			if gg.row == 5 {
				target = "OUT"
				g.out++
				g.measSeq++
				evs = append(evs,
					mes.MachineEvent{Machine: "QC1", Kind: mes.EventMeasurement, SourceTime: at, Measurement: &mes.Measurement{
						Seq: g.measSeq, Serial: gg.serial, Station: "QC1", Time: at,
						Values: map[string]float64{mes.CharHeadDiameter: 1.4 + 0.006*g.rnd.NormFloat64(), mes.CharRadialRunout: 0.005 + 0.002*g.rnd.Float64()}}},
					mes.MachineEvent{Machine: "OUT", Kind: mes.EventStation, SourceTime: at, Station: &mes.StationStatus{Count: g.out, LastSerial: gg.serial}})
			}
			evs = append(evs, mes.MachineEvent{Machine: robot, Kind: mes.EventRobot, SourceTime: at,
				Robot: &mes.RobotStatus{State: mes.StateMoving, At: gg.id, Target: target, Bur: gg.serial}})
			gg.serial = ""
			if gg.parts%40 == 0 {
				evs = append(evs, g.state(gg, mes.StateDressing, at))
				gg.wear, gg.dress = 0, gg.dress+1
				gg.until = at.Add(4 * time.Minute)
			} else {
				evs = append(evs, g.state(gg, mes.StateIdle, at))
				gg.until = at.Add(time.Duration(5+g.rnd.IntN(20)) * time.Second)
			}
		default:
			gg.until = end.Add(time.Second)
		}
	}
	if gg.state == mes.StateGrinding {
		evs = append(evs, g.samples(gg, end)...)
	}
	return evs
}

// samples emits process samples of a grinding grinder up to t.
func (g *Generator) samples(gg *genGrinder, t time.Time) []mes.MachineEvent {
	var evs []mes.MachineEvent
	for !gg.nextSample.After(t) {
		at := gg.nextSample
		p := float64(at.Sub(gg.start)) / float64(gg.ideal)
		p = min(1, max(0, p))
		load := 55 + 20*math.Sin(p*math.Pi) + 4*g.rnd.NormFloat64()
		evs = append(evs, mes.MachineEvent{Machine: gg.id, Kind: mes.EventSample, SourceTime: at, Sample: &mes.Sample{
			SpindleSpeed: 24000 + 40*g.rnd.NormFloat64(), SpindleLoad: load, CoolantTemp: 21.5 + 2*p + 0.05*g.rnd.NormFloat64(),
			PowerKW: 2.2 * load / 70, EnergyKWh: gg.energy, WheelDiameter: 100 - gg.wear/1000, WheelWearUM: gg.wear + p*0.5,
			Progress: p, Serial: gg.serial, Program: gg.program, PartsCounter: gg.parts}})
		gg.nextSample = at.Add(g.SampleEvery)
	}
	return evs
}
