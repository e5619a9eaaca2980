package mqtt_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mqtt"
	"github.com/pilotline/pilotline/mqtt/mqtttest"
	"github.com/stretchr/testify/require"
)

// ingest publishes rounds of one sample per grinder, from one goroutine
// per grinder as acquisition does, through sink and returns events/s.
func ingest(tb testing.TB, sink mes.EventSink, rounds int, t0 time.Time) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	for g := 1; g <= 25; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("G%02d", g)
			for r := 0; r < rounds; r++ {
				at := t0.Add(time.Duration(r) * 500 * time.Millisecond)
				ev := []mes.MachineEvent{{Machine: id, Kind: mes.EventSample, SourceTime: at, Sample: &mes.Sample{
					SpindleSpeed: 12000 + float64(r%7), SpindleLoad: 40 + float64(r%11), PowerKW: 3.5, EnergyKWh: float64(r) / 100, Progress: float64(r%10) / 10}}}
				if r%10 == 9 {
					ev = append(ev, mes.MachineEvent{Machine: id, Kind: mes.EventCycle, SourceTime: at, Cycle: &mes.Cycle{
						Seq: uint64(r/10 + 1), Serial: fmt.Sprintf("B000001-%05d", g*1000+r), Program: "O3030_FLUTE6", Start: at.Add(-5 * time.Second), End: at}})
				}
				if err := sink.Publish(context.Background(), ev...); err != nil {
					tb.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := 25 * (rounds + rounds/10)
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkIngestion_PublishingOnOff is the line's own ingestion rate
// (25 acquisition goroutines into the durable event store) with the plant
// bus publisher after the store, against the store alone, in one run:
// alternating rounds so both see the same machine. ratio = on/off.
func BenchmarkIngestion_PublishingOnOff(b *testing.B) {
	broker := mqtttest.MustMosquitto(b)
	line := testLine(b)
	const rounds = 200 // 5,500 events per pass
	var off, on []float64
	for i := 0; i < b.N; i++ {
		for pass := 0; pass < 3; pass++ {
			for _, publishing := range []bool{false, true} {
				dir := b.TempDir()
				db, err := bolt.Open(filepath.Join(dir, "pilotline.db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
				require.NoError(b, err)
				events := bolt.NewEventStore(db)
				sink := mes.Sinks{events}
				var stop func()
				if publishing {
					cfg, err := mqtt.NewConfig(line, broker.URL())
					require.NoError(b, err)
					p, err := mqtt.New(mqtt.Options{Config: cfg, Line: line, Outbox: bolt.NewOutboxService(db, 0), Logger: slog.New(slog.DiscardHandler)})
					require.NoError(b, err)
					ctx, cancel := context.WithCancel(context.Background())
					done := make(chan struct{})
					go func() { defer close(done); p.Run(ctx) }()
					stop = func() { cancel(); <-done }
					sink = mes.Sinks{events, p}
				}
				rate := ingest(b, sink, rounds, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
				if stop != nil {
					stop()
					on = append(on, rate)
				} else {
					off = append(off, rate)
				}
				db.Close()
			}
		}
	}
	mOff, mOn := mean(off), mean(on)
	b.ReportMetric(mOff, "events/s-off")
	b.ReportMetric(mOn, "events/s-on")
	b.ReportMetric(mOn/mOff, "ratio-on/off")
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
