package plant_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mqtt/mqtttest"
	"github.com/pilotline/pilotline/mqtt/plant"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat"
)

// runLine feeds a line like acquisition at speed 1: every 500 ms one
// sample per grinder (the default poll interval), a state change and a
// finished job every few seconds, each stamped with the time it happens.
func runLine(ctx context.Context, l *line, wg *sync.WaitGroup) {
	defer wg.Done()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	states := []mes.MachineState{mes.StateGrinding, mes.StateUnloading, mes.StateLoading, mes.StateGrinding}
	for r := 0; ; r++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		var ev []mes.MachineEvent
		for g := 1; g <= 25; g++ {
			ev = append(ev, mes.MachineEvent{Machine: fmt.Sprintf("G%02d", g), Kind: mes.EventSample, SourceTime: now, Sample: &mes.Sample{
				SpindleSpeed: 12000 + float64((r+g)%9), SpindleLoad: 35 + float64((r*g)%20), CoolantTemp: 21 + float64(r%3)/10,
				PowerKW: 3 + float64((r+g)%5)/10, EnergyKWh: float64(r*25+g) / 1000, Progress: float64((r+g)%20) / 20}})
		}
		g := fmt.Sprintf("G%02d", r%25+1)
		ev = append(ev, mes.MachineEvent{Machine: g, Kind: mes.EventState, SourceTime: now, State: states[r%len(states)]})
		if r%4 == 3 {
			ev = append(ev, mes.MachineEvent{Machine: g, Kind: mes.EventCycle, SourceTime: now, Cycle: &mes.Cycle{
				Seq: uint64(r), Serial: fmt.Sprintf("B000001-%05d", r), Program: "O3030_FLUTE6", Start: now.Add(-170 * time.Second), End: now}})
		}
		l.p.Publish(ctx, ev...)
	}
}

// BenchmarkPlant_TenLines runs ten lines of 25 grinders (one publisher
// and store each, fed at speed-1 rates) through one Mosquitto to one plant
// view for 30 s and reports the latency from a machine's source timestamp
// to the plant view applying it, and the broker bandwidth per line.
func BenchmarkPlant_TenLines(b *testing.B) {
	broker := mqtttest.MustMosquitto(b)
	for i := 0; i < b.N; i++ {
		v := startView(b, broker.URL())
		var mu sync.Mutex
		var lat []float64
		v.Model().Observe = func(src, at time.Time) {
			mu.Lock()
			lat = append(lat, float64(at.Sub(src).Microseconds())/1000)
			mu.Unlock()
		}
		var lines []*line
		for n := 1; n <= 10; n++ {
			lines = append(lines, newLine(b, broker.URL(), fmt.Sprintf("Line %d", n)))
		}
		for n := range lines {
			waitCard(b, v, fmt.Sprintf("line-%d", n+1), "its birth", func(c plant.Card) bool { return !c.Stale && c.Grinders == 25 })
		}
		mu.Lock()
		lat = lat[:0]
		mu.Unlock()
		var sent0 uint64
		for _, l := range lines {
			sent0 += l.p.Status().SentBytes
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		start := time.Now()
		for _, l := range lines {
			wg.Add(1)
			go runLine(ctx, l, &wg)
		}
		time.Sleep(30 * time.Second)
		cancel()
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		var sent uint64
		for _, l := range lines {
			sent += l.p.Status().SentBytes
		}
		time.Sleep(time.Second) // the last messages reach the view
		mu.Lock()
		xs := slices.Clone(lat)
		mu.Unlock()
		require.NotEmpty(b, xs)
		slices.Sort(xs)
		b.ReportMetric(stat.Quantile(0.5, stat.Empirical, xs, nil), "p50-ms")
		b.ReportMetric(stat.Quantile(0.99, stat.Empirical, xs, nil), "p99-ms")
		b.ReportMetric(xs[len(xs)-1], "max-ms")
		b.ReportMetric(float64(len(xs)), "messages")
		b.ReportMetric(float64(sent-sent0)/elapsed/10/1024, "KB/s-per-line")
		for _, l := range lines {
			l.stop()
		}
	}
}
