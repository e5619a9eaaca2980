package bolt_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mes/quality"
)

// burEntries returns the last bur audit entry of each bur of batch, and
// every entry of the batch in seq order.
func burEntries(t *testing.T, a *bolt.AuditService, batch string) (map[string]mes.AuditEntry, []mes.AuditEntry) {
	t.Helper()
	last := map[string]mes.AuditEntry{}
	all := collectSeq(t, a.AuditEntries(context.Background(), mes.AuditFilter{Batch: batch}))
	for _, e := range all {
		if e.ObjectType == mes.AuditObjectBur {
			last[e.ObjectID] = e
		}
	}
	return last, all
}

func TestBurAudit_Dispositions(t *testing.T) {
	ctx := context.Background()
	s := newServices(t)
	audit := bolt.NewAuditService(s.db)
	b := completedBatch(t, s, 3, 2)
	last, all := burEntries(t, audit, b.ID)
	require.Len(t, last, 3, "one disposition entry per bur")

	for _, bur := range collectSeq(t, s.burs.BatchBurs(ctx, b.ID)) {
		e, ok := last[bur.Serial]
		require.True(t, ok, bur.Serial)
		assert.Equal(t, mes.AuditChange, e.Action)
		assert.Equal(t, "system", e.Actor)
		assert.Equal(t, b.ID, e.Batch)
		assert.JSONEq(t, `{"disposition":"in_process"}`, string(e.Old))
		var v mes.BurAuditValue
		require.NoError(t, json.Unmarshal(e.New, &v))
		assert.Equal(t, bur.Disposition, v.Disposition)
		require.NotNil(t, v.Measurement, "the new value keeps the measurement it was decided on")
		assert.Equal(t, "GA-7", v.Measurement.GaugeID)
		assert.Equal(t, bur.Measurement.Values, v.Measurement.Values)
		assert.Len(t, v.Results, len(bur.Results))
		assert.Equal(t, len(s.product.Route), v.Operations)
		assert.Equal(t, mes.BurRecordHash(bur, len(bur.Operations)), v.Hash)
		assert.True(t, e.Time.Equal(bur.Finished))
		assert.NoError(t, quality.CheckBur(bur, e))
		if bur.Seq == 2 {
			assert.Equal(t, mes.BurScrap, bur.Disposition)
			assert.Contains(t, e.Reason, "out of tolerance")
		} else {
			assert.Equal(t, mes.BurGood, bur.Disposition)
			assert.Contains(t, e.Reason, "within tolerance")
		}
	}

	// The failed bur's disposition comes before the NC it opened.
	var burSeq, ncSeq uint64
	for _, e := range all {
		switch {
		case e.ObjectType == mes.AuditObjectBur && e.ObjectID == b.ID+"-00002":
			burSeq = e.Seq
		case e.ObjectType == mes.AuditObjectNC && ncSeq == 0:
			ncSeq = e.Seq
		}
	}
	require.NotZero(t, ncSeq)
	assert.Less(t, burSeq, ncSeq)

	head, err := mes.VerifyChain(audit.AuditEntries(ctx, mes.AuditFilter{}))
	require.NoError(t, err)
	stored, err := audit.AuditHead(ctx)
	require.NoError(t, err)
	assert.Equal(t, stored.Hash, head.Hash)
}

func TestBurAudit_AbortedCycleScrap(t *testing.T) {
	ctx := context.Background()
	s := newServices(t)
	audit := bolt.NewAuditService(s.db)
	b := s.releasedBatch(t, 1, false)
	bur, err := s.burs.StartBur(ctx, b.ID, t0)
	require.NoError(t, err)
	op := s.product.Route[0]
	bur, err = s.burs.CompleteOperation(ctx, machineFor(op.Group), mes.Cycle{Seq: 1, Serial: bur.Serial, Program: op.Program,
		ProgramVersion: op.ProgramVersion, Start: t0, End: t0.Add(time.Minute), Aborted: true})
	require.NoError(t, err)
	require.Equal(t, mes.BurScrap, bur.Disposition)

	last, _ := burEntries(t, audit, b.ID)
	e, ok := last[bur.Serial]
	require.True(t, ok, "the scrap of an aborted cycle is audited")
	assert.Contains(t, e.Reason, "cycle aborted on "+machineFor(op.Group))
	var v mes.BurAuditValue
	require.NoError(t, json.Unmarshal(e.New, &v))
	assert.Equal(t, mes.BurScrap, v.Disposition)
	assert.Nil(t, v.Measurement)
	assert.Equal(t, 1, v.Operations)
	assert.NoError(t, quality.CheckBur(bur, e))

	// A cycle delivered again changes nothing and appends nothing.
	before, err := audit.AuditHead(ctx)
	require.NoError(t, err)
	_, err = s.burs.CompleteOperation(ctx, machineFor(op.Group), mes.Cycle{Seq: 1, Serial: bur.Serial, Aborted: true, Start: t0, End: t0.Add(time.Minute)})
	require.NoError(t, err)
	after, err := audit.AuditHead(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

// TestBurAudit_LateInspectionCycle: the inspection station's own cycle may
// end after its measurement decided the bur; it is recorded without a
// second entry and does not make the bur look altered, but an operation
// from any other machine does.
func TestBurAudit_LateInspectionCycle(t *testing.T) {
	ctx := context.Background()
	s := newServices(t)
	audit := bolt.NewAuditService(s.db)
	b := s.releasedBatch(t, 1, false)
	bur, err := s.burs.StartBur(ctx, b.ID, t0)
	require.NoError(t, err)
	route := s.product.Route
	last := route[len(route)-1]
	station := machineFor(last.Group)
	for i, op := range route[:len(route)-1] {
		start := t0.Add(time.Duration(i) * time.Minute)
		_, err := s.burs.CompleteOperation(ctx, machineFor(op.Group), mes.Cycle{Seq: uint64(i + 1), Serial: bur.Serial, Program: op.Program,
			ProgramVersion: op.ProgramVersion, Start: start, End: start.Add(time.Minute)})
		require.NoError(t, err)
	}
	_, err = s.burs.RecordMeasurement(ctx, mes.Measurement{Seq: 1, Serial: bur.Serial, Station: station, GaugeID: "GA-7",
		Time: t0.Add(time.Hour), Values: goodValues(s.product)})
	require.NoError(t, err)
	bur, err = s.burs.CompleteOperation(ctx, station, mes.Cycle{Seq: 99, Serial: bur.Serial, Program: last.Program,
		ProgramVersion: last.ProgramVersion, Start: t0.Add(time.Hour), End: t0.Add(61 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, bur.Operations, len(route), "the station's cycle is recorded")
	require.Equal(t, mes.BurGood, bur.Disposition)

	entries, _ := burEntries(t, audit, b.ID)
	e := entries[bur.Serial]
	require.NotZero(t, e.Seq)
	assert.NoError(t, quality.CheckBur(bur, e))

	inserted := *bur
	inserted.Operations = append(append([]mes.OperationRecord{}, bur.Operations...), bur.Operations[0])
	err = quality.CheckBur(&inserted, e)
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
	assert.ErrorContains(t, err, "operation inserted")
}

func TestCheckBurAudit_Alterations(t *testing.T) {
	s := newServices(t)
	audit := bolt.NewAuditService(s.db)
	b := completedBatch(t, s, 2, 2)
	last, _ := burEntries(t, audit, b.ID)
	burs := collectSeq(t, s.burs.BatchBurs(context.Background(), b.ID))
	require.Len(t, burs, 2)
	tests := []struct {
		name  string
		seq   int
		alter func(b *mes.Bur)
		want  string
	}{
		{"measured value", 1, func(b *mes.Bur) {
			for ch := range b.Measurement.Values {
				b.Measurement.Values[ch] += 0.001
				break
			}
		}, "record altered"},
		{"gauge", 1, func(b *mes.Bur) { b.Measurement.GaugeID = "GA-9" }, "record altered"},
		{"scrap made good", 2, func(b *mes.Bur) { b.Disposition, b.ScrapReason = mes.BurGood, "" }, "record altered"},
		{"scrap reason", 2, func(b *mes.Bur) { b.ScrapReason = "chipped" }, "record altered"},
		{"result", 2, func(b *mes.Bur) { b.Results[0].Pass = !b.Results[0].Pass }, "record altered"},
		{"program version", 1, func(b *mes.Bur) { b.Operations[0].ProgramVersion = "9.9" }, "record altered"},
		{"operation removed", 1, func(b *mes.Bur) { b.Operations = b.Operations[:len(b.Operations)-1] }, "operations removed"},
		{"next op", 1, func(b *mes.Bur) { b.NextOp-- }, "record altered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := burs[tt.seq-1]
			e := last[orig.Serial]
			require.NoError(t, quality.CheckBur(orig, e), "as stored")
			// A deep copy through JSON, as a bur read back from the store.
			raw, err := json.Marshal(orig)
			require.NoError(t, err)
			var cp mes.Bur
			require.NoError(t, json.Unmarshal(raw, &cp))
			tt.alter(&cp)
			err = quality.CheckBur(&cp, e)
			assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
			assert.ErrorContains(t, err, tt.want)
		})
	}
}
