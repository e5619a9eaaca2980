package quality

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// DefaultSPCBaseline is how many of a batch's first measured burs set the
// control limits of its charts.
const DefaultSPCBaseline = 25

// SPCAlert is an SPC rule violation on one characteristic of a batch.
type SPCAlert struct {
	Characteristic string           `json:"characteristic"`
	Machine        string           `json:"machine,omitempty"`
	Violation      mes.SPCViolation `json:"violation"`
}

// String describes the alert, as a hold reason names it.
func (a SPCAlert) String() string {
	return fmt.Sprintf("SPC %s: %s", a.Characteristic, a.Violation)
}

// BatchSPC builds an I-MR chart per toleranced characteristic of the burs
// (in production order) with limits from the first baseline points, and
// returns the charts and their violations as alerts. A characteristic with
// too few points, or no variation in its baseline, has no chart.
func BatchSPC(p *mes.Product, burs []*mes.Bur, baseline int) (map[string]*mes.ControlChart, []SPCAlert) {
	if baseline <= 0 {
		baseline = DefaultSPCBaseline
	}
	charts := map[string]*mes.ControlChart{}
	var alerts []SPCAlert
	for _, ch := range sortedCharacteristics(p) {
		pts := p.CharacteristicPoints(burs, ch)
		c, err := mes.IMRChart(pts, min(baseline, len(pts)))
		if err != nil {
			continue
		}
		c.Violations = c.Check(p.SPCRuleSet()...)
		charts[ch] = c
		for _, v := range c.Violations {
			alerts = append(alerts, SPCAlert{Characteristic: ch, Violation: v})
		}
	}
	return charts, alerts
}

func sortedCharacteristics(p *mes.Product) []string {
	out := make([]string, 0, len(p.Tolerances))
	for ch := range p.Tolerances {
		out = append(out, ch)
	}
	slices.Sort(out)
	return out
}

// MissingMeasurement is a bur whose inspection record is incomplete.
type MissingMeasurement struct {
	Serial  string   `json:"serial"`
	Missing []string `json:"missing"` // characteristics, or "inspection" when never measured
}

// MissingMeasurements lists burs that passed (or went to rework) without a
// value for every toleranced characteristic, and burs of a finished batch
// still in process. A bur scrapped before inspection is not listed: its NC
// covers it.
func MissingMeasurements(p *mes.Product, b *mes.Bur, batchDone bool) *MissingMeasurement {
	switch {
	case b.Disposition == mes.BurInProcess && batchDone:
		return &MissingMeasurement{Serial: b.Serial, Missing: []string{"inspection"}}
	case b.Disposition == mes.BurInProcess || b.Disposition == mes.BurScrap && b.Measurement == nil:
		return nil
	case b.Measurement == nil:
		return &MissingMeasurement{Serial: b.Serial, Missing: []string{"inspection"}}
	}
	var miss []string
	for _, ch := range sortedCharacteristics(p) {
		if _, ok := b.Measurement.Values[ch]; !ok {
			miss = append(miss, ch)
		}
	}
	if len(miss) == 0 {
		return nil
	}
	return &MissingMeasurement{Serial: b.Serial, Missing: miss}
}

// CommGap is a span in which acquisition had no data from a machine.
type CommGap struct {
	Machine string    `json:"machine"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to,omitzero"` // zero: not restored by the end of the window
	Reason  string    `json:"reason,omitempty"`
}

// CommGaps pairs comm_lost with the next comm_restored of each machine in
// events (ordered by time).
func CommGaps(events []mes.MachineEvent) []CommGap {
	open := map[string]int{}
	var out []CommGap
	for _, e := range events {
		switch e.Kind {
		case mes.EventCommLost:
			if _, ok := open[e.Machine]; !ok {
				open[e.Machine] = len(out)
				out = append(out, CommGap{Machine: e.Machine, From: e.SourceTime, Reason: e.Reason})
			}
		case mes.EventCommRestored:
			if i, ok := open[e.Machine]; ok {
				out[i].To = e.SourceTime
				delete(open, e.Machine)
			}
		}
	}
	return out
}

// BatchReview is the review-by-exception of a batch: only what QA must look
// at before signing.
type BatchReview struct {
	Batch      *mes.Batch           `json:"batch"`
	RecordHash string               `json:"record_hash"`
	CanRelease bool                 `json:"can_release"`
	Blockers   []string             `json:"blockers"` // why it cannot be released now
	OpenNCs    int                  `json:"open_ncs"`
	NCs        []mes.Nonconformance `json:"ncs"`
	SPCAlerts  []SPCAlert           `json:"spc_alerts"`
	Capability []mes.CharSummary    `json:"capability"`
	Alarms     []mes.MachineEvent   `json:"alarms"`
	CommLost   []CommGap            `json:"comm_lost"`
	Missing    []MissingMeasurement `json:"missing_measurements"`
	Signatures []mes.Signature      `json:"signatures"`
	Machines   []string             `json:"machines"` // machines that worked on the batch
	From       time.Time            `json:"from,omitzero"`
	To         time.Time            `json:"to,omitzero"`
}

// maxReviewEvents bounds the alarms and comm events a review lists.
const maxReviewEvents = 500

// Review builds the review of batch: its NCs, SPC alerts, capability,
// missing measurements, and the alarms and comm-lost gaps of the machines
// that worked on it during its production (events may be nil).
func Review(ctx context.Context, src mes.TraceSource, events mes.EventStore, batch string, now time.Time) (*BatchReview, error) {
	rec, burs, err := src.TraceRecord(ctx, batch, nil, now)
	if err != nil {
		return nil, err
	}
	r := &BatchReview{Batch: &rec.Batch, NCs: rec.Nonconformances, Signatures: rec.Signatures,
		Blockers: []string{}, SPCAlerts: []SPCAlert{}, Alarms: []mes.MachineEvent{}, CommLost: []CommGap{}, Missing: []MissingMeasurement{}}
	p := &rec.Product
	done := rec.Batch.State != mes.BatchPlanned && rec.Batch.Done()
	hasher := mes.NewBatchRecordHasher(&rec.Batch, p, rec.Nonconformances)
	summary := mes.NewMeasurementSummary(p)
	machines := map[string]bool{}
	var all []*mes.Bur
	for b, err := range burs {
		if err != nil {
			return nil, err
		}
		hasher.AddBur(b)
		summary.Add(b)
		for _, op := range b.Operations {
			machines[op.Machine] = true
		}
		if m := MissingMeasurements(p, b, done); m != nil {
			r.Missing = append(r.Missing, *m)
		}
		// Only values are kept for the charts, not the genealogy.
		all = append(all, &mes.Bur{Serial: b.Serial, Batch: b.Batch, Measurement: b.Measurement, Operations: lastOp(b.Operations)})
	}
	r.RecordHash = hasher.Sum()
	r.Capability = summary.Result()
	if _, alerts := BatchSPC(p, all, 0); alerts != nil {
		r.SPCAlerts = alerts
	}
	for _, nc := range r.NCs {
		if nc.State != mes.NCClosed {
			r.OpenNCs++
		}
	}
	if _, err := mes.SignatureTarget(&rec.Batch, r.NCs, mes.MeaningReleased); err != nil {
		r.Blockers = append(r.Blockers, mes.ErrorMessage(err))
	}
	if len(r.Missing) > 0 {
		r.Blockers = append(r.Blockers, fmt.Sprintf("%d bur(s) with missing measurements", len(r.Missing)))
	}
	r.CanRelease = len(r.Blockers) == 0
	for m := range machines {
		r.Machines = append(r.Machines, m)
	}
	slices.Sort(r.Machines)
	r.From, r.To = rec.Dates.ProductionStart, rec.Dates.ProductionEnd
	if r.To.IsZero() {
		r.To = now
	}
	if events == nil || r.From.IsZero() {
		return r, nil
	}
	var comm []mes.MachineEvent
	for _, m := range r.Machines {
		for e, err := range events.Events(ctx, mes.EventFilter{Machine: m, From: r.From, To: r.To,
			Kinds: []mes.EventKind{mes.EventAlarmRaised, mes.EventCommLost, mes.EventCommRestored}}) {
			if err != nil {
				return nil, err
			}
			if e.Kind == mes.EventAlarmRaised {
				if len(r.Alarms) < maxReviewEvents {
					r.Alarms = append(r.Alarms, e)
				}
			} else if len(comm) < 2*maxReviewEvents {
				comm = append(comm, e)
			}
		}
	}
	r.CommLost = append(r.CommLost, CommGaps(comm)...)
	return r, nil
}

func lastOp(ops []mes.OperationRecord) []mes.OperationRecord {
	if len(ops) == 0 {
		return nil
	}
	return ops[len(ops)-1:]
}
