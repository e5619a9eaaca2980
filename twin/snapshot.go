package twin

import (
	"time"

	"github.com/pilotline/pilotline/mes"
)

// Communication status of a machine as the twin sees it.
const (
	CommNever = "never" // no data since the twin started
	CommOK    = "ok"    // data arriving
	CommLost  = "lost"  // acquisition reported the machine lost
	CommStale = "stale" // nothing heard for longer than HubOptions.StaleAfter
)

// TimelineWindow is how much state history each grinder keeps for the
// timeline strip, measured on the line clock (source time).
const TimelineWindow = time.Hour

// Snapshot is the whole live line as one JSON document. It is what a viewer
// receives on connect and what GET /api/v1/line serves.
//
// IMPORTANT: the JSON field names are the stream's protocol (documented in
// the README); deltas carry changed fields under the same names.
type Snapshot struct {
	Type       string            `json:"type"` // "snapshot"
	Seq        uint64            `json:"seq"`
	Time       time.Time         `json:"time"`             // line clock: latest source time seen
	Src        time.Time         `json:"src,omitzero"`     // source time of the latest change
	Line       LineInfo          `json:"line"`             // static layout
	Grinders   []Grinder         `json:"grinders"`         // configuration order
	Robots     []Robot           `json:"robots"`           // configuration order
	Inspection Inspection        `json:"inspection"`       // the inspection station
	Magazine   Magazine          `json:"magazine"`         // blank magazine
	Output     Output            `json:"output"`           // output tray
	Production Production        `json:"production"`       // MES side: takt, OEE, batches
	Timeline   map[string][]Span `json:"timeline"`         // grinder id → last hour of states, oldest first
	Filter     *Filter           `json:"filter,omitempty"` // the viewer's filter, if any
}

// LineInfo is the static part of the line the floor plan is drawn from.
type LineInfo struct {
	Name     string      `json:"name"`
	NameZH   string      `json:"name_zh,omitempty"`
	TaktS    float64     `json:"takt_s"`
	Groups   []GroupInfo `json:"groups"`
	Stations []Place     `json:"stations"` // inspection, magazine, output with their floor positions
}

// GroupInfo names a machine group.
type GroupInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	NameZH string `json:"name_zh,omitempty"`
}

// Place is a station on the floor plan.
type Place struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Row      int    `json:"row"`
	Col      int    `json:"col"`
	Capacity int    `json:"capacity,omitempty"`
}

// Span is one stretch of a grinder's state timeline: it lasts from From
// until the next span's From (or now, for the last one).
type Span struct {
	ID    string           `json:"id,omitempty"` // grinder; set in deltas only
	State mes.MachineState `json:"state"`
	From  time.Time        `json:"from"`
}

// Grinder is the live state of one grinder.
type Grinder struct {
	ID             string           `json:"id"`
	Row            int              `json:"row"`
	Col            int              `json:"col"`
	Group          string           `json:"group"`
	Model          string           `json:"model"`
	State          mes.MachineState `json:"state"`
	Since          time.Time        `json:"since"` // when State began
	Mode           string           `json:"mode"`
	Program        string           `json:"program"`
	ProgramVersion string           `json:"program_version"`
	Serial         string           `json:"serial"` // bur in the machine, "" when empty
	Batch          string           `json:"batch"`  // batch of Serial
	Progress       float64          `json:"progress"`
	SpindleRPM     float64          `json:"spindle_rpm"`
	SpindleLoad    float64          `json:"spindle_load_pct"`
	CoolantC       float64          `json:"coolant_c"`
	WheelID        string           `json:"wheel_id"`
	WheelDiameter  float64          `json:"wheel_diameter_mm"`
	WheelWearUM    float64          `json:"wheel_wear_um"`
	DressCount     uint32           `json:"dress_count"`
	Counter        uint64           `json:"counter"` // the machine's part counter
	Today          int              `json:"today"`   // good jobs completed today (line clock, local day)
	Alarms         []mes.Alarm      `json:"alarms"`  // active, oldest first
	AlarmHistory   []mes.Alarm      `json:"alarm_history"`
	Acks           []AlarmAck       `json:"acks"` // acknowledgements of the alarms above
	Comm           string           `json:"comm"` // CommNever, CommOK, CommLost, CommStale
	CommReason     string           `json:"comm_reason"`
	LastData       time.Time        `json:"last_data"` // source time of the latest data from the machine
	Cycles         []CycleSummary   `json:"cycles"`    // last parts, oldest first
	OEE            *OEE             `json:"oee"`       // from the MES, nil until known
}

// CycleSummary is one finished job for the cycle-time chart.
type CycleSummary struct {
	Serial  string    `json:"serial"`
	CycleS  float64   `json:"cycle_s"`
	End     time.Time `json:"end"`
	Aborted bool      `json:"aborted,omitempty"`
}

// Robot is the live state of one robot arm.
type Robot struct {
	ID     string           `json:"id"`
	Row    int              `json:"row"`
	Serves []string         `json:"serves"`
	State  mes.MachineState `json:"state"`
	At     string           `json:"at"`
	Target string           `json:"target"`
	Bur    string           `json:"bur"`
}

// Inspection is the live state of the inspection station.
type Inspection struct {
	ID       string           `json:"id"`
	State    mes.MachineState `json:"state"`
	Since    time.Time        `json:"since"`
	Comm     string           `json:"comm"`
	LastData time.Time        `json:"last_data"`
	Alarms   []mes.Alarm      `json:"alarms"`
	Acks     []AlarmAck       `json:"acks"` // acknowledgements of the active alarms
	Last     *Result          `json:"last"` // latest measurement
	Passed   int              `json:"passed"`
	Failed   int              `json:"failed"`
}

// AlarmAck is someone's acknowledgement of an alarm: who and when, shown
// to every viewer (the audit trail keeps it for good).
type AlarmAck struct {
	Seq  uint64    `json:"seq"`  // the alarm's Seq
	By   string    `json:"by"`   // user id
	Name string    `json:"name"` // printed name
	At   time.Time `json:"at"`
}

// Result is an inspection result with its verdict.
type Result struct {
	Serial string             `json:"serial"`
	Time   time.Time          `json:"time"`
	Values map[string]float64 `json:"values"` // characteristic → mm
	Pass   bool               `json:"pass"`
	Failed []string           `json:"failed"` // characteristics out of tolerance
}

// Magazine is the blank magazine.
type Magazine struct {
	ID       string `json:"id"`
	Count    uint64 `json:"count"`
	Capacity int    `json:"capacity"`
}

// Output is the output tray.
type Output struct {
	ID          string    `json:"id"`
	Count       uint64    `json:"count"`
	Capacity    int       `json:"capacity"`
	LastSerials []string  `json:"last_serials"` // newest first
	LastTime    time.Time `json:"last_time"`
}

// Production is what the MES knows about the line's output: takt, OEE,
// burs today, energy per bur and the running batches. The MES sets it with
// SetProduction; zero fields are filled from the twin's own observations
// (takt from output tray arrivals, burs today from the tray, energy per bur
// from the grinders' cycles).
type Production struct {
	// Period is what "today" means for BursToday, GoodToday, the OEE
	// figures and every grinder's Today: the MES's shift, or the local day.
	Period          Period          `json:"period"`
	Takt            Takt            `json:"takt"`
	BursToday       int             `json:"burs_today"`
	GoodToday       int             `json:"good_today"`
	EnergyPerBurKWh float64         `json:"energy_per_bur_kwh"`
	CarbonPerBurKg  float64         `json:"carbon_per_bur_kg"`
	OEE             *OEE            `json:"oee"`                // whole line, nil until known
	Grinders        map[string]OEE  `json:"grinders,omitempty"` // per grinder; moved onto Grinder.OEE in snapshots
	Batches         []BatchProgress `json:"batches"`            // running (and held) batches
}

// Period kinds.
const (
	PeriodShift = "shift" // a configured shift, named
	PeriodDay   = "day"   // the local calendar day
)

// Period is a stretch of line time that counts start from.
type Period struct {
	Kind string    `json:"kind"`           // PeriodShift or PeriodDay
	Name string    `json:"name,omitempty"` // the shift's name
	From time.Time `json:"from"`
}

// Takt is the line's pace: the target and where it comes from (the KPI
// engine's target source: "demand", "schedule", "config", "overdue" or
// "no_demand"; empty: the configured takt), the latest interval between two
// good burs leaving the line and a rolling mean, all in seconds per bur.
type Takt struct {
	TargetS  float64 `json:"target_s"`
	Source   string  `json:"source,omitempty"`
	LastS    float64 `json:"last_s"`
	RollingS float64 `json:"rolling_s"`
}

// OEE is overall equipment effectiveness with its three ISO 22400 factors,
// each a fraction (0.87 = 87 %).
type OEE struct {
	Availability float64 `json:"availability"`
	Performance  float64 `json:"performance"`
	Quality      float64 `json:"quality"`
	OEE          float64 `json:"oee"`
}

// BatchProgress is a running batch and how far it is.
type BatchProgress struct {
	ID            string         `json:"id"`
	Product       string         `json:"product"`
	ProductName   string         `json:"product_name"`
	ProductNameZH string         `json:"product_name_zh,omitempty"`
	Org           string         `json:"org"`
	State         mes.BatchState `json:"state"`
	Quantity      int            `json:"quantity"`
	Started       int            `json:"started"`
	Completed     int            `json:"completed"`
	Scrap         int            `json:"scrap"`
}
