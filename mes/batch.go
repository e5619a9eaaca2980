package mes

import "time"

// BatchState is the state of a batch (work order).
//
//	planned → released → running ⇄ held → completed → qa_released | rejected
//
// released ⇄ held is allowed too; planned and released batches can be cancelled
// (→ rejected is QA's, cancelled is the planner's).
type BatchState string

// Batch states.
const (
	BatchPlanned    BatchState = "planned"
	BatchReleased   BatchState = "released"
	BatchRunning    BatchState = "running"
	BatchHeld       BatchState = "held"
	BatchCompleted  BatchState = "completed"
	BatchQAReleased BatchState = "qa_released"
	BatchRejected   BatchState = "rejected"
	BatchCancelled  BatchState = "cancelled"
)

// Transition is one recorded change of a batch's state.
type Transition struct {
	From   BatchState `json:"from"`
	To     BatchState `json:"to"`
	By     string     `json:"by"` // user name, or "system"
	At     time.Time  `json:"at"`
	Reason string     `json:"reason,omitempty"`
}

// Batch is a work order: Quantity burs of one product for one customer organisation.
type Batch struct {
	ID           string       `json:"id"`      // assigned by the store, e.g. "B000001"
	Product      string       `json:"product"` // Product.ISO
	Quantity     int          `json:"quantity"`
	GoodRequired bool         `json:"good_required"` // replace scrapped burs until Quantity are good
	Org          string       `json:"org"`           // customer organisation (tenant)
	BlankLot     string       `json:"blank_lot"`     // carbide blank lot
	PlannedStart time.Time    `json:"planned_start"`
	PlannedEnd   time.Time    `json:"planned_end"`
	State        BatchState   `json:"state"`
	Transitions  []Transition `json:"transitions"`
	Created      time.Time    `json:"created"`

	// Counts, maintained by the store as burs progress.
	Started   int `json:"started"`   // burs created (blanks taken)
	Completed int `json:"completed"` // good burs made
	Scrap     int `json:"scrap"`
	Rework    int `json:"rework"`
}

// BatchFilter selects batches. Zero fields match everything.
type BatchFilter struct {
	Org    string
	States []BatchState
}

// BurDisposition is the final verdict on a bur.
type BurDisposition string

// Bur dispositions.
const (
	BurInProcess BurDisposition = "in_process"
	BurGood      BurDisposition = "good"
	BurScrap     BurDisposition = "scrap"
	BurRework    BurDisposition = "rework"
)

// Bur is one serialised dental bur and its genealogy.
type Bur struct {
	Serial      string            `json:"serial"`
	Batch       string            `json:"batch"`
	Product     string            `json:"product"`
	Seq         int               `json:"seq"` // 1-based within the batch
	BlankLot    string            `json:"blank_lot"`
	Operations  []OperationRecord `json:"operations"`        // in route order, one per completed operation
	NextOp      int               `json:"next_op"`           // index into the route of the next operation; len(route) when done
	Machine     string            `json:"machine,omitempty"` // machine it is dispatched to, "" when waiting
	Measurement *Measurement      `json:"measurement,omitempty"`
	Results     []CharResult      `json:"results,omitempty"` // pass/fail per characteristic
	Disposition BurDisposition    `json:"disposition"`
	ScrapReason string            `json:"scrap_reason,omitempty"`
	Created     time.Time         `json:"created"`
	Finished    time.Time         `json:"finished,omitzero"`
}

// OperationRecord is the genealogy of one operation on one bur.
type OperationRecord struct {
	Number          int       `json:"number"`
	Name            string    `json:"name"`
	Machine         string    `json:"machine"`
	CycleSeq        uint64    `json:"cycle_seq"` // the machine's part counter for this job
	Program         string    `json:"program"`
	ProgramVersion  string    `json:"program_version"`
	ProgramHash     string    `json:"program_hash,omitempty"`
	WheelID         string    `json:"wheel_id,omitempty"`
	WheelWearUM     float64   `json:"wheel_wear_um"`
	DressCount      uint32    `json:"dress_count"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	CycleS          float64   `json:"cycle_s"`
	PeakSpindleLoad float64   `json:"peak_spindle_load_pct"`
	EnergyKWh       float64   `json:"energy_kwh"`
	Aborted         bool      `json:"aborted,omitempty"`
}

// CharResult is one measured characteristic against its tolerance.
type CharResult struct {
	Characteristic string  `json:"characteristic"`
	Value          float64 `json:"value_mm"`
	Nominal        float64 `json:"nominal_mm"`
	Lower          float64 `json:"lsl_mm"`
	Upper          float64 `json:"usl_mm"`
	Pass           bool    `json:"pass"`
}
