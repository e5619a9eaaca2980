package mes_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCanTransition(t *testing.T) {
	allowed := map[[2]mes.BatchState]bool{
		{mes.BatchPlanned, mes.BatchReleased}:     true,
		{mes.BatchPlanned, mes.BatchCancelled}:    true,
		{mes.BatchReleased, mes.BatchRunning}:     true,
		{mes.BatchReleased, mes.BatchHeld}:        true,
		{mes.BatchReleased, mes.BatchCancelled}:   true,
		{mes.BatchRunning, mes.BatchHeld}:         true,
		{mes.BatchRunning, mes.BatchCompleted}:    true,
		{mes.BatchHeld, mes.BatchRunning}:         true,
		{mes.BatchHeld, mes.BatchReleased}:        true,
		{mes.BatchHeld, mes.BatchCompleted}:       true,
		{mes.BatchCompleted, mes.BatchQAReleased}: true,
		{mes.BatchCompleted, mes.BatchRejected}:   true,
	}
	states := []mes.BatchState{mes.BatchPlanned, mes.BatchReleased, mes.BatchRunning, mes.BatchHeld,
		mes.BatchCompleted, mes.BatchQAReleased, mes.BatchRejected, mes.BatchCancelled}
	for _, from := range states {
		for _, to := range states {
			want := allowed[[2]mes.BatchState{from, to}]
			assert.Equal(t, want, mes.CanTransition(from, to), "%s → %s", from, to)
		}
	}
	for _, s := range []mes.BatchState{mes.BatchQAReleased, mes.BatchRejected, mes.BatchCancelled} {
		assert.True(t, s.Terminal(), s)
	}
	assert.False(t, mes.BatchRunning.Terminal())
	assert.False(t, mes.BatchState("paused").Valid())
}

func TestBatchTransition(t *testing.T) {
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	b := &mes.Batch{ID: "B000001", State: mes.BatchPlanned}

	require.NoError(t, b.Transition(mes.BatchReleased, "planner.li", "materials ready", at))
	require.NoError(t, b.Transition(mes.BatchRunning, "system", "", at.Add(time.Minute)))
	require.NoError(t, b.Transition(mes.BatchHeld, "qa.wang", "SPC rule 1 on head diameter", at.Add(time.Hour)))
	assert.Equal(t, mes.BatchRunning, b.ResumeState())

	err := b.Transition(mes.BatchQAReleased, "qa.wang", "", at.Add(2*time.Hour))
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
	assert.Equal(t, mes.BatchHeld, b.State, "a refused transition leaves the batch unchanged")
	assert.Len(t, b.Transitions, 3)

	for _, bad := range []struct {
		to mes.BatchState
		by string
		at time.Time
	}{{"paused", "x", at}, {mes.BatchRunning, " ", at}, {mes.BatchRunning, "x", time.Time{}}} {
		assert.Equal(t, mes.EINVALID, mes.ErrorCode(b.Transition(bad.to, bad.by, "", bad.at)), bad)
	}

	want := []mes.Transition{
		{From: mes.BatchPlanned, To: mes.BatchReleased, By: "planner.li", At: at, Reason: "materials ready"},
		{From: mes.BatchReleased, To: mes.BatchRunning, By: "system", At: at.Add(time.Minute)},
		{From: mes.BatchRunning, To: mes.BatchHeld, By: "qa.wang", At: at.Add(time.Hour), Reason: "SPC rule 1 on head diameter"},
	}
	assert.Equal(t, want, b.Transitions)
	assert.Equal(t, mes.BatchState(""), (&mes.Batch{State: mes.BatchRunning}).ResumeState())
}

func TestBatchQuantityRules(t *testing.T) {
	tests := []struct {
		name      string
		b         mes.Batch
		needBlank bool
		done      bool
	}{
		{"fresh", mes.Batch{Quantity: 3}, true, false},
		{"all started", mes.Batch{Quantity: 3, Started: 3}, false, false},
		{"scrap not replaced", mes.Batch{Quantity: 3, Started: 3, Completed: 2, Scrap: 1}, false, true},
		{"scrap replaced", mes.Batch{Quantity: 3, GoodRequired: true, Started: 3, Completed: 2, Scrap: 1}, true, false},
		{"good reached", mes.Batch{Quantity: 3, GoodRequired: true, Started: 4, Completed: 3, Scrap: 1}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.needBlank, tt.b.NeedsBlank())
			assert.Equal(t, tt.done, tt.b.Done())
		})
	}
}

func TestBatchValidate(t *testing.T) {
	ok := mes.Batch{Product: "500314001001014", Quantity: 10}
	require.NoError(t, ok.Validate())
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for name, mutate := range map[string]func(b *mes.Batch){
		"product":  func(b *mes.Batch) { b.Product = "" },
		"quantity": func(b *mes.Batch) { b.Quantity = 0 },
		"too many": func(b *mes.Batch) { b.Quantity = mes.MaxBatchQuantity + 1 },
		"window":   func(b *mes.Batch) { b.PlannedStart, b.PlannedEnd = start, start.Add(-time.Hour) },
		"state":    func(b *mes.Batch) { b.State = mes.BatchRunning },
	} {
		b := ok
		mutate(&b)
		assert.Equal(t, mes.EINVALID, mes.ErrorCode(b.Validate()), name)
	}
}

func ExampleBatch_Transition() {
	b := &mes.Batch{ID: "B000001", State: mes.BatchPlanned}
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	fmt.Println(b.Transition(mes.BatchReleased, "planner.li", "", at), b.State)
	err := b.Transition(mes.BatchQAReleased, "qa.wang", "", at)
	fmt.Println(mes.ErrorCode(err), b.State)
	// Output:
	// <nil> released
	// conflict released
}
