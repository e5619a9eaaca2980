package mes

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// MachineState is what a grinder, the inspection station or a robot is doing.
// The values are the simulator's and the MES's common language; a real
// machine's umati states are mapped onto them by the acquisition adapter.
type MachineState string

// Machine states. Grinders use all but StateMeasuring and StateMoving;
// the inspection station uses idle, loading, measuring, unloading, alarm;
// robots use idle, moving, loading, unloading.
const (
	StateIdle        MachineState = "idle"        // powered, waiting for a job
	StateLoading     MachineState = "loading"     // robot loads a blank or bur
	StateGrinding    MachineState = "grinding"    // value-adding: roughing or finishing
	StateUnloading   MachineState = "unloading"   // robot unloads the bur
	StateDressing    MachineState = "dressing"    // wheel dressing every N parts
	StateToolChange  MachineState = "tool_change" // grinding wheel change
	StateAlarm       MachineState = "alarm"       // stopped by a fault
	StateStarved     MachineState = "starved"     // waiting for material
	StateBlocked     MachineState = "blocked"     // cannot hand over the finished part
	StateMaintenance MachineState = "maintenance" // planned downtime
	StateMeasuring   MachineState = "measuring"   // inspection station measuring a bur
	StateMoving      MachineState = "moving"      // robot travelling
	StateCommLost    MachineState = "comm_lost"   // no data from the machine (set by acquisition, never by a machine)
	StateOffline     MachineState = "offline"     // never seen since start
)

// Valid reports whether s is one of the known states.
func (s MachineState) Valid() bool {
	switch s {
	case StateIdle, StateLoading, StateGrinding, StateUnloading, StateDressing, StateToolChange,
		StateAlarm, StateStarved, StateBlocked, StateMaintenance, StateMeasuring, StateMoving,
		StateCommLost, StateOffline:
		return true
	}
	return false
}

// EventKind classifies a MachineEvent.
type EventKind string

// Event kinds produced by acquisition.
const (
	EventState        EventKind = "state"         // State (and Mode) changed
	EventCounter      EventKind = "counter"       // the machine's part counter advanced to Counter
	EventCycle        EventKind = "cycle"         // a job (operation on one bur) completed: Cycle
	EventAlarmRaised  EventKind = "alarm_raised"  // Alarm raised
	EventAlarmCleared EventKind = "alarm_cleared" // Alarm cleared
	EventMeasurement  EventKind = "measurement"   // inspection result: Measurement
	EventSample       EventKind = "sample"        // process values: Sample (not stored forever, see retention)
	EventCommLost     EventKind = "comm_lost"     // acquisition lost the machine
	EventCommRestored EventKind = "comm_restored" // acquisition reached the machine again
	EventRobot        EventKind = "robot"         // a robot moved or picked/placed: Robot
	EventStation      EventKind = "station"       // magazine / output tray level changed: Station
)

// MachineEvent is one fact reported by a machine (or by acquisition about a
// machine), with the machine's own source timestamp.
//
// IMPORTANT: events are idempotent by Key(): the same fact delivered twice
// (reconnect, replay, subscription and poll overlap) must be stored once.
type MachineEvent struct {
	Machine     string         `json:"machine"`               // G01…G25, QC1, R1…R5, MAG, OUT
	Kind        EventKind      `json:"kind"`                  // what happened
	SourceTime  time.Time      `json:"source_time"`           // when the machine says it happened
	Received    time.Time      `json:"received,omitzero"`     // when acquisition received it
	State       MachineState   `json:"state,omitempty"`       // EventState
	Mode        string         `json:"mode,omitempty"`        // umati MachineToolOperationMode name, EventState
	Counter     uint64         `json:"counter,omitempty"`     // EventCounter: the machine's part counter
	Alarm       *Alarm         `json:"alarm,omitempty"`       // EventAlarmRaised / EventAlarmCleared
	Cycle       *Cycle         `json:"cycle,omitempty"`       // EventCycle
	Measurement *Measurement   `json:"measurement,omitempty"` // EventMeasurement
	Sample      *Sample        `json:"sample,omitempty"`      // EventSample
	Robot       *RobotStatus   `json:"robot,omitempty"`       // EventRobot
	Station     *StationStatus `json:"station,omitempty"`     // EventStation
	Reason      string         `json:"reason,omitempty"`      // EventCommLost: why
}

// Key is the event's idempotency key: equal for the same fact however often
// it is delivered, different for different facts.
func (e MachineEvent) Key() string {
	t := strconv.FormatInt(e.SourceTime.UnixNano(), 10)
	switch e.Kind {
	case EventCounter:
		return fmt.Sprintf("%s|%s|%d", e.Machine, e.Kind, e.Counter)
	case EventCycle:
		if e.Cycle != nil {
			return fmt.Sprintf("%s|%s|%d", e.Machine, e.Kind, e.Cycle.Seq)
		}
	case EventAlarmRaised, EventAlarmCleared:
		if e.Alarm != nil {
			return fmt.Sprintf("%s|%s|%d", e.Machine, e.Kind, e.Alarm.Seq)
		}
	case EventMeasurement:
		if e.Measurement != nil {
			return fmt.Sprintf("%s|%s|%d", e.Machine, e.Kind, e.Measurement.Seq)
		}
	case EventState:
		return fmt.Sprintf("%s|%s|%s|%s", e.Machine, e.Kind, t, e.State)
	}
	return fmt.Sprintf("%s|%s|%s", e.Machine, e.Kind, t)
}

// Alarm is a machine fault or message. Seq is the machine's own alarm
// sequence number, unique per machine (it survives acquisition restarts).
type Alarm struct {
	Seq      uint64    `json:"seq"`
	Code     string    `json:"code"` // e.g. "E2103"
	Text     string    `json:"text"` // the machine's text (English)
	TextZH   string    `json:"text_zh,omitempty"`
	Severity int       `json:"severity"` // OPC UA severity 1..1000
	Raised   time.Time `json:"raised"`
	Cleared  time.Time `json:"cleared,omitzero"`
}

// Cycle is one completed job on a machine: one operation on one bur.
// Seq is the machine's part counter after the job, so it is unique per machine.
type Cycle struct {
	Seq             uint64    `json:"seq"`
	Serial          string    `json:"serial"`
	Program         string    `json:"program"`
	ProgramVersion  string    `json:"program_version"`
	ProgramHash     string    `json:"program_hash,omitempty"`
	WheelID         string    `json:"wheel_id,omitempty"`
	WheelWearUM     float64   `json:"wheel_wear_um"` // radial wear since last dressing, µm
	DressCount      uint32    `json:"dress_count"`   // dressings of this wheel so far
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	PeakSpindleLoad float64   `json:"peak_spindle_load_pct"` // % of rated
	EnergyKWh       float64   `json:"energy_kwh"`            // energy-counter delta over the job
	Aborted         bool      `json:"aborted,omitempty"`     // job ended by an alarm: bur is scrap
}

// CycleTime is End − Start.
func (c Cycle) CycleTime() time.Duration { return c.End.Sub(c.Start) }

// QA characteristics measured on every bur, in millimetres.
const (
	CharHeadDiameter  = "head_diameter"
	CharWorkingLength = "working_length"
	CharOverallLength = "overall_length"
	CharShankDiameter = "shank_diameter"
	CharRadialRunout  = "radial_runout"
)

// Characteristics lists the QA characteristics in their report order.
var Characteristics = []string{CharHeadDiameter, CharWorkingLength, CharOverallLength, CharShankDiameter, CharRadialRunout}

// Measurement is the inspection station's result for one bur.
type Measurement struct {
	Seq            uint64             `json:"seq"`
	Serial         string             `json:"serial"`
	Station        string             `json:"station"`
	GaugeID        string             `json:"gauge_id"`
	CalibrationDue time.Time          `json:"calibration_due"`
	Time           time.Time          `json:"time"`
	Values         map[string]float64 `json:"values"` // characteristic → mm
}

// Sample is a set of process values read at one instant.
//
// WheelID and DressCount describe the mounted grinding wheel, so a dressing
// or a wheel change is seen when it happens, not only with the next
// finished job (Cycle). A Sample with an empty WheelID says nothing about
// the wheel: DressCount is then meaningless (samples stored before the
// fields existed decode that way).
type Sample struct {
	SpindleSpeed  float64    `json:"spindle_rpm"`
	SpindleLoad   float64    `json:"spindle_load_pct"`
	CoolantTemp   float64    `json:"coolant_c"`
	PowerKW       float64    `json:"power_kw"`
	EnergyKWh     float64    `json:"energy_kwh"` // monotonic counter
	WheelDiameter float64    `json:"wheel_diameter_mm"`
	WheelWearUM   float64    `json:"wheel_wear_um"`
	Progress      float64    `json:"progress"` // 0..1 of the current cycle
	Serial        string     `json:"serial,omitempty"`
	Program       string     `json:"program,omitempty"`
	Axes          [6]float64 `json:"axes"` // X Y Z mm, A B C degrees
	PartsCounter  uint64     `json:"parts"`
	WheelID       string     `json:"wheel_id,omitempty"`
	DressCount    uint32     `json:"dress_count"` // dressings of WheelID since it was mounted
}

// RobotStatus is where a robot arm is and what it carries.
type RobotStatus struct {
	State  MachineState `json:"state"`
	At     string       `json:"at"`     // machine or station id it is at or leaving
	Target string       `json:"target"` // machine or station id it is moving to
	Bur    string       `json:"bur,omitempty"`
}

// StationStatus is the level of a passive station (magazine, output tray).
type StationStatus struct {
	Count      uint64 `json:"count"` // blanks left (magazine) / burs delivered (tray)
	LastSerial string `json:"last_serial,omitempty"`
}

// EventSink receives machine events from acquisition. Implementations must
// not block the caller for long; the store's group-commit writer acknowledges
// only after the events are durable.
type EventSink interface {
	// Publish hands events over. It returns once they are accepted
	// (and, for a durable sink, committed). Errors: EINTERNAL.
	Publish(ctx context.Context, events ...MachineEvent) error
}

// Job is what the MES dispatches to a machine: one operation on one bur.
type Job struct {
	Machine        string `json:"machine"`
	Serial         string `json:"serial"`
	Program        string `json:"program"`
	ProgramVersion string `json:"program_version"`
	Operation      int    `json:"operation"` // operation number on the route, e.g. 20
	Batch          string `json:"batch"`
}

// MachineWriter writes dispatch to machines (the acquisition adapter).
type MachineWriter interface {
	// Dispatch writes job to its machine and checks every status code.
	// Errors: ENOTFOUND (unknown machine), ECONFLICT (machine not ready or
	// the write was rejected), EINTERNAL (communication).
	Dispatch(ctx context.Context, job Job) error
}
