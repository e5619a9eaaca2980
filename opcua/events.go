package opcua

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
)

// objectKind is what a monitored object of the line is.
type objectKind int

const (
	objGrinder objectKind = iota
	objInspection
	objRobot
	objStation
)

// maxCounterBurst bounds how many EventCounter a single jump of the parts
// counter produces (one per part); beyond it only the final value is reported.
const maxCounterBurst = 1000

// object is one machine, robot or station of the line: its signals and what
// acquisition has seen of it so far.
//
// IMPORTANT: the "seen" fields survive reconnects, so that a counter, cycle,
// alarm or measurement is reported once however often the connection drops.
// They are only touched by the goroutine of the object's endpoint.
type object struct {
	id       string
	node     string // browse name under MA:Machines or PL:Cell
	kind     objectKind
	endpoint string
	signals  []Signal
	idx      map[string]int // signal key → index

	// last seen, kept across reconnects
	haveState   bool
	state       mes.MachineState
	mode        string
	haveCounter bool
	counter     uint64
	cycleSeq    uint64
	measureSeq  uint64
	alarms      map[uint64]alarmSeen
	lastSample  mes.Sample
	haveSample  bool
	lastRobot   mes.RobotStatus
	lastStation mes.StationStatus
	haveCell    bool
	commLostSet bool // EventCommLost emitted and not yet restored

	// umati: cycles from the production plan's RunsCompleted, alarms from events
	runs        [JobSlots]jobSeen
	progState   string    // ActiveProgram/State/CurrentState last seen
	cycleStart  time.Time // source time the running cycle began
	alarmEvents bool      // alarms arrive as events of Notification/Messages
	evAlarms    map[string]eventAlarm
	lacksLogged string          // the capabilities last logged as lacking
	missLogged  string          // the mandatory nodes last logged as unresolved
	mapped      map[int]mapping // signal index → where the configuration puts it

	dispatchMu sync.Mutex // serialises Dispatch to this machine
}

type alarmSeen struct{ raised, cleared bool }

// jobSeen is what was seen of one job of the production plan.
type jobSeen struct {
	have bool
	id   string
	runs uint64
}

func newObject(id, node, endpoint string, kind objectKind) *object {
	o := &object{id: id, node: node, endpoint: endpoint, kind: kind, alarms: map[uint64]alarmSeen{}}
	switch kind {
	case objGrinder:
		o.signals = MachineSignals(false)
	case objInspection:
		o.signals = MachineSignals(true)
	case objRobot:
		o.signals = CellSignals(true)
	case objStation:
		o.signals = CellSignals(false)
	}
	o.idx = make(map[string]int, len(o.signals))
	for i, s := range o.signals {
		o.idx[s.Key] = i
	}
	return o
}

func (o *object) isMachine() bool { return o.kind == objGrinder || o.kind == objInspection }

// snapshot is the latest value of every signal of one object; nil where the
// node is missing or unread.
type snapshot []*ua.DataValue

func good(dv *ua.DataValue) bool {
	return dv != nil && dv.Value != nil && (dv.Status == ua.StatusOK || dv.Status&0xC0000000 == 0)
}

func (o *object) raw(s snapshot, key string) (*ua.DataValue, bool) {
	i, ok := o.idx[key]
	if !ok || i >= len(s) || !good(s[i]) {
		return nil, false
	}
	return s[i], true
}

// srcTime is when the machine says the value changed: its source
// timestamp, else the server's; zero when both are null (1601 or 1970).
func srcTime(dv *ua.DataValue) time.Time {
	if dv == nil {
		return time.Time{}
	}
	if t := nullTime(dv.SourceTimestamp); !t.IsZero() {
		return t
	}
	return nullTime(dv.ServerTimestamp)
}

func (o *object) str(s snapshot, key string) string {
	dv, ok := o.raw(s, key)
	if !ok {
		return ""
	}
	switch v := dv.Value.Value().(type) {
	case string:
		return v
	case *ua.LocalizedText:
		if v == nil {
			return ""
		}
		return v.Text
	case *ua.QualifiedName:
		return v.Name
	}
	return ""
}

func (o *object) num(s snapshot, key string) float64 {
	dv, ok := o.raw(s, key)
	if !ok {
		return 0
	}
	switch v := dv.Value.Value().(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	case int32:
		return float64(v)
	case uint32:
		return float64(v)
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	case int16:
		return float64(v)
	case uint16:
		return float64(v)
	case byte:
		return float64(v)
	case int8:
		return float64(v)
	}
	return 0
}

func (o *object) uint(s snapshot, key string) uint64 {
	v := o.num(s, key)
	if v < 0 {
		return 0
	}
	return uint64(v)
}

func (o *object) boolean(s snapshot, key string) bool {
	dv, ok := o.raw(s, key)
	if !ok {
		return false
	}
	b, _ := dv.Value.Value().(bool)
	return b
}

// opcEpoch is the OPC UA DateTime zero (1601-01-01), which servers send for "not set".
var opcEpoch = time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)

// when is a DateTime signal, zero when null (see nullTime: 1601 or 1970).
func (o *object) when(s snapshot, key string) time.Time {
	dv, ok := o.raw(s, key)
	if !ok {
		return time.Time{}
	}
	return nullTime(dv.Value.Value())
}

// latestSource is the newest source timestamp among the given signals.
func (o *object) latestSource(s snapshot, keys ...string) time.Time {
	var t time.Time
	for _, k := range keys {
		if dv, ok := o.raw(s, k); ok {
			if st := srcTime(dv); st.After(t) {
				t = st
			}
		}
	}
	return t
}

// machineState maps what the machine reports onto mes states: the
// Pilotline namespace's PL:Process/State when present, else the umati active
// program state (a machine without the Pilotline namespace).
func (o *object) machineState(s snapshot) mes.MachineState {
	if st := mes.MachineState(o.str(s, KeyState)); st != "" && st.Valid() {
		return st
	}
	switch strings.ToLower(o.str(s, KeyProgramState)) {
	case "running":
		return mes.StateGrinding
	case "interrupted", "aborted":
		return mes.StateAlarm
	case "":
		return ""
	}
	return mes.StateIdle
}

// derive compares a fresh snapshot with what was seen before and returns
// the events it implies. now is the local receive time.
func (o *object) derive(s snapshot, now time.Time, log *slog.Logger) []mes.MachineEvent {
	switch o.kind {
	case objRobot:
		return o.deriveRobot(s, now)
	case objStation:
		return o.deriveStation(s, now)
	}
	var ev []mes.MachineEvent
	mk := func(kind mes.EventKind, src time.Time) mes.MachineEvent {
		if src.IsZero() {
			src = now
		}
		return mes.MachineEvent{Machine: o.id, Kind: kind, SourceTime: src, Received: now}
	}

	// state and operation mode
	if st := o.machineState(s); st != "" {
		mode := ""
		if _, ok := o.raw(s, KeyOperationMode); ok {
			mode = OperationModeName(int32(o.num(s, KeyOperationMode)))
		}
		if !o.haveState || st != o.state || mode != o.mode {
			e := mk(mes.EventState, o.latestSource(s, KeyState, KeyOperationMode, KeyProgramState))
			e.State, e.Mode = st, mode
			ev = append(ev, e)
			o.haveState, o.state, o.mode = true, st, mode
		}
	}

	// parts counter: one event per part, never twice
	parts := o.partsKey(s)
	if dv, ok := o.raw(s, parts); ok {
		n := o.uint(s, parts)
		src := srcTime(dv)
		switch {
		case !o.haveCounter:
			o.haveCounter, o.counter = true, n
			if n > 0 {
				e := mk(mes.EventCounter, src)
				e.Counter = n
				ev = append(ev, e)
			}
		case n > o.counter:
			from := o.counter + 1
			if n-o.counter > maxCounterBurst {
				from = n
			}
			for c := from; c <= n; c++ {
				e := mk(mes.EventCounter, src)
				e.Counter = c
				ev = append(ev, e)
			}
			o.counter = n
		case n < o.counter:
			log.Warn("parts counter went back; machine reset or replaced", "machine", o.id, "was", o.counter, "now", n)
			o.counter = n
		}
	}

	// last completed cycle: PL:LastCycle, or a umati machine's RunsCompleted
	if _, ok := o.raw(s, "cycle.Seq"); !ok {
		ev = append(ev, o.deriveRuns(s, mk)...)
	}
	if seq := o.uint(s, "cycle.Seq"); seq != 0 && seq != o.cycleSeq {
		c := &mes.Cycle{
			Seq:             seq,
			Serial:          o.str(s, "cycle.Serial"),
			Program:         o.str(s, "cycle.Program"),
			ProgramVersion:  o.str(s, "cycle.ProgramVersion"),
			ProgramHash:     o.str(s, "cycle.ProgramHash"),
			WheelID:         o.str(s, "cycle.WheelId"),
			WheelWearUM:     o.num(s, "cycle.WheelWear"),
			DressCount:      uint32(o.uint(s, "cycle.DressCount")),
			Start:           o.when(s, "cycle.Start"),
			End:             o.when(s, "cycle.End"),
			PeakSpindleLoad: o.num(s, "cycle.PeakLoad"),
			EnergyKWh:       o.num(s, "cycle.Energy"),
			Aborted:         o.boolean(s, "cycle.Aborted"),
		}
		src := c.End
		if src.IsZero() {
			dv, _ := o.raw(s, "cycle.Seq")
			src = srcTime(dv)
		}
		e := mk(mes.EventCycle, src)
		e.Cycle = c
		ev = append(ev, e)
		o.cycleSeq = seq
	}

	// alarm ring
	ev = append(ev, o.deriveAlarms(s, mk)...)

	// inspection result
	if o.kind == objInspection {
		if seq := o.uint(s, "measure.Seq"); seq != 0 && seq != o.measureSeq {
			m := &mes.Measurement{
				Seq:            seq,
				Serial:         o.str(s, "measure.Serial"),
				Station:        o.id,
				GaugeID:        o.str(s, "measure.GaugeId"),
				CalibrationDue: o.when(s, "measure.CalibrationDue"),
				Time:           o.when(s, "measure.Time"),
				Values: map[string]float64{
					mes.CharHeadDiameter:  o.num(s, "measure.HeadDiameter"),
					mes.CharWorkingLength: o.num(s, "measure.WorkingLength"),
					mes.CharOverallLength: o.num(s, "measure.OverallLength"),
					mes.CharShankDiameter: o.num(s, "measure.ShankDiameter"),
					mes.CharRadialRunout:  o.num(s, "measure.RadialRunout"),
				},
			}
			src := m.Time
			if src.IsZero() {
				dv, _ := o.raw(s, "measure.Seq")
				src = srcTime(dv)
			}
			e := mk(mes.EventMeasurement, src)
			e.Measurement = m
			ev = append(ev, e)
			o.measureSeq = seq
		}
	}

	// process values, reported when any of them changed: a dressing or a
	// wheel change shows here at once, not only with the next finished job.
	// A umati machine without them still reports its program and counter.
	_, process := o.raw(s, KeySpindleLoad)
	_, program := o.raw(s, KeyProgramName)
	if process || program {
		smp := mes.Sample{
			SpindleSpeed:  o.num(s, KeySpindleSpeed),
			SpindleLoad:   o.num(s, KeySpindleLoad),
			CoolantTemp:   o.num(s, KeyCoolantTemp),
			PowerKW:       o.num(s, KeyPower),
			EnergyKWh:     o.num(s, KeyEnergy),
			WheelDiameter: o.num(s, KeyWheelDiameter),
			WheelWearUM:   o.num(s, KeyWheelWear),
			Progress:      o.num(s, KeyProgress),
			Serial:        o.str(s, KeySerial),
			Program:       o.str(s, KeyProgramName),
			PartsCounter:  o.uint(s, parts),
			WheelID:       o.str(s, KeyWheelID),
			DressCount:    uint32(o.uint(s, KeyDressCount)),
		}
		for i, a := range AxisNames {
			smp.Axes[i] = o.num(s, "axis."+a)
		}
		if !o.haveSample || smp != o.lastSample {
			e := mk(mes.EventSample, o.latestSource(s, sampleKeys...))
			cp := smp
			e.Sample = &cp
			ev = append(ev, e)
			o.haveSample, o.lastSample = true, smp
		}
	}
	return ev
}

// partsKey is the machine's part counter: PL:Process/PL:PartsCounter, else
// umati's Production/Statistics/PartsProducedInLifetime.
func (o *object) partsKey(s snapshot) string {
	if _, ok := o.raw(s, KeyParts); ok {
		return KeyParts
	}
	return KeyPartsLifetime
}

// deriveRuns reports a cycle for every run a job of the production plan
// completed (RunsCompleted advanced for the same job Identifier): the cycle
// ends at the counter's source time and began when the active program
// started running or, while it runs on, when the previous cycle ended. A
// job seen first, or replaced, is a baseline, never a cycle.
func (o *object) deriveRuns(s snapshot, mk func(mes.EventKind, time.Time) mes.MachineEvent) []mes.MachineEvent {
	if dv, ok := o.raw(s, KeyProgramState); ok {
		st := o.str(s, KeyProgramState)
		if st != o.progState && strings.EqualFold(st, "Running") {
			o.cycleStart = srcTime(dv)
		}
		o.progState = st
	}
	var ev []mes.MachineEvent
	for k := range JobSlots {
		dv, ok := o.raw(s, JobKey(k, "runs_completed"))
		if !ok {
			continue
		}
		id, n := o.str(s, JobKey(k, "id")), o.uint(s, JobKey(k, "runs_completed"))
		seen := &o.runs[k]
		if !seen.have || seen.id != id || n < seen.runs {
			*seen = jobSeen{have: true, id: id, runs: n}
			continue
		}
		if n == seen.runs {
			continue
		}
		end := srcTime(dv)
		from := seen.runs + 1
		if n-seen.runs > maxCounterBurst {
			from = n
		}
		lifetime, haveLifetime := o.raw(s, KeyPartsLifetime)
		for c := from; c <= n; c++ {
			seq := uint64(end.UnixMilli())*16 + (c-from)%16
			if lt := o.uint(s, KeyPartsLifetime); haveLifetime && good(lifetime) && lt >= n-c+1 {
				seq = lt - (n - c)
			}
			cy := &mes.Cycle{Seq: seq, Program: o.str(s, KeyProgramName), End: end}
			if c == from && !o.cycleStart.IsZero() && o.cycleStart.Before(end) {
				cy.Start = o.cycleStart
			}
			e := mk(mes.EventCycle, end)
			e.Cycle = cy
			ev = append(ev, e)
		}
		seen.runs = n
		o.cycleStart = end
	}
	return ev
}

// sampleKeys are the signals of a Sample. IMPORTANT: polling reads them
// every cycle (fastKeys), so that a Sample is one instant and a change of
// any of them, the wheel's identity and dressings included, is reported
// within one poll interval.
var sampleKeys = []string{KeySpindleSpeed, KeySpindleLoad, KeyCoolantTemp, KeyPower, KeyEnergy,
	KeyWheelDiameter, KeyWheelWear, KeyProgress, KeySerial, KeyProgramName, KeyParts,
	KeyWheelID, KeyDressCount,
	"axis.X", "axis.Y", "axis.Z", "axis.A", "axis.B", "axis.C"}

func (o *object) deriveAlarms(s snapshot, mk func(mes.EventKind, time.Time) mes.MachineEvent) []mes.MachineEvent {
	var ev []mes.MachineEvent
	var inRing [AlarmSlots]uint64
	for i := range AlarmSlots {
		k := &alarmKeys[i]
		seq := o.uint(s, k.seq)
		if seq == 0 {
			continue
		}
		inRing[i] = seq
		seen := o.alarms[seq]
		cleared := o.when(s, k.cleared)
		if seen.raised && (seen.cleared || cleared.IsZero()) {
			continue // nothing new: no need to look at the other fields
		}
		a := mes.Alarm{
			Seq:      seq,
			Code:     o.str(s, k.code),
			Text:     o.str(s, k.text),
			TextZH:   o.str(s, k.textZH),
			Severity: int(o.num(s, k.severity)),
			Raised:   o.when(s, k.raised),
			Cleared:  cleared,
		}
		if !seen.raised {
			e := mk(mes.EventAlarmRaised, a.Raised)
			ac := a
			e.Alarm = &ac
			ev = append(ev, e)
			seen.raised = true
		}
		if !a.Cleared.IsZero() && !seen.cleared {
			e := mk(mes.EventAlarmCleared, a.Cleared)
			ac := a
			e.Alarm = &ac
			ev = append(ev, e)
			seen.cleared = true
		}
		o.alarms[seq] = seen
	}
	// forget alarms that left the ring: their sequence numbers never come back
	for seq := range o.alarms {
		if !slices.Contains(inRing[:], seq) {
			delete(o.alarms, seq)
		}
	}
	return ev
}

func (o *object) deriveRobot(s snapshot, now time.Time) []mes.MachineEvent {
	if _, ok := o.raw(s, "State"); !ok {
		return nil
	}
	r := mes.RobotStatus{State: mes.MachineState(o.str(s, "State")), At: o.str(s, "At"), Target: o.str(s, "Target"), Bur: o.str(s, "Bur")}
	if o.haveCell && r == o.lastRobot {
		return nil
	}
	o.haveCell, o.lastRobot = true, r
	src := o.latestSource(s, "State", "At", "Target", "Bur")
	if src.IsZero() {
		src = now
	}
	return []mes.MachineEvent{{Machine: o.id, Kind: mes.EventRobot, SourceTime: src, Received: now, State: r.State, Robot: &r}}
}

func (o *object) deriveStation(s snapshot, now time.Time) []mes.MachineEvent {
	if _, ok := o.raw(s, "Count"); !ok {
		return nil
	}
	st := mes.StationStatus{Count: o.uint(s, "Count"), LastSerial: o.str(s, "LastSerial")}
	if o.haveCell && st == o.lastStation {
		return nil
	}
	o.haveCell, o.lastStation = true, st
	src := o.latestSource(s, "Count", "LastSerial")
	if src.IsZero() {
		src = now
	}
	return []mes.MachineEvent{{Machine: o.id, Kind: mes.EventStation, SourceTime: src, Received: now, Station: &st}}
}

// lost marks the object as unreachable and returns EventCommLost once per outage.
func (o *object) lost(now time.Time, reason string) []mes.MachineEvent {
	if o.commLostSet {
		return nil
	}
	o.commLostSet = true
	// a state event follows on recovery even if the machine did not change
	o.haveState, o.state = true, mes.StateCommLost
	o.haveCell = false
	return []mes.MachineEvent{{Machine: o.id, Kind: mes.EventCommLost, SourceTime: now, Received: now, State: mes.StateCommLost, Reason: reason}}
}

// restored returns EventCommRestored if a loss was reported.
func (o *object) restored(now time.Time) []mes.MachineEvent {
	if !o.commLostSet {
		return nil
	}
	o.commLostSet = false
	return []mes.MachineEvent{{Machine: o.id, Kind: mes.EventCommRestored, SourceTime: now, Received: now}}
}
