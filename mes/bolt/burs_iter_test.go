package bolt_test

import (
	"context"
	"testing"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchBurs_ChunksAndRestarts(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	b := s.releasedBatch(t, 600, false)
	other := s.releasedBatch(t, 3, false)
	for range 600 {
		_, err := s.burs.StartBur(ctx, b.ID, t0)
		require.NoError(t, err)
	}
	for range 3 {
		_, err := s.burs.StartBur(ctx, other.ID, t0)
		require.NoError(t, err)
	}
	want, err := s.burs.ListBurs(ctx, b.ID)
	require.NoError(t, err)
	seq := s.burs.BatchBurs(ctx, b.ID)
	for range 2 { // re-iterable: the second range starts over
		got := collectSeq(t, seq)
		require.Len(t, got, 600, "more than two chunks, nothing of the other batch")
		assert.Equal(t, want, got)
	}
	n := 0
	for range seq {
		if n++; n == 300 {
			break
		}
	}
	assert.Equal(t, 300, n, "stopping early is fine")

	for _, err := range s.burs.BatchBurs(ctx, "B000099") {
		assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))
	}
}
