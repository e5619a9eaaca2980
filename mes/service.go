package mes

import (
	"context"
	"io"
	"iter"
	"time"
)

// ProductService stores products (bur types and their routes).
type ProductService interface {
	// CreateProduct stores a new product. Errors: EINVALID, ECONFLICT (ISO number exists).
	CreateProduct(ctx context.Context, p *Product) error
	// FindProduct returns the product with the given ISO 6360 number. Errors: ENOTFOUND.
	FindProduct(ctx context.Context, iso string) (*Product, error)
	// ListProducts returns every product ordered by ISO number.
	ListProducts(ctx context.Context) ([]*Product, error)
}

// BatchService stores batches and their state machine.
type BatchService interface {
	// CreateBatch validates b, assigns ID, Created and State=planned (or keeps
	// State=released if asked) and stores it. Errors: EINVALID (unknown product, quantity).
	CreateBatch(ctx context.Context, b *Batch) error
	// FindBatch returns one batch. Errors: ENOTFOUND.
	FindBatch(ctx context.Context, id string) (*Batch, error)
	// ListBatches returns batches matching f, newest first.
	ListBatches(ctx context.Context, f BatchFilter) ([]*Batch, error)
	// TransitionBatch moves a batch to state to, recording by/at/reason.
	// Errors: ENOTFOUND, ECONFLICT (not allowed from the current state).
	TransitionBatch(ctx context.Context, id string, to BatchState, by, reason string, at time.Time) (*Batch, error)
}

// BurService stores burs and their genealogy. The dispatcher is its main writer.
//
// IMPORTANT: every write is idempotent where acquisition may deliver twice:
// CompleteOperation by (machine, cycle seq), RecordMeasurement by (station, seq).
type BurService interface {
	// FindBur returns one bur with its full genealogy. Errors: ENOTFOUND.
	FindBur(ctx context.Context, serial string) (*Bur, error)
	// ListBurs returns the burs of a batch in serial order.
	ListBurs(ctx context.Context, batch string) ([]*Bur, error)
	// WaitingBurs returns in-process burs of running or released batches that
	// wait (no machine assigned) for an operation of group, oldest first.
	WaitingBurs(ctx context.Context, group string, limit int) ([]*Bur, error)
	// StartBur takes a blank for batch: creates the next serial (from the
	// line's serial pattern) if the batch still needs burs, and moves a
	// released batch to running. Errors: ENOTFOUND, ECONFLICT (batch full or not dispatchable).
	StartBur(ctx context.Context, batch string, at time.Time) (*Bur, error)
	// AssignBur records that the bur's next operation was dispatched to machine.
	// Errors: ENOTFOUND, ECONFLICT (already assigned elsewhere).
	AssignBur(ctx context.Context, serial, machine string) error
	// UnassignBur clears a dispatch the machine refused.
	UnassignBur(ctx context.Context, serial, machine string) error
	// CompleteOperation records a finished job as the bur's next operation
	// (or scraps the bur if the job was aborted). Errors: ENOTFOUND (no such bur).
	CompleteOperation(ctx context.Context, machine string, c Cycle) (*Bur, error)
	// RecordMeasurement stores the inspection result, sets pass/fail per
	// characteristic and the disposition, updates the batch counts and
	// completes the batch when it has its quantity. Errors: ENOTFOUND.
	RecordMeasurement(ctx context.Context, m Measurement) (*Bur, error)
}

// EventFilter selects stored machine events. Zero fields match everything.
type EventFilter struct {
	Machine string
	Kinds   []EventKind
	From    time.Time // inclusive, by SourceTime
	To      time.Time // exclusive
}

// EventStore is the durable, idempotent log of machine events.
type EventStore interface {
	EventSink
	// Events yields stored events matching f ordered by SourceTime.
	Events(ctx context.Context, f EventFilter) iter.Seq2[MachineEvent, error]
}

// Backuper writes a consistent copy of the whole store while it runs.
type Backuper interface {
	// Backup writes the copy to w and returns its size.
	Backup(ctx context.Context, w io.Writer) (int64, error)
}
