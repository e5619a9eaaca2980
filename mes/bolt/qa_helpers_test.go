package bolt_test

import (
	"context"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/require"
)

// completedBatch makes a batch of n burs through the whole route; the burs
// whose seq is in bad are measured with the first characteristic far out
// of tolerance. It returns the batch as stored.
func completedBatch(t *testing.T, s *services, n int, bad ...int) *mes.Batch {
	t.Helper()
	ctx := context.Background()
	b := s.releasedBatch(t, n, false)
	var cycle, mseq uint64
	for i := 1; i <= n; i++ {
		bur, err := s.burs.StartBur(ctx, b.ID, t0.Add(time.Duration(i)*time.Minute))
		require.NoError(t, err)
		runRoute(t, s, bur.Serial, &cycle)
		v := goodValues(s.product)
		for _, j := range bad {
			if j == i {
				for ch, tol := range s.product.Tolerances {
					v[ch] = tol.Upper + 1
					break
				}
			}
		}
		mseq++
		_, err = s.burs.RecordMeasurement(ctx, mes.Measurement{Seq: mseq, Serial: bur.Serial, Station: "QC1", GaugeID: "GA-7",
			Time: t0.Add(time.Duration(i)*time.Minute + time.Hour), Values: v})
		require.NoError(t, err)
	}
	got, err := s.batches.FindBatch(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, mes.BatchCompleted, got.State)
	return got
}

func collectSeq[T any](t *testing.T, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}
