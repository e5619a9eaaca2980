package mes_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sigFixture() (*mes.Batch, *mes.Product, []*mes.Bur) {
	p := &mes.Product{ISO: "500314001001014", Name: "Round bur", NameZH: "球钻", ShankType: "FG", GTIN: "04012345000016",
		Tolerances: map[string]mes.Tolerance{mes.CharHeadDiameter: {Nominal: 1.4, Lower: 1.38, Upper: 1.42}},
		Route:      []mes.Operation{{Number: 10, Name: "Shank", Group: "SHK", Program: "O1010", ProgramVersion: "3", IdealCycleS: 780}}}
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	b := &mes.Batch{ID: "B000001", Product: p.ISO, Quantity: 3, Org: "acme", BlankLot: "CB-7", Created: t0, State: mes.BatchCompleted,
		Started: 3, Completed: 3}
	var burs []*mes.Bur
	for i := range 3 {
		s := fmt.Sprintf("B000001-%05d", i+1)
		burs = append(burs, &mes.Bur{Serial: s, Batch: b.ID, Product: p.ISO, Seq: i + 1, Disposition: mes.BurGood, NextOp: 1,
			Operations: []mes.OperationRecord{{Number: 10, Machine: "G01", Program: "O1010", ProgramVersion: "3", CycleS: 170.5,
				Start: t0.Add(time.Duration(i) * time.Hour), End: t0.Add(time.Duration(i)*time.Hour + 170*time.Second)}},
			Measurement: &mes.Measurement{Serial: s, GaugeID: "GA-3", Values: map[string]float64{mes.CharHeadDiameter: 1.4 + float64(i)/1000}},
			Results:     []mes.CharResult{{Characteristic: mes.CharHeadDiameter, Value: 1.4 + float64(i)/1000, Pass: true}}})
	}
	return b, p, burs
}

func sigSeq(burs []*mes.Bur) func(func(*mes.Bur, error) bool) {
	return func(yield func(*mes.Bur, error) bool) {
		for _, b := range burs {
			if !yield(b, nil) {
				return
			}
		}
	}
}

func TestBatchRecordHash(t *testing.T) {
	b, p, burs := sigFixture()
	base, err := mes.BatchRecordHash(b, p, nil, sigSeq(burs))
	require.NoError(t, err)
	require.Regexp(t, `^[0-9a-f]{64}$`, base)

	again, err := mes.BatchRecordHash(b, p, nil, sigSeq(burs))
	require.NoError(t, err)
	assert.Equal(t, base, again, "deterministic")

	// Signing changes the state and adds a transition: the hash stays.
	rel := *b
	require.NoError(t, rel.Transition(mes.BatchQAReleased, "qa.li", "ok", time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)))
	h, err := mes.BatchRecordHash(&rel, p, nil, sigSeq(burs))
	require.NoError(t, err)
	assert.Equal(t, base, h, "state and transitions are not part of the record")

	// A JSON round trip (as the store and the trace export do) keeps it.
	data, err := json.Marshal(burs)
	require.NoError(t, err)
	var back []*mes.Bur
	require.NoError(t, json.Unmarshal(data, &back))
	h, err = mes.BatchRecordHash(b, p, nil, sigSeq(back))
	require.NoError(t, err)
	assert.Equal(t, base, h)

	changes := []struct {
		name string
		mod  func(b *mes.Batch, p *mes.Product, burs []*mes.Bur) ([]*mes.Bur, []mes.Nonconformance)
	}{
		{"a measured value", func(_ *mes.Batch, _ *mes.Product, burs []*mes.Bur) ([]*mes.Bur, []mes.Nonconformance) {
			burs[1].Measurement.Values[mes.CharHeadDiameter] += 1e-9
			return burs, nil
		}},
		{"a program version", func(_ *mes.Batch, _ *mes.Product, burs []*mes.Bur) ([]*mes.Bur, []mes.Nonconformance) {
			burs[2].Operations[0].ProgramVersion = "4"
			return burs, nil
		}},
		{"a bur removed", func(_ *mes.Batch, _ *mes.Product, burs []*mes.Bur) ([]*mes.Bur, []mes.Nonconformance) {
			return burs[:2], nil
		}},
		{"burs swapped", func(_ *mes.Batch, _ *mes.Product, burs []*mes.Bur) ([]*mes.Bur, []mes.Nonconformance) {
			burs[0], burs[1] = burs[1], burs[0]
			return burs, nil
		}},
		{"a tolerance", func(_ *mes.Batch, p *mes.Product, burs []*mes.Bur) ([]*mes.Bur, []mes.Nonconformance) {
			p.Tolerances = map[string]mes.Tolerance{mes.CharHeadDiameter: {Nominal: 1.4, Lower: 1.37, Upper: 1.42}}
			return burs, nil
		}},
		{"the scrap count", func(b *mes.Batch, _ *mes.Product, burs []*mes.Bur) ([]*mes.Bur, []mes.Nonconformance) {
			b.Scrap++
			return burs, nil
		}},
		{"an NC added", func(_ *mes.Batch, _ *mes.Product, burs []*mes.Bur) ([]*mes.Bur, []mes.Nonconformance) {
			return burs, []mes.Nonconformance{ncOpen()}
		}},
	}
	for _, tt := range changes {
		t.Run(tt.name, func(t *testing.T) {
			b, p, burs := sigFixture()
			burs, ncs := tt.mod(b, p, burs)
			h, err := mes.BatchRecordHash(b, p, ncs, sigSeq(burs))
			require.NoError(t, err)
			assert.NotEqual(t, base, h)
		})
	}
}

func TestSignature_ValidateAndBinding(t *testing.T) {
	b, p, burs := sigFixture()
	h, err := mes.BatchRecordHash(b, p, nil, sigSeq(burs))
	require.NoError(t, err)
	s := mes.Signature{ID: "S000001", SignerID: "u-7", PrintedName: "Li Na 李娜", Meaning: mes.MeaningReleased,
		SignedAt: time.Date(2026, 3, 3, 9, 30, 0, 0, time.UTC), RecordType: mes.RecordTypeBatch, RecordID: b.ID,
		RecordHash: h, AuthMethod: mes.AuthPassword}
	require.NoError(t, s.Validate())
	require.NoError(t, s.VerifyBinding(h))
	assert.Equal(t, "Li Na 李娜 (u-7), 2026-03-03 09:30:00 UTC, released", s.Manifestation())

	burs[0].Operations[0].WheelID = "W-other"
	h2, err := mes.BatchRecordHash(b, p, nil, sigSeq(burs))
	require.NoError(t, err)
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(s.VerifyBinding(h2)))

	tests := []struct {
		name string
		mod  func(*mes.Signature)
	}{
		{"no signer", func(s *mes.Signature) { s.SignerID = "" }},
		{"no printed name", func(s *mes.Signature) { s.PrintedName = " " }},
		{"unknown meaning", func(s *mes.Signature) { s.Meaning = "approved-ish" }},
		{"no time", func(s *mes.Signature) { s.SignedAt = time.Time{} }},
		{"no record", func(s *mes.Signature) { s.RecordID = "" }},
		{"short hash", func(s *mes.Signature) { s.RecordHash = s.RecordHash[:10] }},
		{"upper-case hash", func(s *mes.Signature) { s.RecordHash = strings.ToUpper(s.RecordHash) }},
		{"no re-authentication", func(s *mes.Signature) { s.AuthMethod = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s2 := s
			tt.mod(&s2)
			assert.Equal(t, mes.EINVALID, mes.ErrorCode(s2.Validate()))
		})
	}
}

func TestCanRelease(t *testing.T) {
	b, _, _ := sigFixture()
	open := ncOpen()
	closed := ncOpen()
	closed.ID = "NC000002"
	require.NoError(t, closed.Close(mes.DispositionScrap, "oversize", "", "qa.li", closed.OpenedAt.Add(time.Hour)))
	other := ncOpen()
	other.Batch, other.ID = "B000002", "NC000003"

	assert.NoError(t, mes.CanRelease(b, []mes.Nonconformance{closed, other}))
	err := mes.CanRelease(b, []mes.Nonconformance{closed, open})
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
	assert.Contains(t, mes.ErrorMessage(err), "NC000001")

	held := *b
	held.State = mes.BatchHeld
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(mes.CanRelease(&held, nil)))
}
