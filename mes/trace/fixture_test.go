package trace_test

import (
	"encoding/json"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// fixtureRecord builds a released batch of n burs of a round FG bur: bur 3
// is scrap with a closed NC, the record is signed reviewed and released,
// and the batch's audit entries are chained.
func fixtureRecord(t testing.TB, n int) (*mes.TraceRecord, []*mes.Bur) {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	p := &mes.Product{ISO: "500314001001014", Name: "Round bur, tungsten carbide", NameZH: "钨钢球钻", ShankType: "FG", GTIN: "04012345000016",
		Tolerances: map[string]mes.Tolerance{
			mes.CharHeadDiameter:  {Nominal: 1.4, Lower: 1.38, Upper: 1.42},
			mes.CharOverallLength: {Nominal: 19, Lower: 18.8, Upper: 19.2},
			mes.CharRadialRunout:  {Nominal: 0.005, Lower: 0, Upper: 0.02},
		},
		Route: []mes.Operation{
			{Number: 10, Name: "Shank", NameZH: "柄部", Group: "SHK", Program: "O1010", ProgramVersion: "3", IdealCycleS: 170},
			{Number: 20, Name: "Head", NameZH: "头部", Group: "HEAD", Program: "O1020", ProgramVersion: "7", IdealCycleS: 170},
		}}
	b := &mes.Batch{ID: "B000001", Product: p.ISO, Quantity: n - 1, Org: "acme-dental", BlankLot: "CB-2026-017",
		PlannedStart: t0, PlannedEnd: t0.Add(48 * time.Hour), Created: t0.Add(-time.Hour), State: mes.BatchPlanned}
	require.NoError(t, b.Transition(mes.BatchReleased, "planner.zhao", "", t0))
	require.NoError(t, b.Transition(mes.BatchRunning, "system", "", t0.Add(time.Minute)))

	var burs []*mes.Bur
	for i := range n {
		serial := fmt.Sprintf("B000001-%05d", i+1)
		start := t0.Add(time.Duration(i) * 180 * time.Second)
		bur := &mes.Bur{Serial: serial, Batch: b.ID, Product: p.ISO, Seq: i + 1, BlankLot: b.BlankLot, Created: start, NextOp: 2}
		for j, op := range p.Route {
			s := start.Add(time.Duration(j*200) * time.Second)
			bur.Operations = append(bur.Operations, mes.OperationRecord{Number: op.Number, Name: op.Name,
				Machine: fmt.Sprintf("G%02d", 1+j*5+i%5), CycleSeq: uint64(1000 + i), Program: op.Program, ProgramVersion: op.ProgramVersion,
				ProgramHash: fmt.Sprintf("sha256:%04x", 0xa000+j), WheelID: fmt.Sprintf("W-%d%d", j, i%5), WheelWearUM: 1.25 * float64(i%4),
				DressCount: uint32(10 + i/4), Start: s, End: s.Add(171500 * time.Millisecond), CycleS: 171.5,
				PeakSpindleLoad: 62.5 + float64(i%3), EnergyKWh: 0.125 + float64(i%2)/1000})
		}
		head := 1.4 + float64(i%5-2)*0.002
		if i == 2 {
			head = 1.431 // oversize: scrap
		}
		m := mes.Measurement{Seq: uint64(i + 1), Serial: serial, Station: "QC1", GaugeID: "GA-OPT-03",
			CalibrationDue: time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC), Time: start.Add(430 * time.Second),
			Values: map[string]float64{mes.CharHeadDiameter: head, mes.CharOverallLength: 19 + float64(i%3-1)*0.01, mes.CharRadialRunout: 0.004 + float64(i%4)*0.001}}
		bur.Measurement = &m
		bur.Results, bur.Disposition, bur.ScrapReason = mes.Evaluate(p, m)
		bur.Finished = m.Time
		burs = append(burs, bur)
		b.Started++
		if bur.Disposition == mes.BurGood {
			b.Completed++
		} else {
			b.Scrap++
		}
	}
	end := burs[len(burs)-1].Finished
	require.NoError(t, b.Transition(mes.BatchCompleted, "system", "", end))

	ncs := mes.NonconformancesFor(burs[2], "system", burs[2].Finished)
	require.Len(t, ncs, 1)
	ncs[0].ID = "NC000001"
	require.NoError(t, ncs[0].Close(mes.DispositionScrap, "head oversize, cannot be reworked", "", "qa.li", end.Add(time.Hour)))

	recHash, err := mes.BatchRecordHash(b, p, ncs, slice(burs))
	require.NoError(t, err)
	sigs := []mes.Signature{
		{ID: "S000001", SignerID: "u-12", PrintedName: "Wang Fang 王芳", Meaning: mes.MeaningReviewed, SignedAt: end.Add(2 * time.Hour),
			RecordType: mes.RecordTypeBatch, RecordID: b.ID, RecordHash: recHash, AuthMethod: mes.AuthPassword},
		{ID: "S000002", SignerID: "u-7", PrintedName: "Li Na 李娜", Meaning: mes.MeaningReleased, SignedAt: end.Add(3 * time.Hour),
			RecordType: mes.RecordTypeBatch, RecordID: b.ID, RecordHash: recHash, AuthMethod: mes.AuthPassword},
	}
	require.NoError(t, b.Transition(mes.BatchQAReleased, "u-7", "released", end.Add(3*time.Hour)))

	// The plant's chain: this batch's entries interleaved with another's.
	var head mes.ChainHead
	var audit []mes.AuditEntry
	batchHead := map[string]string{}
	add := func(e mes.AuditEntry) {
		e.BatchPrevHash = batchHead[e.Batch]
		e, err := head.Next(e)
		require.NoError(t, err)
		head = e.Head()
		if e.Batch != "" {
			batchHead[e.Batch] = e.Hash
		}
		if e.Batch == b.ID {
			audit = append(audit, e)
		}
	}
	raw := func(v any) json.RawMessage {
		data, err := json.Marshal(v)
		require.NoError(t, err)
		return data
	}
	add(mes.AuditEntry{Time: t0.Add(-time.Hour), Actor: "planner.zhao", Action: mes.AuditCreate, ObjectType: mes.AuditObjectBatch, ObjectID: b.ID, Batch: b.ID,
		New: raw(map[string]any{"quantity": b.Quantity, "product": p.ISO})})
	add(mes.AuditEntry{Time: t0, Actor: "planner.zhao", Action: mes.AuditCreate, ObjectType: mes.AuditObjectBatch, ObjectID: "B000002", Batch: "B000002",
		New: raw(map[string]any{"quantity": 50})})
	add(mes.AuditEntry{Time: ncs[0].OpenedAt, Actor: "system", Action: mes.AuditCreate, ObjectType: mes.AuditObjectNC, ObjectID: "NC000001", Batch: b.ID,
		New: raw(map[string]any{"state": "open"})})
	add(mes.AuditEntry{Time: ncs[0].ClosedAt, Actor: "qa.li", Action: mes.AuditChange, ObjectType: mes.AuditObjectNC, ObjectID: "NC000001", Batch: b.ID,
		Old: raw(map[string]any{"state": "open"}), New: raw(map[string]any{"state": "closed", "disposition": "scrap"}), Reason: ncs[0].Reason})
	for _, s := range sigs {
		add(mes.AuditEntry{Time: s.SignedAt, Actor: s.SignerID, Action: mes.AuditSign, ObjectType: mes.AuditObjectSignature, ObjectID: s.ID, Batch: b.ID, New: raw(s)})
	}
	add(mes.AuditEntry{Time: end.Add(4 * time.Hour), Actor: "qa.li", Action: mes.AuditLogout, ObjectType: mes.AuditObjectUser, ObjectID: "qa.li"})

	rec := mes.NewTraceRecord(b, p, ncs, sigs, audit, head, loc, end.Add(5*time.Hour))
	rec.RecordHash = recHash
	return rec, burs
}

func slice(burs []*mes.Bur) iter.Seq2[*mes.Bur, error] {
	return func(yield func(*mes.Bur, error) bool) {
		for _, b := range burs {
			if !yield(b, nil) {
				return
			}
		}
	}
}
