package bolt_test

import (
	"context"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProductService(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()

	got, err := s.products.FindProduct(ctx, s.product.ISO)
	require.NoError(t, err)
	assert.Equal(t, s.product, *got)

	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(s.products.CreateProduct(ctx, &s.product)))
	bad := s.product
	bad.ISO = "50031400100101"
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(s.products.CreateProduct(ctx, &bad)))
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(s.products.CreateProduct(ctx, nil)))
	_, err = s.products.FindProduct(ctx, "806204141534016")
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))

	other := s.product
	other.ISO, other.Name, other.ShankType = "500204001001014", "round bur RA", "RA"
	require.NoError(t, s.products.CreateProduct(ctx, &other))
	list, err := s.products.ListProducts(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, []string{"500204001001014", "500314001001014"}, []string{list[0].ISO, list[1].ISO}, "ordered by ISO number")
}

func TestBatchService_CreateFindList(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()

	b1 := &mes.Batch{Product: s.product.ISO, Quantity: 10, Org: "Acme", Completed: 99,
		Transitions: []mes.Transition{{By: "planner.li", Reason: "order 4711"}}}
	require.NoError(t, s.batches.CreateBatch(ctx, b1))
	assert.Equal(t, "B000001", b1.ID)
	assert.Equal(t, mes.BatchPlanned, b1.State)
	assert.Equal(t, 0, b1.Completed, "counts belong to the store")
	assert.Equal(t, []mes.Transition{{To: mes.BatchPlanned, By: "planner.li", At: s.clock.Now(), Reason: "order 4711"}}, b1.Transitions)

	b2 := s.releasedBatch(t, 5, true)
	assert.Equal(t, "B000002", b2.ID)
	assert.Equal(t, mes.BatchReleased, b2.State)
	b3 := &mes.Batch{Product: s.product.ISO, Quantity: 1, Org: "Beta"}
	require.NoError(t, s.batches.CreateBatch(ctx, b3))

	got, err := s.batches.FindBatch(ctx, "B000002")
	require.NoError(t, err)
	assert.Equal(t, b2, got)
	for _, id := range []string{"B000009", "B2", "X000001", "", "B0000001"} {
		_, err := s.batches.FindBatch(ctx, id)
		assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err), id)
	}

	tests := []struct {
		name string
		f    mes.BatchFilter
		want []string
	}{
		{"all newest first", mes.BatchFilter{}, []string{"B000003", "B000002", "B000001"}},
		{"by org", mes.BatchFilter{Org: "Acme"}, []string{"B000001"}},
		{"by state", mes.BatchFilter{States: []mes.BatchState{mes.BatchReleased, mes.BatchRunning}}, []string{"B000002"}},
		{"none", mes.BatchFilter{Org: "Nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := s.batches.ListBatches(ctx, tt.f)
			require.NoError(t, err)
			var ids []string
			for _, b := range list {
				ids = append(ids, b.ID)
			}
			assert.Equal(t, tt.want, ids)
		})
	}

	for name, b := range map[string]*mes.Batch{
		"unknown product": {Product: "806204141534016", Quantity: 1},
		"zero quantity":   {Product: s.product.ISO},
		"running":         {Product: s.product.ISO, Quantity: 1, State: mes.BatchRunning},
	} {
		assert.Equal(t, mes.EINVALID, mes.ErrorCode(s.batches.CreateBatch(ctx, b)), name)
	}
}

func TestBatchService_Transition(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	b := &mes.Batch{Product: s.product.ISO, Quantity: 2}
	require.NoError(t, s.batches.CreateBatch(ctx, b))
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

	got, err := s.batches.TransitionBatch(ctx, b.ID, mes.BatchReleased, "planner.li", "blanks in stock", at)
	require.NoError(t, err)
	assert.Equal(t, mes.BatchReleased, got.State)

	_, err = s.batches.TransitionBatch(ctx, b.ID, mes.BatchQAReleased, "qa.wang", "", at)
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
	_, err = s.batches.TransitionBatch(ctx, "B000042", mes.BatchHeld, "qa.wang", "", at)
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))

	got, err = s.batches.TransitionBatch(ctx, b.ID, mes.BatchHeld, "qa.wang", "deviation 17", time.Time{})
	require.NoError(t, err)
	stored, err := s.batches.FindBatch(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, got, stored)
	require.Len(t, stored.Transitions, 3)
	// The store's clock reads earlier than the release: the hold is not
	// stamped before the transition it follows.
	require.True(t, s.clock.Now().Before(at))
	assert.Equal(t, mes.Transition{From: mes.BatchReleased, To: mes.BatchHeld, By: "qa.wang", At: at, Reason: "deviation 17"}, stored.Transitions[2])
	assert.Equal(t, mes.BatchReleased, stored.ResumeState())
}
