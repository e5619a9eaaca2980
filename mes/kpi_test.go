package mes

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"testing"
	"time"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestComputeKPI_Invalid(t *testing.T) {
	from := kpiTestDay
	ok := KPIQuery{From: from, To: from.Add(time.Hour)}
	with := func(f func(q *KPIQuery)) KPIQuery { q := ok; f(&q); return q }
	store := newKPIMemStore()
	tests := []struct {
		name string
		in   KPIInput
		q    KPIQuery
	}{
		{"no line", KPIInput{Events: store}, ok},
		{"no store", KPIInput{Line: kpiTestLine()}, ok},
		{"no from", KPIInput{}, with(func(q *KPIQuery) { q.From = time.Time{} })},
		{"to before from", KPIInput{}, with(func(q *KPIQuery) { q.To = from.Add(-time.Second) })},
		{"to equals from", KPIInput{}, with(func(q *KPIQuery) { q.To = from })},
		{"over 400 days", KPIInput{}, with(func(q *KPIQuery) { q.To = from.Add(401 * 24 * time.Hour) })},
		{"negative last n", KPIInput{}, with(func(q *KPIQuery) { q.LastN = -1 })},
		{"unknown machine", KPIInput{}, with(func(q *KPIQuery) { q.Machine = "G99" })},
		{"unknown group", KPIInput{}, with(func(q *KPIQuery) { q.Group = "NOPE" })},
		{"unknown shift", KPIInput{}, with(func(q *KPIQuery) { q.Shift = "Z" })},
		{"machine not in group", KPIInput{}, with(func(q *KPIQuery) { q.Machine = "M1"; q.Group = "QC" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if in.Line == nil && in.Events == nil {
				in = KPIInput{Line: kpiTestLine(), Events: store}
			}
			rep, err := ComputeKPI(context.Background(), in, tt.q)
			assert.Nil(t, rep)
			assert.Equal(t, EINVALID, ErrorCode(err), "%v", err)
		})
	}
	rep, err := ComputeKPI(context.Background(), KPIInput{Line: kpiTestLine(), Events: store},
		with(func(q *KPIQuery) {
			q.To = from.Add(400 * 24 * time.Hour)
			q.Machine = "M1"
			q.Group = "GRD"
			q.Shift = "A"
		}))
	require.NoError(t, err, "400 days and a consistent filter are fine")
	assert.Len(t, rep.OEE.Machines, 1)
}

// kpiFailingStore fails after yielding n events.
type kpiFailingStore struct {
	kpiMemStore
	n int
}

func (s *kpiFailingStore) Events(ctx context.Context, f EventFilter) iter.Seq2[MachineEvent, error] {
	return func(yield func(MachineEvent, error) bool) {
		i := 0
		for e, err := range s.kpiMemStore.Events(ctx, f) {
			if i == s.n {
				yield(MachineEvent{}, errors.New("disk on fire"))
				return
			}
			i++
			if !yield(e, err) {
				return
			}
		}
	}
}

func TestComputeKPI_StoreAndContextErrors(t *testing.T) {
	events := oeeScenario()
	fs := &kpiFailingStore{n: 3}
	require.NoError(t, fs.Publish(context.Background(), events...))
	_, err := ComputeKPI(context.Background(), KPIInput{Line: kpiTestLine(), Events: fs}, oeeScenarioQuery())
	require.Error(t, err)
	assert.Equal(t, EINTERNAL, ErrorCode(err))
	assert.Contains(t, err.Error(), "disk on fire")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = ComputeKPI(ctx, KPIInput{Line: kpiTestLine(), Events: newKPIMemStore(events...)}, oeeScenarioQuery())
	assert.ErrorIs(t, err, context.Canceled)
}

func TestComputeKPI_FixtureLineEmptyStore(t *testing.T) {
	line, err := LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	rep, err := ComputeKPI(context.Background(), KPIInput{Line: line, Events: newKPIMemStore()},
		KPIQuery{From: from, To: from.Add(24 * time.Hour), Location: time.UTC})
	require.NoError(t, err)
	assert.Len(t, rep.OEE.Machines, 26)
	assert.Len(t, rep.OEE.Groups, 5)
	require.NotNil(t, rep.OEE.Line)
	// Three 8 h shifts with 30 min breaks cover the day: all planned time is unknown.
	assert.Equal(t, 26*(86400-3*1800.0), rep.OEE.Line.Time.UnknownS)
	assert.Equal(t, 26*3*1800.0, rep.OEE.Line.Time.BreakS)
	assert.Zero(t, rep.OEE.Line.Time.NotScheduledS)
	require.Len(t, rep.Downtime, 1)
	assert.Equal(t, "unknown", rep.Downtime[0].Reason)
	assert.Equal(t, 26, rep.Downtime[0].Count)
	assert.Equal(t, 180.0, rep.Takt.TargetS)
	assert.Empty(t, rep.Energy.Batches)
	require.Len(t, rep.Cycles.Operations, 5)
	assert.Equal(t, 30, rep.Cycles.Operations[2].Operation)
	assert.Equal(t, 1620.0, rep.Cycles.Operations[2].IdealS)
}
