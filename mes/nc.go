package mes

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// NCState is the state of a nonconformance record.
type NCState string

// Nonconformance states.
const (
	NCOpen   NCState = "open"
	NCClosed NCState = "closed"
)

// NCDisposition is what QA decided to do with a nonconforming bur (ISO 13485 §8.3).
type NCDisposition string

// Dispositions.
const (
	DispositionScrap   NCDisposition = "scrap"
	DispositionRework  NCDisposition = "rework"
	DispositionUseAsIs NCDisposition = "use_as_is" // accepted under a concession
)

// Valid reports whether d is a known disposition.
func (d NCDisposition) Valid() bool {
	return d == DispositionScrap || d == DispositionRework || d == DispositionUseAsIs
}

// Where a nonconformance was found.
const (
	NCSourceMeasurement = "measurement"   // a characteristic out of tolerance or not measured
	NCSourceAborted     = "aborted_cycle" // a grinding job ended by an alarm
	NCSourceSPC         = "spc"           // suspect: an SPC rule fired on this bur
	NCSourceManual      = "manual"        // raised by a person
)

// Nonconformance is the record of one failed or suspect bur, from opening
// to QA's disposition.
//
// IMPORTANT: a closed record is never reopened or edited; a later finding is
// a new record. Use-as-is needs a concession reference, since accepting a
// nonconforming medical device has to be authorised by someone named.
type Nonconformance struct {
	ID             string        `json:"id"` // assigned by the store, e.g. "NC000001"
	Serial         string        `json:"serial"`
	Batch          string        `json:"batch"`
	Characteristic string        `json:"characteristic,omitempty"` // "" when not about one characteristic
	Source         string        `json:"source"`
	Description    string        `json:"description"`
	OpenedAt       time.Time     `json:"opened_at"`
	OpenedBy       string        `json:"opened_by"` // user id, or "system"
	State          NCState       `json:"state"`
	Disposition    NCDisposition `json:"disposition,omitempty"`
	Reason         string        `json:"reason,omitempty"`     // why this disposition
	Concession     string        `json:"concession,omitempty"` // concession reference for use-as-is
	ClosedAt       time.Time     `json:"closed_at,omitzero"`
	ClosedBy       string        `json:"closed_by,omitempty"`
}

// Validate checks the record as a whole, open or closed. Errors: EINVALID.
func (nc *Nonconformance) Validate() error {
	switch {
	case nc.Serial == "" || nc.Batch == "":
		return Errorf(EINVALID, "nc: serial and batch required")
	case nc.Source == "":
		return Errorf(EINVALID, "nc: source required")
	case strings.TrimSpace(nc.Description) == "":
		return Errorf(EINVALID, "nc: description required")
	case nc.OpenedAt.IsZero() || nc.OpenedBy == "":
		return Errorf(EINVALID, "nc: opened_at and opened_by required")
	}
	switch nc.State {
	case NCOpen:
		if nc.Disposition != "" || !nc.ClosedAt.IsZero() || nc.ClosedBy != "" {
			return Errorf(EINVALID, "nc %s: an open record has no disposition or closure", nc.ID)
		}
	case NCClosed:
		return nc.validateClosure(nc.Disposition, nc.Reason, nc.Concession, nc.ClosedBy, nc.ClosedAt)
	default:
		return Errorf(EINVALID, "nc: unknown state %q", nc.State)
	}
	return nil
}

func (nc *Nonconformance) validateClosure(d NCDisposition, reason, concession, by string, at time.Time) error {
	switch {
	case !d.Valid():
		return Errorf(EINVALID, "nc %s: disposition must be scrap, rework or use_as_is, got %q", nc.ID, d)
	case strings.TrimSpace(reason) == "":
		return Errorf(EINVALID, "nc %s: a disposition needs a reason", nc.ID)
	case d == DispositionUseAsIs && strings.TrimSpace(concession) == "":
		return Errorf(EINVALID, "nc %s: use-as-is needs a concession reference", nc.ID)
	case by == "":
		return Errorf(EINVALID, "nc %s: closed_by required", nc.ID)
	case at.IsZero() || at.Before(nc.OpenedAt):
		return Errorf(EINVALID, "nc %s: closed_at must be at or after opened_at", nc.ID)
	}
	return nil
}

// Close records QA's disposition and closes the record. Checking that by
// holds the qa role is the caller's job. Errors: ECONFLICT (already closed),
// EINVALID.
func (nc *Nonconformance) Close(d NCDisposition, reason, concession, by string, at time.Time) error {
	if nc.State != NCOpen {
		return Errorf(ECONFLICT, "nc %s is %s: a closed record cannot be changed", nc.ID, nc.State)
	}
	if err := nc.validateClosure(d, reason, concession, by, at); err != nil {
		return err
	}
	nc.State, nc.Disposition, nc.Reason, nc.Concession = NCClosed, d, reason, concession
	nc.ClosedBy, nc.ClosedAt = by, at
	return nil
}

// NonconformancesFor returns the open records a finished bur calls for: one
// per failed characteristic and one per aborted operation. IDs are left for
// the store.
func NonconformancesFor(b *Bur, by string, at time.Time) []Nonconformance {
	var out []Nonconformance
	mk := func(ch, source, desc string) Nonconformance {
		return Nonconformance{Serial: b.Serial, Batch: b.Batch, Characteristic: ch, Source: source,
			Description: desc, OpenedAt: at, OpenedBy: by, State: NCOpen}
	}
	for _, op := range b.Operations {
		if op.Aborted {
			out = append(out, mk("", NCSourceAborted, fmt.Sprintf("operation %d (%s) aborted on %s", op.Number, op.Name, op.Machine)))
		}
	}
	for _, r := range b.Results {
		if r.Pass {
			continue
		}
		desc := fmt.Sprintf("%s %.4f mm outside %.4f…%.4f mm", r.Characteristic, r.Value, r.Lower, r.Upper)
		if b.Measurement != nil {
			if _, ok := b.Measurement.Values[r.Characteristic]; !ok {
				desc = r.Characteristic + " not measured"
			}
		}
		out = append(out, mk(r.Characteristic, NCSourceMeasurement, desc))
	}
	return out
}

// NCService stores nonconformance records.
type NCService interface {
	// CreateNC validates nc (state open), assigns its ID and stores it. Errors: EINVALID.
	CreateNC(ctx context.Context, nc *Nonconformance) error
	// FindNC returns one record. Errors: ENOTFOUND.
	FindNC(ctx context.Context, id string) (*Nonconformance, error)
	// ListNCs returns a batch's records in ID order.
	ListNCs(ctx context.Context, batch string) ([]*Nonconformance, error)
	// CloseNC records the disposition (Nonconformance.Close) and an audit
	// entry in one transaction. Errors: ENOTFOUND, ECONFLICT, EINVALID.
	CloseNC(ctx context.Context, id string, d NCDisposition, reason, concession, by string, at time.Time) (*Nonconformance, error)
}
