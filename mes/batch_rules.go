package mes

import (
	"slices"
	"strings"
	"time"
)

// batchTransitions lists, for each state, the states a batch may move to.
// Terminal states (qa_released, rejected, cancelled) have none.
//
// held → completed exists because burs already on the machines when a batch
// is held still finish and are measured; the last of them may complete it.
var batchTransitions = map[BatchState][]BatchState{
	BatchPlanned:   {BatchReleased, BatchCancelled},
	BatchReleased:  {BatchRunning, BatchHeld, BatchCancelled},
	BatchRunning:   {BatchHeld, BatchCompleted},
	BatchHeld:      {BatchRunning, BatchReleased, BatchCompleted},
	BatchCompleted: {BatchQAReleased, BatchRejected},
}

// Valid reports whether s is one of the known batch states.
func (s BatchState) Valid() bool {
	switch s {
	case BatchPlanned, BatchReleased, BatchRunning, BatchHeld, BatchCompleted,
		BatchQAReleased, BatchRejected, BatchCancelled:
		return true
	}
	return false
}

// Terminal reports whether no transition leaves s.
func (s BatchState) Terminal() bool { return s.Valid() && len(batchTransitions[s]) == 0 }

// Dispatchable reports whether burs of a batch in state s may be started or
// sent to machines.
func (s BatchState) Dispatchable() bool { return s == BatchReleased || s == BatchRunning }

// CanTransition reports whether a batch may move from state from to state to.
func CanTransition(from, to BatchState) bool {
	return slices.Contains(batchTransitions[from], to)
}

// Transition moves the batch to state to and records who did it, when and
// why. Errors: EINVALID (unknown state, no actor), ECONFLICT (not allowed
// from the current state); the batch is unchanged on error.
//
// IMPORTANT: this is the only way a batch's State changes, so every change
// is in Transitions (ISO 13485 §7.5.1, 21 CFR 11.10(e) audit trail). A
// transition is never stamped earlier than the one it follows: an earlier at
// (a caller's stale clock reading) takes the previous transition's time, so
// the history reads in the order it happened.
func (b *Batch) Transition(to BatchState, by, reason string, at time.Time) error {
	if !to.Valid() {
		return Errorf(EINVALID, "state: unknown batch state %q", to)
	}
	if strings.TrimSpace(by) == "" {
		return Errorf(EINVALID, "by: who changes the batch state is required")
	}
	if at.IsZero() {
		return Errorf(EINVALID, "at: the time of the transition is required")
	}
	if !CanTransition(b.State, to) {
		return Errorf(ECONFLICT, "batch %s is %s: cannot move to %s", b.ID, b.State, to)
	}
	if n := len(b.Transitions); n > 0 {
		at = Later(at, b.Transitions[n-1].At)
	}
	b.Transitions = append(b.Transitions, Transition{From: b.State, To: to, By: by, At: at, Reason: reason})
	b.State = to
	return nil
}

// ResumeState is the state a held batch returns to when it is resumed: the
// state it was in when the hold was placed, or "" if the batch is not held.
func (b *Batch) ResumeState() BatchState {
	if b.State != BatchHeld {
		return ""
	}
	for i := len(b.Transitions) - 1; i >= 0; i-- {
		if t := b.Transitions[i]; t.To == BatchHeld && t.From != BatchHeld {
			return t.From
		}
	}
	return BatchReleased
}

// NeedsBlank reports whether another bur must be started for the batch to
// reach its quantity: with GoodRequired, scrapped burs are replaced.
func (b *Batch) NeedsBlank() bool {
	if b.GoodRequired {
		return b.Started-b.Scrap < b.Quantity
	}
	return b.Started < b.Quantity
}

// Done reports whether the batch has made its quantity: Quantity good burs
// with GoodRequired, otherwise Quantity burs finished whatever their
// disposition.
func (b *Batch) Done() bool {
	if b.GoodRequired {
		return b.Completed >= b.Quantity
	}
	return b.Completed+b.Scrap+b.Rework >= b.Quantity
}

// MaxBatchQuantity bounds Batch.Quantity; larger orders are split.
const MaxBatchQuantity = 1_000_000

// Validate checks the fields a planner supplies when creating a batch.
// Errors: EINVALID naming the field.
func (b *Batch) Validate() error {
	switch {
	case b.Product == "":
		return Errorf(EINVALID, "product: required")
	case b.Quantity <= 0 || b.Quantity > MaxBatchQuantity:
		return Errorf(EINVALID, "quantity: must be 1..%d, got %d", MaxBatchQuantity, b.Quantity)
	case !b.PlannedStart.IsZero() && !b.PlannedEnd.IsZero() && b.PlannedEnd.Before(b.PlannedStart):
		return Errorf(EINVALID, "planned_end: before planned_start")
	case b.State != "" && b.State != BatchPlanned && b.State != BatchReleased:
		return Errorf(EINVALID, "state: a new batch is planned or released, not %q", b.State)
	}
	return nil
}
