package bolt_test

import (
	"context"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// goodValues measures in the middle of the test product's tolerances.
func goodValues(p mes.Product) map[string]float64 {
	v := map[string]float64{}
	for ch, tol := range p.Tolerances {
		v[ch] = tol.Nominal
	}
	return v
}

// machineFor returns a machine id of the group, like the dispatcher would pick.
func machineFor(group string) string { return "M-" + group }

// runRoute dispatches and completes every remaining operation of serial,
// using cycle seqs from *seq.
func runRoute(t *testing.T, s *services, serial string, seq *uint64) *mes.Bur {
	t.Helper()
	ctx := context.Background()
	for {
		b, err := s.burs.FindBur(ctx, serial)
		require.NoError(t, err)
		if b.NextOp >= len(s.product.Route) {
			return b
		}
		op := s.product.Route[b.NextOp]
		m := machineFor(op.Group)
		require.NoError(t, s.burs.AssignBur(ctx, serial, m))
		*seq++
		start := t0.Add(time.Duration(*seq) * time.Minute)
		_, err = s.burs.CompleteOperation(ctx, m, mes.Cycle{Seq: *seq, Serial: serial, Program: op.Program, ProgramVersion: op.ProgramVersion,
			WheelID: "W-" + op.Group, DressCount: 3, Start: start, End: start.Add(time.Duration(op.IdealCycleS) * time.Second), EnergyKWh: 0.2})
		require.NoError(t, err)
	}
}

func TestBurService_FullRouteGenealogy(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	b := s.releasedBatch(t, 2, false)

	bur, err := s.burs.StartBur(ctx, b.ID, t0)
	require.NoError(t, err)
	assert.Equal(t, b.ID+"-00001", bur.Serial)
	assert.Equal(t, "LOT-2026-031", bur.BlankLot)
	batch, err := s.batches.FindBatch(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, mes.BatchRunning, batch.State, "the first bur starts the batch")
	assert.Equal(t, 1, batch.Started)
	assert.Equal(t, mes.Transition{From: mes.BatchReleased, To: mes.BatchRunning, By: "system", At: t0, Reason: "first bur started"}, batch.Transitions[len(batch.Transitions)-1])

	var seq uint64
	bur = runRoute(t, s, bur.Serial, &seq)
	require.Len(t, bur.Operations, len(s.product.Route))
	for i, op := range bur.Operations {
		assert.Equal(t, s.product.Route[i].Number, op.Number)
		assert.Equal(t, machineFor(s.product.Route[i].Group), op.Machine)
		assert.Equal(t, s.product.Route[i].Program, op.Program)
		assert.Equal(t, s.product.Route[i].IdealCycleS, op.CycleS)
		assert.Equal(t, uint64(i+1), op.CycleSeq)
	}
	assert.Equal(t, mes.BurInProcess, bur.Disposition, "waits for its measurement")
	assert.Empty(t, bur.Machine)

	m := mes.Measurement{Seq: 1, Serial: bur.Serial, Station: "QC1", GaugeID: "GA-7", Time: t0.Add(time.Hour), Values: goodValues(s.product)}
	bur, err = s.burs.RecordMeasurement(ctx, m)
	require.NoError(t, err)
	assert.Equal(t, mes.BurGood, bur.Disposition)
	assert.Len(t, bur.Results, 5)
	assert.Equal(t, t0.Add(time.Hour), bur.Finished)

	found, err := s.burs.FindBur(ctx, bur.Serial)
	require.NoError(t, err)
	assert.Equal(t, bur, found)

	batch, err = s.batches.FindBatch(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, batch.Completed)
	assert.Equal(t, mes.BatchRunning, batch.State)
}

func TestBurService_Idempotent(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	b := s.releasedBatch(t, 3, false)
	bur, err := s.burs.StartBur(ctx, b.ID, t0)
	require.NoError(t, err)
	op := s.product.Route[0]
	require.NoError(t, s.burs.AssignBur(ctx, bur.Serial, "G01"))
	require.NoError(t, s.burs.AssignBur(ctx, bur.Serial, "G01"), "assigning again to the same machine is a no-op")
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(s.burs.AssignBur(ctx, bur.Serial, "G02")))

	c := mes.Cycle{Seq: 41, Serial: bur.Serial, Program: op.Program, Start: t0, End: t0.Add(13 * time.Minute)}
	first, err := s.burs.CompleteOperation(ctx, "G01", c)
	require.NoError(t, err)
	again, err := s.burs.CompleteOperation(ctx, "G01", c)
	require.NoError(t, err)
	assert.Equal(t, first, again, "a cycle delivered twice is recorded once")
	assert.Len(t, again.Operations, 1)
	assert.Equal(t, 1, again.NextOp)

	other, err := s.burs.CompleteOperation(ctx, "G01", mes.Cycle{Seq: 42, Serial: "B000001-09999"})
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))
	assert.Nil(t, other)

	bur = runRoute(t, s, bur.Serial, new(uint64))
	m := mes.Measurement{Seq: 7, Serial: bur.Serial, Station: "QC1", Time: t0.Add(time.Hour), Values: goodValues(s.product)}
	m1, err := s.burs.RecordMeasurement(ctx, m)
	require.NoError(t, err)
	m2, err := s.burs.RecordMeasurement(ctx, m)
	require.NoError(t, err)
	assert.Equal(t, m1, m2)
	batch, err := s.batches.FindBatch(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, batch.Completed, "a measurement delivered twice counts once")
}

func TestBurService_ScrapAndCompletion(t *testing.T) {
	tests := []struct {
		name         string
		goodRequired bool
		qty          int
		// outcome of each started bur in order: "good", "fail" (measurement), "abort" (cycle aborted)
		outcomes      []string
		wantStarted   int
		wantCompleted int
		wantScrap     int
	}{
		{"scrap counts toward quantity", false, 3, []string{"good", "abort", "fail"}, 3, 1, 2},
		{"scrap replaced until good", true, 2, []string{"abort", "good", "fail", "good"}, 4, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServices(t)
			ctx := context.Background()
			b := s.releasedBatch(t, tt.qty, tt.goodRequired)
			var seq uint64
			for i, outcome := range tt.outcomes {
				batch, err := s.batches.FindBatch(ctx, b.ID)
				require.NoError(t, err)
				require.NotEqual(t, mes.BatchCompleted, batch.State, "completed too early at bur %d", i+1)
				bur, err := s.burs.StartBur(ctx, b.ID, t0)
				require.NoError(t, err)
				switch outcome {
				case "abort":
					require.NoError(t, s.burs.AssignBur(ctx, bur.Serial, "G03"))
					seq++
					bur, err = s.burs.CompleteOperation(ctx, "G03", mes.Cycle{Seq: seq, Serial: bur.Serial, Start: t0, End: t0.Add(time.Minute), Aborted: true})
					require.NoError(t, err)
					assert.Equal(t, mes.BurScrap, bur.Disposition)
					assert.Contains(t, bur.ScrapReason, "aborted on G03")
					assert.True(t, bur.Operations[0].Aborted)
				default:
					runRoute(t, s, bur.Serial, &seq)
					vals := goodValues(s.product)
					if outcome == "fail" {
						vals[mes.CharRadialRunout] = 0.05
					}
					bur, err = s.burs.RecordMeasurement(ctx, mes.Measurement{Seq: uint64(i), Serial: bur.Serial, Station: "QC1", Time: t0, Values: vals})
					require.NoError(t, err)
					if outcome == "fail" {
						assert.Equal(t, mes.BurScrap, bur.Disposition)
						assert.Contains(t, bur.ScrapReason, "radial_runout")
					} else {
						assert.Equal(t, mes.BurGood, bur.Disposition)
					}
				}
			}
			_, err := s.burs.StartBur(ctx, b.ID, t0)
			assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err), "no more burs once the batch is done")
			batch, err := s.batches.FindBatch(ctx, b.ID)
			require.NoError(t, err)
			assert.Equal(t, mes.BatchCompleted, batch.State)
			assert.Equal(t, tt.wantStarted, batch.Started)
			assert.Equal(t, tt.wantCompleted, batch.Completed)
			assert.Equal(t, tt.wantScrap, batch.Scrap)
			last := batch.Transitions[len(batch.Transitions)-1]
			assert.Equal(t, "system", last.By)
			assert.Equal(t, mes.BatchCompleted, last.To)
		})
	}
}

func TestBurService_BatchFullWhileInProcess(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	b := s.releasedBatch(t, 2, true)
	for range 2 {
		_, err := s.burs.StartBur(ctx, b.ID, t0)
		require.NoError(t, err)
	}
	_, err := s.burs.StartBur(ctx, b.ID, t0)
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err), "two burs in process cover the quantity")
	_, err = s.burs.StartBur(ctx, "B000077", t0)
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))
}

func TestBurService_WaitingAndHold(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	first := s.product.Route[0].Group
	second := s.product.Route[1].Group
	b1 := s.releasedBatch(t, 10, false)
	b2 := s.releasedBatch(t, 10, false)

	var serials []string
	for i := range 3 {
		for _, b := range []*mes.Batch{b1, b2} {
			bur, err := s.burs.StartBur(ctx, b.ID, t0.Add(time.Duration(len(serials)+i)*time.Second))
			require.NoError(t, err)
			serials = append(serials, bur.Serial)
		}
	}
	waitingSerials := func(group string, limit int) []string {
		t.Helper()
		ws, err := s.burs.WaitingBurs(ctx, group, limit)
		require.NoError(t, err)
		var out []string
		for _, w := range ws {
			out = append(out, w.Serial)
		}
		return out
	}
	assert.Equal(t, serials, waitingSerials(first, 0), "oldest first")
	assert.Equal(t, serials[:2], waitingSerials(first, 2))
	assert.Empty(t, waitingSerials(second, 0))

	// Dispatch the oldest: it leaves the queue; complete it: it waits for the next group.
	require.NoError(t, s.burs.AssignBur(ctx, serials[0], "G01"))
	assert.Equal(t, serials[1:], waitingSerials(first, 0))
	require.NoError(t, s.burs.UnassignBur(ctx, serials[0], "G02"), "unassigning from another machine changes nothing")
	assert.Equal(t, serials[1:], waitingSerials(first, 0))
	require.NoError(t, s.burs.UnassignBur(ctx, serials[0], "G01"))
	assert.Equal(t, serials, waitingSerials(first, 0), "a refused dispatch puts the bur back in its place")
	require.NoError(t, s.burs.AssignBur(ctx, serials[0], "G01"))
	_, err := s.burs.CompleteOperation(ctx, "G01", mes.Cycle{Seq: 1, Serial: serials[0], Start: t0, End: t0.Add(time.Minute)})
	require.NoError(t, err)
	assert.Equal(t, []string{serials[0]}, waitingSerials(second, 0))

	// Hold b1: its burs disappear from the queue and cannot be started or dispatched.
	_, err = s.batches.TransitionBatch(ctx, b1.ID, mes.BatchHeld, "qa.wang", "suspect wheel", t0)
	require.NoError(t, err)
	assert.Equal(t, []string{serials[1], serials[3], serials[5]}, waitingSerials(first, 0))
	assert.Equal(t, []string{serials[1]}, waitingSerials(first, 1), "limit counts dispatchable burs only")
	assert.Empty(t, waitingSerials(second, 0))
	_, err = s.burs.StartBur(ctx, b1.ID, t0)
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(s.burs.AssignBur(ctx, serials[2], "G01")))

	_, err = s.batches.TransitionBatch(ctx, b1.ID, mes.BatchRunning, "qa.wang", "wheel checked", t0)
	require.NoError(t, err)
	assert.Equal(t, serials[1:], waitingSerials(first, 0), "resuming restores the queue")

	list, err := s.burs.ListBurs(ctx, b2.ID)
	require.NoError(t, err)
	var got []string
	for _, b := range list {
		got = append(got, b.Serial)
	}
	assert.Equal(t, []string{serials[1], serials[3], serials[5]}, got)
	_, err = s.burs.ListBurs(ctx, "B000099")
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))
}

func TestBurService_InspectionCycleAfterMeasurement(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	b := s.releasedBatch(t, 1, false)
	bur, err := s.burs.StartBur(ctx, b.ID, t0)
	require.NoError(t, err)
	var seq uint64
	for i := range len(s.product.Route) - 1 {
		op := s.product.Route[i]
		seq++
		require.NoError(t, s.burs.AssignBur(ctx, bur.Serial, machineFor(op.Group)))
		_, err := s.burs.CompleteOperation(ctx, machineFor(op.Group), mes.Cycle{Seq: seq, Serial: bur.Serial, Start: t0, End: t0.Add(time.Minute)})
		require.NoError(t, err)
	}
	require.NoError(t, s.burs.AssignBur(ctx, bur.Serial, "QC1"))
	bur, err = s.burs.RecordMeasurement(ctx, mes.Measurement{Seq: 1, Serial: bur.Serial, Station: "QC1", Time: t0, Values: goodValues(s.product)})
	require.NoError(t, err)
	assert.Equal(t, mes.BurGood, bur.Disposition)
	assert.Empty(t, bur.Machine)

	bur, err = s.burs.CompleteOperation(ctx, "QC1", mes.Cycle{Seq: 1, Serial: bur.Serial, Start: t0, End: t0.Add(90 * time.Second)})
	require.NoError(t, err)
	assert.Len(t, bur.Operations, len(s.product.Route), "the inspection's own cycle still enters the genealogy")
	assert.Equal(t, len(s.product.Route), bur.NextOp)
	bur, err = s.burs.CompleteOperation(ctx, "G01", mes.Cycle{Seq: 99, Serial: bur.Serial, Start: t0, End: t0.Add(time.Minute)})
	require.NoError(t, err)
	assert.Len(t, bur.Operations, len(s.product.Route), "a finished bur takes no more operations")
	batch, err := s.batches.FindBatch(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, mes.BatchCompleted, batch.State)
	assert.Equal(t, 1, batch.Completed)
}
