package bolt_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// BenchmarkBurLifecycle is the store's cost of one bur through the line as
// the dispatcher drives it: start, five operations, the measurement that
// decides it (with its audit entry) — one write transaction each. Run it
// against the previous commit to see what auditing dispositions costs.
func BenchmarkBurLifecycle(b *testing.B) {
	ctx := context.Background()
	s := newServices(b)
	batch := s.releasedBatch(b, b.N+1, false)
	route := s.product.Route
	good := goodValues(s.product)
	var cycle uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		at := t0.Add(time.Duration(i) * time.Minute)
		bur, err := s.burs.StartBur(ctx, batch.ID, at)
		if err != nil {
			b.Fatal(err)
		}
		for j, op := range route {
			cycle++
			st := at.Add(time.Duration(j) * time.Minute)
			if _, err := s.burs.CompleteOperation(ctx, machineFor(op.Group), mes.Cycle{Seq: cycle, Serial: bur.Serial, Program: op.Program,
				ProgramVersion: op.ProgramVersion, WheelID: "W-1", Start: st, End: st.Add(time.Minute), PeakSpindleLoad: 60}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.burs.RecordMeasurement(ctx, mes.Measurement{Seq: uint64(i + 1), Serial: bur.Serial, Station: "QC1",
			GaugeID: "GA-7", Time: at.Add(time.Hour), Values: good}); err != nil {
			b.Fatal(fmt.Errorf("bur %d: %w", i, err))
		}
	}
}
