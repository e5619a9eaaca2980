package twin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/twin/twintest"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkFanout1000 connects 1,000 viewers over loopback and changes the
// line 10 times a second (one grinder state change each, stamped with the
// wall clock as source time), so every viewer receives 10 deltas/s. It
// reports the delivery latency from Publish to the viewer's read, and the
// process CPU (hub and viewers together) in cores.
//
//	go test -run '^$' -bench Fanout -benchtime 1x ./twin
func BenchmarkFanout1000(b *testing.B) {
	viewers := benchViewers
	const rate = 10 // deltas per second
	run := 10 * time.Second
	if testing.Short() {
		run = 3 * time.Second
	}
	for range b.N {
		h, srv, _ := MustStartHub(b, HubOptions{})
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		conns := make([]*websocket.Conn, 0, viewers)
		for range viewers {
			c, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, ""), nil)
			require.NoError(b, err)
			resp.Body.Close()
			conns = append(conns, c)
		}
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := make([]time.Duration, 0, rate*int(run/time.Second)+10)
				marker, timeMarker := []byte(`"src":"`), []byte(`"time":"`)
				for {
					_, msg, err := c.ReadMessage()
					if err != nil {
						break
					}
					now := time.Now()
					if !bytes.HasPrefix(msg, []byte(`{"type":"delta"`)) {
						continue
					}
					// Read only the source time: a viewer's JSON decoding is the
					// browser's cost, not the hub's.
					// "src" is omitted when it equals "time".
					i, n := bytes.Index(msg, marker), len(marker)
					if i < 0 {
						i, n = bytes.Index(msg, timeMarker), len(timeMarker)
					}
					if i < 0 {
						continue
					}
					rest := msg[i+n:]
					j := bytes.IndexByte(rest, '"')
					src, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
					if err == nil {
						local = append(local, now.Sub(src))
					}
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}()
		}
		for h.Viewers() < viewers {
			time.Sleep(10 * time.Millisecond)
		}
		states := []mes.MachineState{mes.StateGrinding, mes.StateUnloading, mes.StateIdle, mes.StateLoading}
		tick := time.NewTicker(time.Second / rate)
		start, cpu0 := time.Now(), cpuTime()
		sent := 0
		for time.Since(start) < run {
			<-tick.C
			id := fmt.Sprintf("G%02d", 1+sent%25)
			_ = h.Publish(context.Background(), mes.MachineEvent{Machine: id, Kind: mes.EventState, SourceTime: time.Now(), State: states[sent%4]})
			sent++
		}
		tick.Stop()
		time.Sleep(300 * time.Millisecond)
		wall, cpu := time.Since(start), cpuTime()-cpu0
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
		b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(lat))/float64(viewers)/wall.Seconds(), "deltas/s/viewer")
		b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu-cores")
		b.Logf("%d viewers, %d deltas received, %d events published in %v", viewers, len(lat), sent, wall.Round(time.Millisecond))
	}
}

// BenchmarkBytesPerViewer runs the generated 25-grinder line at speed 1
// (samples every 500 ms per grinder as acquisition polls, 100 ms ticks) for
// an hour of line time through the hub's delta encoder, and reports what
// one unfiltered viewer receives per second, WebSocket framing included.
// Baseline in the same run: sending a full snapshot every tick.
//
//	go test -run '^$' -bench BytesPerViewer -benchtime 1x ./twin
func BenchmarkBytesPerViewer(b *testing.B) {
	line := MustLoadLine(b)
	const tick = 100 * time.Millisecond
	span := time.Hour
	for range b.N {
		m := NewModel(line)
		g := twintest.NewGenerator(line, 11, t0)
		g.AlarmEvery = 8 * time.Hour
		for _, ev := range g.Start() {
			m.Apply(ev)
		}
		// Warm up for an hour so the timeline and tray are realistic.
		for range int(time.Hour / (10 * time.Second)) {
			for _, ev := range g.Step(10 * time.Second) {
				m.Apply(ev)
			}
		}
		d := newDiffer(Filter{}, 0, m.Snapshot())
		m.takeSpans()
		frame := func(n int) int { // server frame header
			switch {
			case n < 126:
				return n + 2
			case n < 1<<16:
				return n + 4
			}
			return n + 10
		}
		var deltaBytes, snapBytes, msgs int
		maxDelta := 0
		for i := range int(span / tick) {
			for _, ev := range g.Step(tick) {
				m.Apply(ev)
			}
			s := m.Snapshot()
			delta, ok, err := d.diff(s, m.takeSpans())
			require.NoError(b, err)
			if ok {
				raw, err := json.Marshal(delta)
				require.NoError(b, err)
				deltaBytes += frame(len(raw))
				maxDelta = max(maxDelta, len(raw))
				msgs++
			}
			if i%20 == 0 { // the baseline is steady: sample it
				raw, err := json.Marshal(s)
				require.NoError(b, err)
				snapBytes += 20 * frame(len(raw))
			}
		}
		secs := span.Seconds()
		b.ReportMetric(float64(deltaBytes)/secs, "B/s/viewer")
		b.ReportMetric(float64(snapBytes)/secs, "baseline-snapshot-B/s")
		b.ReportMetric(float64(msgs)/secs, "msgs/s")
		b.Logf("deltas: %.0f B/s (largest %d B); full snapshot every tick: %.0f B/s (%.0f× more)",
			float64(deltaBytes)/secs, maxDelta, float64(snapBytes)/secs, float64(snapBytes)/float64(deltaBytes))
	}
}

// benchViewers is the fan-out of BenchmarkFanout1000.
var benchViewers = 1000
