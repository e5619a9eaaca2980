package sim

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/grinder"
	pl "github.com/pilotline/pilotline/opcua"
)

// Physical constants of the simulated grinders.
const (
	spindleRatedKW = 9.0
	basePowerKW    = 1.8 // control, hydraulics, chiller standby
	coolantPumpKW  = 2.2
	pickS          = 5.0 // robot pick/place at a station
	refillS        = 600 // operator refills an empty magazine
	coolantTauS    = 900.0
	ambientC       = 21.0
)

// job is one operation on one bur, from dispatch to unloading.
type job struct {
	serial, program, version, hash string
	prog                           program
	start                          time.Time // loading began
	grindStart                     time.Time
	grindS, roughS, plannedS       float64
	aborted                        bool
	energyStart                    float64
	peakLoad                       float64
}

// machine is a grinder or the inspection station.
type machine struct {
	l          *Line
	idx        int
	cfg        mes.Machine
	inspection bool
	ep         *endpoint
	vars       map[string]*node
	robot      *robot
	rng        *rand.Rand // job-level draws: deterministic for a job sequence
	meas       *rand.Rand // measurements only
	noise      *rand.Rand // per-tick noise of continuous values

	state    mes.MachineState
	epoch    uint64 // bumps cancel the machine's scheduled events
	job      *job
	disp     struct{ serial, program, version string }
	accepted uint32
	parts    uint32
	last     *mes.Cycle
	progName string
	progVer  string
	progHash string
	progSt   string

	// model is the grinder (wheel, faults, job times) shared with the
	// line prescription; the simulator adds robots, power and OPC UA.
	model   *grinder.Model
	wheelID string

	alarmSeq uint32
	ring     [pl.AlarmSlots]*mes.Alarm
	active   []*mes.Alarm
	resume   func()
	maintReq bool

	power, energy, speed, load, coolant, progress float64
	energyT                                       time.Time
	axes                                          [6]float64

	measSeq  uint32
	lastMeas *mes.Measurement
	gaugeID  string
	calDue   time.Time
}

func newMachine(l *Line, idx int, c mes.Machine) *machine {
	seed := uint64(l.seed)
	m := &machine{
		l: l, idx: idx, cfg: c, inspection: c.Kind == mes.KindInspection,
		rng:   rand.New(rand.NewPCG(seed, uint64(idx)+1)),
		meas:  rand.New(rand.NewPCG(seed, uint64(idx)+1<<32)),
		noise: rand.New(rand.NewPCG(seed, uint64(idx)+2<<32)),
		state: mes.StateIdle, coolant: ambientC, energyT: l.now, progSt: "Initializing",
	}
	m.robot = l.robotFor(c)
	m.model = grinder.New(grinder.SimulationParams(l.sim), !m.inspection, m.rng)
	if !m.inspection {
		m.setWheelID()
	} else {
		m.gaugeID = "OG200-" + c.ID + "-0417"
		d := l.simStart.UTC()
		m.calDue = time.Date(d.Year(), d.Month()+6, 1, 0, 0, 0, 0, time.UTC)
	}
	return m
}

func (m *machine) setWheelID() { m.wheelID = fmt.Sprintf("%s-W%04d", m.cfg.ID, m.model.Wheel.No) }

func (m *machine) newWheel() {
	m.model.NewWheel(m.rng)
	m.setWheelID()
}

// attach builds the machine's object on endpoint e.
func (m *machine) attach(e *endpoint) {
	sp := e.sp
	name := m.cfg.Node
	if name == "" {
		name = m.cfg.ID
	}
	obj := sp.add(nsPL, 0, ua.NodeClassObject, name)
	obj.typeDef = ua.NewNumericExpandedNodeID(nsMT, pl.MachineToolTypeID)
	sp.link(sp.machines, obj, id.Organizes)
	obj.refs = append(obj.refs, ref{typ: id.HasTypeDefinition, forward: true, to: sp.ns[nsMT][pl.MachineToolTypeID]})
	m.vars = sp.signalTree(obj, pl.MachineSignals(m.inspection))
	sp.child(sp.child(obj, pl.QName{NS: pl.NsMT, Name: "Notification"}), pl.QName{NS: pl.NsMT, Name: "Messages"})
	for key, field := range map[string]string{
		pl.KeyDispatchSerial: "Serial", pl.KeyDispatchProg: "Program",
		pl.KeyDispatchVer: "ProgramVersion", pl.KeyDispatchSeq: "Seq",
	} {
		m.vars[key].owner, m.vars[key].field = m, field
	}
	m.ep = e
	e.machines = append(e.machines, m)
}

func (m *machine) after(d float64, fn func()) {
	ep := m.epoch
	m.l.after(d, func() {
		if m.epoch == ep {
			fn()
		}
	})
}

func (m *machine) setState(s mes.MachineState) {
	m.refresh()
	m.state = s
	m.refresh()
	m.publishAll()
	m.report(mes.MachineEvent{Kind: mes.EventState, State: s})
	m.l.log.Debug("machine state", "machine", m.cfg.ID, "state", s, "at", m.l.now)
}

// writeDispatch applies one write to PL:Dispatch. l.mu is held.
func (m *machine) writeDispatch(field string, v any) ua.StatusCode {
	if field == "Seq" {
		seq, ok := v.(uint32)
		if !ok {
			return ua.StatusBadTypeMismatch
		}
		return m.dispatch(seq)
	}
	s, ok := v.(string)
	if !ok {
		return ua.StatusBadTypeMismatch
	}
	switch field {
	case "Serial":
		m.disp.serial = s
	case "Program":
		m.disp.program = s
	case "ProgramVersion":
		m.disp.version = s
	}
	m.publishAll()
	return ua.StatusOK
}

func (m *machine) dispatch(seq uint32) ua.StatusCode {
	if seq == m.accepted && seq > 0 && m.job != nil && m.job.serial == m.disp.serial {
		return ua.StatusOK // the MES repeating the job it already placed
	}
	if seq != m.accepted+1 {
		return ua.StatusBadInvalidArgument
	}
	prog, ok := m.l.programs[m.disp.program]
	if !ok || prog.op.Group != m.cfg.Group || mes.ValidateSerial(m.disp.serial) != nil {
		return ua.StatusBadInvalidArgument
	}
	if m.state != mes.StateIdle || m.job != nil {
		return ua.StatusBadInvalidState
	}
	m.accept(m.disp.serial, prog, m.disp.version)
	return ua.StatusOK
}

// accept takes a job: the machine asks its robot for the bur.
func (m *machine) accept(serial string, prog program, version string) {
	if version == "" {
		version = prog.op.ProgramVersion
	}
	m.accepted++
	m.disp.serial, m.disp.program, m.disp.version = serial, prog.op.Program, version
	sim := m.l.sim
	grind := m.model.Job(grinder.SimulationCycle(sim, prog.op), grinder.MinGrindShare*prog.op.IdealCycleS, m.rng).GrindS
	j := &job{
		serial: serial, program: prog.op.Program, version: version, prog: prog,
		hash: ProgramHash(prog.op.Program, version), grindS: grind, roughS: 0.6 * grind,
		plannedS: grind + sim.LoadS + sim.UnloadS,
	}
	m.job = j
	m.progName, m.progVer, m.progHash, m.progSt = j.program, j.version, j.hash, "Initializing"
	m.setState(mes.StateStarved)
	fromMAG := prog.index == 0 && m.l.mag != nil && slices.Contains(m.robot.cfg.Serves, m.l.mag.cfg.ID)
	m.robot.request(m.loadTask(j, fromMAG))
}

func (m *machine) loadTask(j *job, fromMAG bool) *task {
	sim := m.l.sim
	t := &task{m: m, onStart: func() {
		m.refresh()
		j.start, j.energyStart = m.l.now, m.energy
		m.setState(mes.StateLoading)
	}}
	if fromMAG {
		mag := m.l.mag
		t.steps = append(t.steps,
			step{state: mes.StateMoving, target: mag.cfg.ID, dur: sim.RobotMoveS},
			step{state: mes.StateLoading, target: mag.cfg.ID, dur: pickS, ready: mag.take, bur: j.serial})
	}
	t.steps = append(t.steps,
		step{state: mes.StateMoving, target: m.cfg.ID, dur: sim.RobotMoveS, bur: j.serial},
		step{state: mes.StateLoading, target: m.cfg.ID, dur: sim.LoadS, bur: j.serial, end: m.loaded})
	return t
}

func (m *machine) loaded() {
	if len(m.active) > 0 {
		m.job.aborted = true
		m.progSt = "Aborted"
		m.enterAlarm(m.requestUnload)
		return
	}
	j := m.job
	j.grindStart = m.l.now
	m.progSt = "Running"
	if m.inspection {
		m.setState(mes.StateMeasuring)
	} else {
		m.setState(mes.StateGrinding)
	}
	if fault, at := m.model.FaultWithin(j.grindS); fault {
		m.after(at, func() {
			m.raise(alarmTable[m.rng.IntN(len(alarmTable))].Code, true)
		})
	}
	m.after(j.grindS, m.ground)
}

// ground ends grinding (or measuring) of the current job.
func (m *machine) ground() {
	j := m.job
	m.model.Ground(j.grindS, m.rng)
	if m.inspection {
		m.measure()
	}
	m.progSt = "Ended"
	m.requestUnload()
}

func (m *machine) requestUnload() {
	m.setState(mes.StateBlocked)
	j := m.job
	sim := m.l.sim
	t := &task{m: m, onStart: func() { m.setState(mes.StateUnloading) }}
	t.steps = append(t.steps,
		step{state: mes.StateMoving, target: m.cfg.ID, dur: sim.RobotMoveS},
		step{state: mes.StateUnloading, target: m.cfg.ID, dur: sim.UnloadS, holds: j.serial, end: m.unloaded})
	if out := m.l.out; out != nil && !j.aborted && j.prog.index == len(j.prog.product.Route)-1 && slices.Contains(m.robot.cfg.Serves, out.cfg.ID) {
		t.steps = append(t.steps,
			step{state: mes.StateMoving, target: out.cfg.ID, dur: sim.RobotMoveS, bur: j.serial},
			step{state: mes.StateUnloading, target: out.cfg.ID, dur: pickS, bur: j.serial, end: func() { out.deliver(j.serial) }})
	}
	m.robot.request(t)
}

// unloaded completes the job: the bur has left the machine.
func (m *machine) unloaded() {
	j := m.job
	m.refresh()
	m.parts++
	m.last = &mes.Cycle{
		Seq: uint64(m.parts), Serial: j.serial, Program: j.program, ProgramVersion: j.version,
		ProgramHash: j.hash, WheelID: m.wheelID, WheelWearUM: m.model.Wheel.WearUM, DressCount: uint32(m.model.Wheel.DressCount),
		Start: j.start, End: m.l.now, PeakSpindleLoad: j.peakLoad, EnergyKWh: m.energy - j.energyStart,
		Aborted: j.aborted,
	}
	if j.aborted {
		m.progSt = "Aborted"
	}
	m.job = nil
	c := *m.last
	m.report(mes.MachineEvent{Kind: mes.EventCycle, Cycle: &c})
	if m.l.auto != nil {
		m.l.auto.done(j)
	}
	if len(m.active) > 0 {
		m.enterAlarm(m.afterCycle)
		return
	}
	m.afterCycle()
}

func (m *machine) afterCycle() {
	if m.model.DressDue() {
		m.dress()
		return
	}
	m.goIdle()
}

func (m *machine) dress() {
	m.setState(mes.StateDressing)
	m.after(m.model.DressS(m.rng), func() {
		if m.model.Dressed() {
			m.changeWheel()
			return
		}
		m.goIdle()
	})
}

func (m *machine) changeWheel() {
	m.setState(mes.StateToolChange)
	m.after(m.model.WheelChangeS(m.rng), func() {
		m.newWheel()
		m.goIdle()
	})
}

func (m *machine) goIdle() {
	if m.maintReq {
		m.setState(mes.StateMaintenance)
		return
	}
	m.setState(mes.StateIdle)
	m.l.kickAutorun()
}

func (m *machine) setMaintenance(on bool) {
	m.maintReq = on
	switch {
	case on && m.state == mes.StateIdle:
		m.setState(mes.StateMaintenance)
	case !on && m.state == mes.StateMaintenance:
		m.goIdle()
	}
}

// raise records an alarm and stops what it interrupts. random marks a fault
// drawn from the MTBF.
func (m *machine) raise(code string, random bool) {
	now := m.l.now
	text := alarmFor(code)
	m.alarmSeq++
	a := &mes.Alarm{Seq: uint64(m.alarmSeq), Code: text.Code, Text: text.Text, TextZH: text.TextZH, Severity: int(text.Severity), Raised: now}
	m.ring[m.alarmSeq%pl.AlarmSlots] = a
	m.active = append(m.active, a)
	raised := *a
	m.report(mes.MachineEvent{Kind: mes.EventAlarmRaised, Alarm: &raised})
	repair := m.model.RepairS(m.rng)
	m.l.after(repair, func() { m.clear(a) })
	m.l.log.Debug("alarm raised", "machine", m.cfg.ID, "code", code, "seq", a.Seq)

	switch m.state {
	case mes.StateGrinding, mes.StateMeasuring:
		m.model.Faulted(random, now.Sub(m.job.grindStart).Seconds(), m.rng)
		m.epoch++
		m.job.aborted = true
		m.progSt = "Aborted"
		m.enterAlarm(m.requestUnload)
	case mes.StateIdle:
		m.epoch++
		m.enterAlarm(m.goIdle)
	case mes.StateDressing:
		m.epoch++
		m.enterAlarm(m.dress)
	case mes.StateToolChange:
		m.epoch++
		m.enterAlarm(m.changeWheel)
	default:
		// Robot hand-over in progress, maintenance or already in alarm: the
		// machine stops at the next hand-over (see loaded and unloaded).
		m.publishAll()
	}
}

func (m *machine) enterAlarm(resume func()) {
	m.resume = resume
	m.setState(mes.StateAlarm)
}

func (m *machine) clear(a *mes.Alarm) {
	a.Cleared = m.l.now
	m.active = slices.DeleteFunc(m.active, func(x *mes.Alarm) bool { return x == a })
	cleared := *a
	m.report(mes.MachineEvent{Kind: mes.EventAlarmCleared, Alarm: &cleared})
	m.l.log.Debug("alarm cleared", "machine", m.cfg.ID, "code", a.Code, "seq", a.Seq)
	if len(m.active) == 0 && m.state == mes.StateAlarm && m.resume != nil {
		r := m.resume
		m.resume = nil
		r()
		return
	}
	m.publishAll()
}

// measure produces the inspection result of the current bur.
func (m *machine) measure() {
	j := m.job
	p := j.prog.product
	reject := m.meas.Float64() < m.l.sim.RejectRate
	bad := m.meas.IntN(len(mes.Characteristics))
	high := m.meas.IntN(2) == 0
	vals := make(map[string]float64, len(mes.Characteristics))
	for i, ch := range mes.Characteristics {
		noise := m.meas.NormFloat64()
		off := m.meas.Float64()
		t, ok := p.Tolerances[ch]
		if !ok {
			continue
		}
		span := t.Upper - t.Lower
		v := t.Nominal + noise*span/12
		if reject && i == bad {
			if high || ch == mes.CharRadialRunout {
				v = t.Upper + span*(0.05+0.25*off)
			} else {
				v = t.Lower - span*(0.05+0.25*off)
			}
		}
		vals[ch] = math.Round(max(v, 0)*1e4) / 1e4
	}
	m.measSeq++
	m.lastMeas = &mes.Measurement{
		Seq: uint64(m.measSeq), Serial: j.serial, Station: m.cfg.ID, GaugeID: m.gaugeID,
		CalibrationDue: m.calDue, Time: m.l.now, Values: vals,
	}
	mm := *m.lastMeas
	mm.Values = maps.Clone(vals)
	m.report(mes.MachineEvent{Kind: mes.EventMeasurement, Measurement: &mm})
}

// report hands a fact to the line's observer, if any.
func (m *machine) report(ev mes.MachineEvent) {
	if m.l.observe == nil {
		return
	}
	ev.Machine, ev.SourceTime = m.cfg.ID, m.l.now
	m.l.observe(ev)
}

func (m *machine) diameter() float64 { return m.model.Wheel.DiameterMM() }

// refresh integrates energy up to now and recomputes the continuous values
// for the current state.
func (m *machine) refresh() {
	now := m.l.now
	dt := now.Sub(m.energyT).Seconds()
	if dt > 0 {
		m.energy += m.power * dt / 3600
		m.coolant += (m.coolantTarget() - m.coolant) * (1 - math.Exp(-dt/coolantTauS))
	}
	m.energyT = now
	s := now.Sub(m.l.simStart).Seconds()
	nz := func(sd float64) float64 { return sd * m.noise.NormFloat64() }
	m.speed, m.load = 0, 0
	switch m.state {
	case mes.StateGrinding:
		j := m.job
		rough := now.Sub(j.grindStart).Seconds() < j.roughS
		vc, load := 26.0, 28.0
		if rough {
			vc, load = 22.0, 57.0
		}
		m.speed = vc * 60000 / (math.Pi * m.diameter())
		m.load = math.Min(100, math.Max(0, load+m.model.Wheel.WearUM/60*8+nz(1.5)))
		j.peakLoad = max(j.peakLoad, m.load)
		gp := now.Sub(j.grindStart).Seconds() / j.grindS
		m.axes = [6]float64{95 + 12*math.Sin(2*math.Pi*s/37), 4 * math.Sin(2*math.Pi*s/23), -60 + 40*gp,
			math.Mod(s*36, 360), 25 + 8*math.Sin(2*math.Pi*s/51), math.Mod(math.Floor(gp*6)*60, 360)}
		m.power = basePowerKW + coolantPumpKW + spindleRatedKW*m.load/100
	case mes.StateMeasuring:
		m.axes = [6]float64{40, 0, -20, math.Mod(s*360, 360), 0, 0}
		m.power = 0.9
	case mes.StateDressing:
		m.speed = 18.0 * 60000 / (math.Pi * m.diameter())
		m.load = math.Max(0, 12+nz(1))
		m.axes = [6]float64{180, -40, -20, 0, 0, 0}
		m.power = basePowerKW + coolantPumpKW + spindleRatedKW*m.load/100
	case mes.StateLoading, mes.StateUnloading:
		m.axes = [6]float64{250, 0, -10, 0, 0, 0}
		m.power = basePowerKW + 0.3
	case mes.StateToolChange:
		m.axes = [6]float64{300, 0, 0, 0, 0, 0}
		m.power = basePowerKW - 0.3
	case mes.StateAlarm:
		m.power = basePowerKW - 0.5
	case mes.StateMaintenance:
		m.power = 0.4
	default:
		m.power = basePowerKW
	}
	if m.inspection && m.state != mes.StateMeasuring && m.state != mes.StateMaintenance {
		m.power = 0.6
	}
	m.power = math.Max(0, m.power*(1+nz(0.01)))
	m.progress = 0
	if j := m.job; j != nil && !j.start.IsZero() {
		m.progress = math.Min(0.999, now.Sub(j.start).Seconds()/j.plannedS)
	}
}

func (m *machine) coolantTarget() float64 {
	if m.state == mes.StateGrinding || m.state == mes.StateDressing {
		return 24.5
	}
	return ambientC
}

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}

// publishProcess stores the continuous values. l.mu is held.
func (m *machine) publishProcess() {
	set := func(k string, v any) { m.l.set(m.ep, m.vars[k], v) }
	set(pl.KeySpindleSpeed, round(m.speed, 1))
	set(pl.KeySpindleLoad, round(m.load, 2))
	set(pl.KeyIsRotating, m.speed > 0)
	set(pl.KeyCoolantTemp, round(m.coolant, 2))
	set(pl.KeyPower, round(m.power, 3))
	set(pl.KeyEnergy, m.energy)
	set(pl.KeyProgress, round(m.progress, 4))
	set(pl.KeyWheelDiameter, round(m.diameter(), 4))
	set(pl.KeyWheelWear, round(m.model.Wheel.WearUM, 3))
	for i, a := range pl.AxisNames {
		set("axis."+a, round(m.axes[i], 3))
	}
}

// publishAll stores every value of the machine. l.mu is held.
func (m *machine) publishAll() {
	set := func(k string, v any) { m.l.set(m.ep, m.vars[k], v) }
	c := m.cfg
	model := c.Model
	if model == "" {
		model = "TG-650"
	}
	set(pl.KeyManufacturer, locText("Pilotline Grinding Systems"))
	set(pl.KeySerialNumber, fmt.Sprintf("PL-%s-%04d", c.ID, 1000+m.idx))
	set(pl.KeyInstanceURI, "urn:pilotline:machine:"+c.ID)
	set(pl.KeyModel, locText(model))
	mode := int32(pl.OpModeAutomatic)
	switch m.state {
	case mes.StateMaintenance:
		mode = pl.OpModeService
	case mes.StateToolChange:
		mode = pl.OpModeSetup
	}
	set(pl.KeyOperationMode, mode)
	ch := int32(2) // Reset
	switch {
	case m.state == mes.StateAlarm:
		ch = 1 // Interrupted
	case m.job != nil:
		ch = 0 // Active
	}
	set(pl.KeyChannelState, ch)
	set(pl.KeyFeedOverride, 100.0)
	set(pl.KeySpindleOvr, 100.0)
	set(pl.KeyProgramName, m.progName)
	set(pl.KeyProgramState, locText(m.progSt))
	serial, planned, done := "", uint32(0), uint32(0)
	if m.job != nil {
		serial, planned = m.job.serial, 1
	} else if m.last != nil {
		serial, planned, done = m.last.Serial, 1, 1
	}
	set(pl.KeyJobID, serial)
	set(pl.KeyRunsPlanned, planned)
	set(pl.KeyRunsCompleted, done)
	set(pl.KeyWheelID, m.wheelID)
	set(pl.KeyWheelCtrlID, uint32(1))
	set(pl.KeyWheelLocked, m.state == mes.StateToolChange)
	set(pl.KeyState, string(m.state))
	cur := ""
	if m.job != nil {
		cur = m.job.serial
	}
	set(pl.KeySerial, cur)
	set(pl.KeyParts, m.parts)
	set(pl.KeyProgramVersion, m.progVer)
	set(pl.KeyProgramHash, m.progHash)
	set(pl.KeyDressCount, uint32(m.model.Wheel.DressCount))
	if lc := m.last; lc != nil {
		set("cycle.Seq", uint32(lc.Seq))
		set("cycle.Serial", lc.Serial)
		set("cycle.Program", lc.Program)
		set("cycle.ProgramVersion", lc.ProgramVersion)
		set("cycle.ProgramHash", lc.ProgramHash)
		set("cycle.WheelId", lc.WheelID)
		set("cycle.WheelWear", round(lc.WheelWearUM, 3))
		set("cycle.DressCount", lc.DressCount)
		set("cycle.Start", lc.Start)
		set("cycle.End", lc.End)
		set("cycle.PeakLoad", round(lc.PeakSpindleLoad, 2))
		set("cycle.Energy", lc.EnergyKWh)
		set("cycle.Aborted", lc.Aborted)
	}
	set(pl.KeyAlarmLatest, m.alarmSeq)
	for i, a := range m.ring {
		if a == nil {
			continue
		}
		p := "alarm." + strconv.Itoa(i) + "."
		set(p+"Seq", uint32(a.Seq))
		set(p+"Code", a.Code)
		set(p+"Text", a.Text)
		set(p+"TextZH", a.TextZH)
		set(p+"Severity", uint16(a.Severity))
		set(p+"Raised", a.Raised)
		set(p+"Cleared", a.Cleared)
	}
	set(pl.KeyDispatchSerial, m.disp.serial)
	set(pl.KeyDispatchProg, m.disp.program)
	set(pl.KeyDispatchVer, m.disp.version)
	set(pl.KeyDispatchSeq, m.accepted)
	set(pl.KeyDispatchAcc, m.accepted)
	if mm := m.lastMeas; mm != nil {
		set("measure.Seq", uint32(mm.Seq))
		set("measure.Serial", mm.Serial)
		set("measure.GaugeId", mm.GaugeID)
		set("measure.CalibrationDue", mm.CalibrationDue)
		set("measure.Time", mm.Time)
		set("measure.HeadDiameter", mm.Values[mes.CharHeadDiameter])
		set("measure.WorkingLength", mm.Values[mes.CharWorkingLength])
		set("measure.OverallLength", mm.Values[mes.CharOverallLength])
		set("measure.ShankDiameter", mm.Values[mes.CharShankDiameter])
		set("measure.RadialRunout", mm.Values[mes.CharRadialRunout])
	} else if m.inspection {
		set("measure.GaugeId", m.gaugeID)
		set("measure.CalibrationDue", m.calDue)
	}
	m.publishProcess()
}

func (m *machine) view() MachineView {
	v := MachineView{
		ID: m.cfg.ID, Kind: m.cfg.Kind, State: m.state, Parts: m.parts, EnergyKWh: m.energy,
		Program: m.progName, Accepted: m.accepted, ActiveAlarms: len(m.active),
		WheelID: m.wheelID, WheelDiameterMM: m.diameter(), WheelWearUM: m.model.Wheel.WearUM, DressCount: uint32(m.model.Wheel.DressCount),
		Maintenance: m.maintReq || m.state == mes.StateMaintenance,
	}
	if m.inspection {
		v.WheelDiameterMM = 0
	}
	if m.job != nil {
		v.Serial = m.job.serial
	}
	if m.last != nil {
		c := *m.last
		v.LastCycle = &c
	}
	if m.lastMeas != nil {
		c := *m.lastMeas
		c.Values = make(map[string]float64, len(m.lastMeas.Values))
		for k, x := range m.lastMeas.Values {
			c.Values[k] = x
		}
		v.LastMeasurement = &c
	}
	for i := uint32(1); i <= pl.AlarmSlots; i++ {
		seq := m.alarmSeq + i // oldest slot first
		if a := m.ring[seq%pl.AlarmSlots]; a != nil {
			v.Alarms = append(v.Alarms, *a)
		}
	}
	return v
}
