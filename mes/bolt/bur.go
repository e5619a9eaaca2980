package bolt

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/pilotline/pilotline/mes"
	bbolt "go.etcd.io/bbolt"
)

// BurService stores burs, their genealogy and the dispatch queue.
type BurService struct{ db *DB }

var _ mes.BurService = (*BurService)(nil)

// NewBurService returns the bur service on db.
func NewBurService(db *DB) *BurService { return &BurService{db: db} }

// FindBur implements mes.BurService.
func (s *BurService) FindBur(ctx context.Context, serial string) (*mes.Bur, error) {
	var b *mes.Bur
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		b, err = findBur(tx, serial)
		return err
	})
	return b, err
}

func findBur(tx *bbolt.Tx, serial string) (*mes.Bur, error) {
	v := tx.Bucket(bucketBurs).Get([]byte(serial))
	if v == nil {
		return nil, mes.Errorf(mes.ENOTFOUND, "bur %q not found", serial)
	}
	b, err := decodeBurValue(v)
	if err != nil {
		return nil, fmt.Errorf("decode bur %q: %w", serial, err)
	}
	return b, nil
}

func putBur(tx *bbolt.Tx, b *mes.Bur) error {
	v, err := encodeBur(b)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketBurs).Put([]byte(b.Serial), v)
}

// encodeBur is the stored form of b (encoding_bur.go).
func encodeBur(b *mes.Bur) ([]byte, error) { return appendBur(nil, b) }

// ListBurs implements mes.BurService. Errors: ENOTFOUND (no such batch).
func (s *BurService) ListBurs(ctx context.Context, batch string) ([]*mes.Bur, error) {
	var burs []*mes.Bur
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		_, seq, err := findBatch(tx, batch)
		if err != nil {
			return err
		}
		prefix := u64(seq)
		burs = nil
		all := tx.Bucket(bucketBurs)
		c := tx.Bucket(bucketBursByBatch).Cursor()
		for k, serial := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, serial = c.Next() {
			b, err := decodeBur(all, serial)
			if err != nil {
				return fmt.Errorf("batch %s: %w", batch, err)
			}
			burs = append(burs, b)
		}
		return nil
	})
	return burs, err
}

// WaitingBurs implements mes.BurService. It reads the waiting index of the
// group (oldest first) and skips burs whose batch is not dispatchable
// (held, for example) by the batch seq stored in the index, so a call costs
// about limit bur reads however many burs the store holds.
func (s *BurService) WaitingBurs(ctx context.Context, group string, limit int) ([]*mes.Bur, error) {
	var burs []*mes.Bur
	err := s.db.view(ctx, func(tx *bbolt.Tx) error {
		burs = nil
		states := map[uint64]mes.BatchState{}
		batches, all := tx.Bucket(bucketBatches), tx.Bucket(bucketBurs)
		prefix := waitingPrefix(group)
		c := tx.Bucket(bucketWaiting).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if limit > 0 && len(burs) >= limit {
				break
			}
			bseq := getU64(v)
			st, ok := states[bseq]
			if !ok {
				var b mes.Batch
				if _, err := getJSON(batches, u64(bseq), &b); err != nil {
					return err
				}
				st = b.State
				states[bseq] = st
			}
			if !st.Dispatchable() {
				continue
			}
			b, err := decodeBur(all, k[len(prefix)+8:])
			if err != nil {
				return fmt.Errorf("waiting index: %w", err)
			}
			burs = append(burs, b)
		}
		return nil
	})
	return burs, err
}

// burTx is what a bur write needs within one transaction: the bur, its
// batch and product.
type burTx struct {
	tx       *bbolt.Tx
	bur      *mes.Bur
	batch    *mes.Batch
	batchSeq uint64
	product  *mes.Product
}

func loadBurTx(tx *bbolt.Tx, serial string) (*burTx, error) {
	bur, err := findBur(tx, serial)
	if err != nil {
		return nil, err
	}
	batch, seq, err := findBatch(tx, bur.Batch)
	if err != nil {
		return nil, fmt.Errorf("bur %s: %w", serial, err)
	}
	p, err := findProduct(tx, bur.Product)
	if err != nil {
		return nil, fmt.Errorf("bur %s: %w", serial, err)
	}
	return &burTx{tx: tx, bur: bur, batch: batch, batchSeq: seq, product: p}, nil
}

// nextGroup is the machine group the bur waits for, "" when its route is done.
func (t *burTx) nextGroup() string {
	if t.bur.NextOp < len(t.product.Route) {
		return t.product.Route[t.bur.NextOp].Group
	}
	return ""
}

// setWaiting adds the bur to (or removes it from) the waiting index of the
// group of its next operation.
func (t *burTx) setWaiting(waiting bool) error {
	g := t.nextGroup()
	if g == "" {
		return nil
	}
	w := t.tx.Bucket(bucketWaiting)
	k := waitingKey(g, t.bur.Created, t.bur.Serial)
	if waiting {
		return w.Put(k, u64(t.batchSeq))
	}
	return w.Delete(k)
}

// finish gives the bur its disposition and counts it in its batch, which
// completes when it has its quantity. The caller stores the bur as finish
// leaves it.
//
// IMPORTANT: the disposition's audit entry, with the hash of the bur as
// stored, is appended in the same transaction (21 CFR 11.10(e)), so no bur
// is decided without one and `pilotline verify` can tell an altered bur.
func (t *burTx) finish(d mes.BurDisposition, reason string, at time.Time) error {
	if err := t.setWaiting(false); err != nil {
		return err
	}
	t.bur.Disposition, t.bur.ScrapReason, t.bur.Finished, t.bur.Machine = d, reason, at.UTC(), ""
	if _, err := appendAuditTx(t.tx, mes.BurAuditEntry(t.bur, systemActor, at)); err != nil {
		return fmt.Errorf("audit bur %s: %w", t.bur.Serial, err)
	}
	if d != mes.BurGood {
		// A failed bur opens its nonconformance records in the same
		// transaction, so no failure can go without one.
		if err := openNCsTx(t.tx, t.bur, at); err != nil {
			return err
		}
	}
	switch d {
	case mes.BurGood:
		t.batch.Completed++
	case mes.BurScrap:
		t.batch.Scrap++
	case mes.BurRework:
		t.batch.Rework++
	}
	if t.batch.Done() && mes.CanTransition(t.batch.State, mes.BatchCompleted) {
		why := fmt.Sprintf("%d good, %d scrap of %d", t.batch.Completed, t.batch.Scrap, t.batch.Quantity)
		if err := t.batch.Transition(mes.BatchCompleted, systemActor, why, at.UTC()); err != nil {
			return err
		}
	}
	return putBatch(t.tx, t.batchSeq, t.batch)
}

// StartBur implements mes.BurService.
func (s *BurService) StartBur(ctx context.Context, batch string, at time.Time) (*mes.Bur, error) {
	if at.IsZero() {
		at = s.db.lineNow()
	}
	at = at.UTC()
	var bur *mes.Bur
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		b, bseq, err := findBatch(tx, batch)
		if err != nil {
			return err
		}
		if !b.State.Dispatchable() {
			return mes.Errorf(mes.ECONFLICT, "batch %s is %s: no burs can be started", b.ID, b.State)
		}
		if !b.NeedsBlank() {
			return mes.Errorf(mes.ECONFLICT, "batch %s has all its burs started (%d started, %d scrap, quantity %d)", b.ID, b.Started, b.Scrap, b.Quantity)
		}
		p, err := findProduct(tx, b.Product)
		if err != nil {
			return fmt.Errorf("batch %s: %w", b.ID, err)
		}
		seq := b.Started + 1
		serial, err := s.db.serials.Format(b.ID, seq)
		if err != nil {
			return err
		}
		if tx.Bucket(bucketBurs).Get([]byte(serial)) != nil {
			return mes.Errorf(mes.ECONFLICT, "serial %s already exists (serial pattern changed?)", serial)
		}
		bur = &mes.Bur{
			Serial: serial, Batch: b.ID, Product: b.Product, Seq: seq, BlankLot: b.BlankLot,
			Disposition: mes.BurInProcess, Created: at, Operations: []mes.OperationRecord{},
		}
		b.Started++
		if b.State == mes.BatchReleased {
			if err := b.Transition(mes.BatchRunning, systemActor, "first bur started", at); err != nil {
				return err
			}
		}
		t := &burTx{tx: tx, bur: bur, batch: b, batchSeq: bseq, product: p}
		if err := t.setWaiting(true); err != nil {
			return err
		}
		if err := tx.Bucket(bucketBursByBatch).Put(burByBatchKey(bseq, seq), []byte(serial)); err != nil {
			return err
		}
		if err := putBur(tx, bur); err != nil {
			return err
		}
		return putBatch(tx, bseq, b)
	})
	if err != nil {
		return nil, err
	}
	return bur, nil
}

// AssignBur implements mes.BurService. Assigning a bur to the machine it
// is already assigned to changes nothing. Errors also: ECONFLICT when the
// bur is finished, its route is done or its batch is not dispatchable.
func (s *BurService) AssignBur(ctx context.Context, serial, machine string) error {
	if machine == "" {
		return mes.Errorf(mes.EINVALID, "machine: required")
	}
	return s.db.update(ctx, func(tx *bbolt.Tx) error {
		t, err := loadBurTx(tx, serial)
		if err != nil {
			return err
		}
		switch b := t.bur; {
		case b.Machine == machine:
			return nil
		case b.Machine != "":
			return mes.Errorf(mes.ECONFLICT, "bur %s is already dispatched to %s", serial, b.Machine)
		case b.Disposition != mes.BurInProcess:
			return mes.Errorf(mes.ECONFLICT, "bur %s is finished (%s)", serial, b.Disposition)
		case t.nextGroup() == "":
			return mes.Errorf(mes.ECONFLICT, "bur %s has no operation left", serial)
		case !t.batch.State.Dispatchable():
			return mes.Errorf(mes.ECONFLICT, "batch %s is %s: not dispatchable", t.batch.ID, t.batch.State)
		}
		if err := t.setWaiting(false); err != nil {
			return err
		}
		t.bur.Machine = machine
		return putBur(tx, t.bur)
	})
}

// UnassignBur implements mes.BurService. A bur not assigned to machine is
// left alone, so a repeated call changes nothing.
func (s *BurService) UnassignBur(ctx context.Context, serial, machine string) error {
	return s.db.update(ctx, func(tx *bbolt.Tx) error {
		t, err := loadBurTx(tx, serial)
		if err != nil {
			return err
		}
		if t.bur.Machine != machine || machine == "" {
			return nil
		}
		t.bur.Machine = ""
		if t.bur.Disposition == mes.BurInProcess {
			if err := t.setWaiting(true); err != nil {
				return err
			}
		}
		return putBur(tx, t.bur)
	})
}

// CompleteOperation implements mes.BurService.
//
// IMPORTANT: the (machine, cycle seq) pair is recorded in the same
// transaction as the operation, so a cycle delivered again (reconnect,
// replay after a crash) returns the bur unchanged.
func (s *BurService) CompleteOperation(ctx context.Context, machine string, c mes.Cycle) (*mes.Bur, error) {
	if machine == "" {
		return nil, mes.Errorf(mes.EINVALID, "machine: required")
	}
	var bur *mes.Bur
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		cycles := tx.Bucket(bucketCycles)
		ck := seqKey(machine, c.Seq)
		if serial := cycles.Get(ck); serial != nil {
			var err error
			bur, err = findBur(tx, string(serial))
			return err
		}
		t, err := loadBurTx(tx, c.Serial)
		if err != nil {
			return err
		}
		bur = t.bur
		if err := cycles.Put(ck, []byte(c.Serial)); err != nil {
			return err
		}
		late := t.bur.Disposition != mes.BurInProcess
		if late && (t.bur.Measurement == nil || t.bur.Measurement.Station != machine) {
			// A finished bur takes no more operations; only the inspection
			// station's own cycle may arrive after its measurement.
			s.db.log.Warn("cycle for a finished bur ignored", "machine", machine, "serial", c.Serial, "seq", c.Seq)
			return nil
		}
		if t.nextGroup() == "" {
			s.db.log.Warn("cycle for a bur with no operation left ignored", "machine", machine, "serial", c.Serial, "seq", c.Seq)
			return nil
		}
		if t.bur.Machine != "" && t.bur.Machine != machine {
			s.db.log.Warn("cycle from a machine the bur was not dispatched to", "machine", machine, "assigned", t.bur.Machine, "serial", c.Serial)
		}
		if err := t.setWaiting(false); err != nil {
			return err
		}
		op := t.product.Route[t.bur.NextOp]
		t.bur.Operations = append(t.bur.Operations, mes.OperationRecord{
			Number: op.Number, Name: op.Name, Machine: machine, CycleSeq: c.Seq,
			Program: c.Program, ProgramVersion: c.ProgramVersion, ProgramHash: c.ProgramHash,
			WheelID: c.WheelID, WheelWearUM: c.WheelWearUM, DressCount: c.DressCount,
			Start: c.Start.UTC(), End: c.End.UTC(), CycleS: c.CycleTime().Seconds(),
			PeakSpindleLoad: c.PeakSpindleLoad, EnergyKWh: c.EnergyKWh, Aborted: c.Aborted,
		})
		t.bur.Machine = ""
		switch {
		case c.Aborted && !late:
			if err := t.finish(mes.BurScrap, mes.AbortReason(machine, op), c.End); err != nil {
				return err
			}
		case !c.Aborted:
			t.bur.NextOp++
			if !late {
				if err := t.setWaiting(true); err != nil {
					return err
				}
			}
		}
		return putBur(tx, t.bur)
	})
	if err != nil {
		return nil, err
	}
	return bur, nil
}

// RecordMeasurement implements mes.BurService. It is idempotent by
// (station, seq); a bur that is already finished keeps its disposition.
func (s *BurService) RecordMeasurement(ctx context.Context, m mes.Measurement) (*mes.Bur, error) {
	if m.Station == "" {
		return nil, mes.Errorf(mes.EINVALID, "station: required")
	}
	var bur *mes.Bur
	err := s.db.update(ctx, func(tx *bbolt.Tx) error {
		meas := tx.Bucket(bucketMeasurements)
		mk := seqKey(m.Station, m.Seq)
		if serial := meas.Get(mk); serial != nil {
			var err error
			bur, err = findBur(tx, string(serial))
			return err
		}
		t, err := loadBurTx(tx, m.Serial)
		if err != nil {
			return err
		}
		bur = t.bur
		if err := meas.Put(mk, []byte(m.Serial)); err != nil {
			return err
		}
		if t.bur.Disposition != mes.BurInProcess {
			s.db.log.Warn("measurement for a finished bur ignored", "station", m.Station, "serial", m.Serial, "disposition", t.bur.Disposition)
			return nil
		}
		results, d, reason := mes.Evaluate(t.product, m)
		mc := m
		mc.Time = m.Time.UTC()
		t.bur.Measurement, t.bur.Results = &mc, results
		at := m.Time
		if at.IsZero() {
			at = s.db.lineNow()
		}
		if err := t.finish(d, reason, at); err != nil {
			return err
		}
		return putBur(tx, t.bur)
	})
	if err != nil {
		return nil, err
	}
	return bur, nil
}
