package mqtt

import (
	"encoding/json"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// Topics of the unified namespace below UNSRoot ({enterprise}/{site}/{area}/{line}).
const (
	TopicLineState   = "state"              // retained: LineState
	TopicCellState   = "state"              // {cell}/state, retained: CellState
	TopicCellProcess = "process"            // {cell}/process, retained: CellProcess (at most every ProcessInterval)
	TopicBurFinished = "event/bur-finished" // {cell}/event/bur-finished: BurFinished
	TopicAlarm       = "event/alarm"        // {cell}/event/alarm: AlarmEvent
	TopicMeasurement = "event/measurement"  // {cell}/event/measurement: MeasurementEvent
	TopicBatch       = "event/batch"        // event/batch: BatchTransition
	TopicKPI         = "event/kpi"          // event/kpi: KPIEvent, every KPIInterval
)

// LineState is the retained state of the whole line.
type LineState struct {
	Line       string         `json:"line"`
	Name       string         `json:"name"`
	TwinURL    string         `json:"twin_url,omitempty"`
	States     map[string]int `json:"grinder_states"` // grinder state → how many
	Alarms     []string       `json:"alarms"`         // machines with an active alarm
	Figures    *Figures       `json:"figures,omitempty"`
	SourceTime time.Time      `json:"source_time"`
}

// CellState is the retained state of one machine, robot or station.
type CellState struct {
	Cell       string    `json:"cell"`
	Kind       string    `json:"kind"`
	State      string    `json:"state,omitempty"`
	Mode       string    `json:"mode,omitempty"`
	CommOK     bool      `json:"comm_ok"`
	Counter    uint64    `json:"parts_counter,omitempty"`
	Alarm      string    `json:"alarm,omitempty"` // active alarm code
	Count      uint64    `json:"count,omitempty"` // stations: parts on hand or delivered
	SourceTime time.Time `json:"source_time"`
}

// CellProcess is a grinder's latest process values.
type CellProcess struct {
	Cell          string    `json:"cell"`
	SpindleRPM    float64   `json:"spindle_rpm"`
	SpindleLoad   float64   `json:"spindle_load_pct"`
	CoolantC      float64   `json:"coolant_c"`
	PowerKW       float64   `json:"power_kw"`
	EnergyKWh     float64   `json:"energy_kwh"`
	WheelDiameter float64   `json:"wheel_diameter_mm"`
	WheelWearUM   float64   `json:"wheel_wear_um"`
	Serial        string    `json:"serial,omitempty"`
	Program       string    `json:"program,omitempty"`
	SourceTime    time.Time `json:"source_time"`
}

// BurFinished is one operation finished on one bur.
type BurFinished struct {
	Cell          string    `json:"cell"`
	Serial        string    `json:"serial"`
	Operation     int       `json:"operation,omitempty"` // route operation number, when the program names one
	OperationName string    `json:"operation_name,omitempty"`
	Program       string    `json:"program"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	CycleS        float64   `json:"cycle_s"`
	EnergyKWh     float64   `json:"energy_kwh"`
	Aborted       bool      `json:"aborted,omitempty"`
	Counter       uint64    `json:"counter"` // the machine's part counter: unique per cell
}

// AlarmEvent is an alarm raised or cleared.
type AlarmEvent struct {
	Cell     string    `json:"cell"`
	Raised   bool      `json:"raised"`
	Seq      uint64    `json:"seq"`
	Code     string    `json:"code"`
	Text     string    `json:"text"`
	Severity int       `json:"severity"`
	Time     time.Time `json:"time"`
}

// MeasurementEvent is the inspection result of one bur.
type MeasurementEvent struct {
	Cell   string             `json:"cell"`
	Serial string             `json:"serial"`
	Values map[string]float64 `json:"values_mm"`
	Time   time.Time          `json:"time"`
}

// BatchTransition is a batch moving from one state to another.
type BatchTransition struct {
	Batch   string    `json:"batch"`
	Product string    `json:"product"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Seen    time.Time `json:"seen"` // when the transition was seen (within ProductionInterval of it)
}

// KPIEvent is the line's figures once a minute.
type KPIEvent struct {
	Time time.Time `json:"time"`
	Figures
}

// Figures are the line's production figures of the current shift, as the
// twin shows them.
type Figures struct {
	TaktTargetS         float64  `json:"takt_target_s"`
	TaktS               float64  `json:"takt_s"` // rolling mean
	OEE                 *float64 `json:"oee,omitempty"`
	Availability        *float64 `json:"availability,omitempty"`
	Performance         *float64 `json:"performance,omitempty"`
	Quality             *float64 `json:"quality,omitempty"`
	OutputToday         uint64   `json:"output_today"`
	GoodToday           uint64   `json:"good_today"`
	EnergyPerGoodBurKWh float64  `json:"energy_per_good_bur_kwh"`
	Batches             []Batch  `json:"-"` // every batch, for transitions
}

// Batch is what the publisher needs of a batch to report its transitions.
type Batch struct {
	ID      string
	Product string
	State   mes.BatchState
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain structs are marshalled
	}
	return b
}
