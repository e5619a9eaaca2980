//go:build kpibolt

// The durable-store KPI benchmark ingests a synthetic month of events
// first, so it is behind a build tag.

package bolt_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mes/kpi"
	"github.com/pilotline/pilotline/mes/kpi/kpitest"
)

// BenchmarkComputeKPI_Bolt is BenchmarkComputeKPI on the durable store: the
// same synthetic month ingested into a bbolt file, so the figure includes
// reading and decoding the events.
//
//	go test -tags kpibolt ./mes/bolt -run '^$' -bench ComputeKPI_Bolt -benchtime 3x
func BenchmarkComputeKPI_Bolt(b *testing.B) {
	line, month := kpitest.Month(b)
	events := month.All()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "kpi.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	store := bolt.NewEventStore(db)
	ctx := context.Background()
	for i := 0; i < len(events); i += 2000 {
		if err := store.Publish(ctx, events[i:min(i+2000, len(events))]...); err != nil {
			b.Fatal(err)
		}
	}
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, bc := range []struct {
		name string
		q    kpi.Query
	}{
		{"line_30d", kpi.Query{From: from, To: from.Add(30 * 24 * time.Hour), Location: time.UTC}},
		{"line_1d", kpi.Query{From: from.Add(10 * 24 * time.Hour), To: from.Add(11 * 24 * time.Hour), Location: time.UTC}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var rep *kpi.Report
			for b.Loop() {
				rep, err = kpi.Compute(ctx, kpi.Input{Line: line, Events: store}, bc.q)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rep.Events), "events/op")
		})
	}
}
