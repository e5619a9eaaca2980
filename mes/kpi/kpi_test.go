package kpi

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/kpi/kpitest"
)

func TestCompute_Invalid(t *testing.T) {
	from := testDay
	ok := Query{From: from, To: from.Add(time.Hour)}
	with := func(f func(q *Query)) Query { q := ok; f(&q); return q }
	store := kpitest.NewMemStore()
	tests := []struct {
		name string
		in   Input
		q    Query
	}{
		{"no line", Input{Events: store}, ok},
		{"no store", Input{Line: testLine()}, ok},
		{"no from", Input{}, with(func(q *Query) { q.From = time.Time{} })},
		{"to before from", Input{}, with(func(q *Query) { q.To = from.Add(-time.Second) })},
		{"to equals from", Input{}, with(func(q *Query) { q.To = from })},
		{"over 400 days", Input{}, with(func(q *Query) { q.To = from.Add(401 * 24 * time.Hour) })},
		{"negative last n", Input{}, with(func(q *Query) { q.LastN = -1 })},
		{"unknown machine", Input{}, with(func(q *Query) { q.Machine = "G99" })},
		{"unknown group", Input{}, with(func(q *Query) { q.Group = "NOPE" })},
		{"unknown shift", Input{}, with(func(q *Query) { q.Shift = "Z" })},
		{"machine not in group", Input{}, with(func(q *Query) { q.Machine = "M1"; q.Group = "QC" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if in.Line == nil && in.Events == nil {
				in = Input{Line: testLine(), Events: store}
			}
			rep, err := Compute(context.Background(), in, tt.q)
			assert.Nil(t, rep)
			assert.Equal(t, mes.EINVALID, mes.ErrorCode(err), "%v", err)
		})
	}
	rep, err := Compute(context.Background(), Input{Line: testLine(), Events: store},
		with(func(q *Query) {
			q.To = from.Add(400 * 24 * time.Hour)
			q.Machine = "M1"
			q.Group = "GRD"
			q.Shift = "A"
		}))
	require.NoError(t, err, "400 days and a consistent filter are fine")
	assert.Len(t, rep.OEE.Machines, 1)
}

// failingStore fails after yielding n events.
type failingStore struct {
	kpitest.MemStore
	n int
}

func (s *failingStore) Events(ctx context.Context, f mes.EventFilter) iter.Seq2[mes.MachineEvent, error] {
	return func(yield func(mes.MachineEvent, error) bool) {
		i := 0
		for e, err := range s.MemStore.Events(ctx, f) {
			if i == s.n {
				yield(mes.MachineEvent{}, errors.New("disk on fire"))
				return
			}
			i++
			if !yield(e, err) {
				return
			}
		}
	}
}

func TestCompute_StoreAndContextErrors(t *testing.T) {
	events := scenario()
	fs := &failingStore{n: 3}
	require.NoError(t, fs.Publish(context.Background(), events...))
	_, err := Compute(context.Background(), Input{Line: testLine(), Events: fs}, scenarioQuery())
	require.Error(t, err)
	assert.Equal(t, mes.EINTERNAL, mes.ErrorCode(err))
	assert.Contains(t, err.Error(), "disk on fire")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Compute(ctx, Input{Line: testLine(), Events: kpitest.NewMemStore(events...)}, scenarioQuery())
	assert.ErrorIs(t, err, context.Canceled)
}

func TestCompute_FixtureLineEmptyStore(t *testing.T) {
	line, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	rep, err := Compute(context.Background(), Input{Line: line, Events: kpitest.NewMemStore()},
		Query{From: from, To: from.Add(24 * time.Hour), Location: time.UTC})
	require.NoError(t, err)
	assert.Len(t, rep.OEE.Machines, 26)
	assert.Len(t, rep.OEE.Groups, 5)
	require.NotNil(t, rep.OEE.Line)
	// Three 8 h shifts with 30 min breaks cover the day: all planned time is unknown.
	assert.Equal(t, 26*(86400-3*1800.0), rep.OEE.AllMachines.Time.UnknownS)
	assert.Equal(t, 26*3*1800.0, rep.OEE.AllMachines.Time.BreakS)
	assert.Zero(t, rep.OEE.AllMachines.Time.NotScheduledS)
	require.Len(t, rep.Downtime, 1)
	assert.Equal(t, "unknown", rep.Downtime[0].Reason)
	assert.Equal(t, 26, rep.Downtime[0].Count)
	assert.Equal(t, TaktNoDemand, rep.Takt.TargetSource)
	assert.Zero(t, rep.Takt.TargetS)
	assert.Empty(t, rep.Energy.Batches)
	require.Len(t, rep.Cycles.Operations, 5)
	assert.Equal(t, 30, rep.Cycles.Operations[2].Operation)
	assert.Equal(t, 1620.0, rep.Cycles.Operations[2].IdealS)
}

// TestFormulasInREADME keeps README's KPI table and the API's formulas in step.
func TestFormulasInREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for k, f := range Formulas {
		assert.Contains(t, string(readme), "| `"+k+"` | "+f+" |", "README lists %s", k)
	}
}
