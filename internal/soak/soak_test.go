package soak

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/pilotline/pilotline/opcua/sim"
)

func TestSchedule(t *testing.T) {
	shift := 8 * time.Hour
	a := schedule(3, shift, 4, 2)
	assert.Equal(t, a, schedule(3, shift, 4, 2), "same seed, same schedule")
	assert.NotEqual(t, a, schedule(4, shift, 4, 2), "another seed, another schedule")

	kinds := map[string]int{}
	down := map[string]int{}
	for i, f := range a {
		if i > 0 {
			assert.GreaterOrEqual(t, f.At, a[i-1].At, "in time order")
		}
		assert.LessOrEqual(t, f.At, time.Duration(float64(shift)*0.85), "%s: the line is whole for the end-of-shift checks", f)
		kinds[f.Kind]++
		for _, id := range f.IDs {
			switch f.Kind {
			case "endpoint-stop", "stall-on", "maint-on":
				down[f.Kind+id]++
			case "endpoint-start":
				down["endpoint-stop"+id]--
			case "stall-off":
				down["stall-on"+id]--
			case "maint-off":
				down["maint-on"+id]--
			}
		}
	}
	for k, n := range down {
		assert.Zero(t, n, "%s is undone", k)
	}
	assert.Equal(t, 2, kinds["mes-kill"])
	assert.Equal(t, 1, kinds["malformed"])
	for _, k := range []string{"endpoint-stop", "stall-on", "alarm-storm", "maint-on"} {
		assert.Positive(t, kinds[k], k)
	}
	var row bool
	for _, f := range a {
		row = row || (f.Kind == "endpoint-stop" && len(f.IDs) == 5)
	}
	assert.True(t, row, "a whole row of grinders is killed")
}

func TestSoakResult_ReportNamesBrokenInvariants(t *testing.T) {
	r := &Result{Seed: 9, Samples: []soakSample{{OffsetS: 0, RSSMB: 30}, {OffsetS: 60, RSSMB: 31, Completed: 2}}}
	r.fail("no serial twice", "serial %s appears %d times", "B1-00001", 2)
	r.fail("no serial twice", "serial %s appears %d times", "B1-00002", 2)
	r.fail("slow viewers dropped", "1 still open")
	assert.Equal(t, []string{"no serial twice", "slow viewers dropped"}, r.broken())
	txt := r.text()
	assert.Contains(t, txt, "[BROKEN] no serial twice")
	assert.Contains(t, txt, "[ok    ] takt matches the raw events")
	assert.Contains(t, txt, "B1-00002 appears 2 times")
	assert.True(t, strings.HasSuffix(txt, "FAIL: no serial twice; slow viewers dropped\n"))
	assert.Contains(t, r.html(), "<svg")
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		in   []float64
		p    float64
		want float64
	}{
		{nil, 99, 0},
		{[]float64{5}, 99, 5},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 50, 5},
		{[]float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 95, 10},
		{[]float64{3, 1, 2}, 99, 3},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, percentile(tt.in, tt.p), "%v p%v", tt.in, tt.p)
	}
}

func TestLagCheck(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	wall0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const speed = 60
	newRun := func(budget time.Duration) *soakRun {
		return &soakRun{
			cfg:    Config{Speed: speed, MaxLag: budget},
			res:    &Result{},
			wallOf: func(src time.Time) time.Time { return wall0.Add(src.Sub(t0) / speed) },
			// The MES was dead from wall +10 s to +20 s; G02's endpoint was
			// stopped over the first simulated hour.
			down:   [][2]time.Time{{wall0.Add(10 * time.Second), wall0.Add(20 * time.Second)}},
			epDown: map[string][][2]time.Time{"G02": {{t0, t0.Add(time.Hour)}}},
		}
	}
	job := func(machine string, simOffset, lag time.Duration) soakEvent {
		src := t0.Add(simOffset)
		return soakEvent{Machine: machine, Kind: "cycle", SourceTime: src, Received: wall0.Add(simOffset / speed).Add(lag)}
	}
	events := []soakEvent{
		job("G01", 1*time.Minute, 300*time.Millisecond),
		job("G01", 2*time.Minute, 500*time.Millisecond),
		job("G01", 12*time.Minute, 9*time.Second), // ended while the MES was dead: left out
		job("G02", 5*time.Minute, 30*time.Second), // its endpoint was down: left out
		job("G03", 30*time.Minute, 700*time.Millisecond),
	}
	r := newRun(time.Second)
	r.lagCheck(events)
	assert.Equal(t, 3, r.res.LagN)
	assert.InDelta(t, 700, r.res.LagP99MS, 1e-6)
	assert.InDelta(t, 500, r.res.LagP50MS, 1e-6)
	assert.Empty(t, r.res.broken(), "within budget")

	r = newRun(600 * time.Millisecond)
	r.lagCheck(events)
	assert.Equal(t, []string{"dispatch never waited on a viewer"}, r.res.broken(), "over budget")

	r = newRun(0)
	r.lagCheck(events)
	assert.Empty(t, r.res.broken(), "budget 0 measures only")
}

func TestGenealogyChecks(t *testing.T) {
	start := &sim.State{Machines: []sim.MachineView{{ID: "G01", Kind: "grinder", Parts: 3}, {ID: "G06", Kind: "grinder", Parts: 0}}}
	end := &sim.State{Machines: []sim.MachineView{{ID: "G01", Kind: "grinder", Parts: 5}, {ID: "G06", Kind: "grinder", Parts: 1}}}
	t1 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	bur := func(serial string, ops ...[2]any) soakBur {
		b := soakBur{Serial: serial, Batch: "B1"}
		for i, op := range ops {
			b.Operations = append(b.Operations, soakOp{Number: 10 * (i + 1), Machine: op[0].(string), CycleSeq: op[1].(uint64),
				Program: "P", Start: t1, End: t1.Add(time.Minute), CycleS: 60})
		}
		return b
	}
	tests := []struct {
		name   string
		burs   []soakBur
		broken []string
	}{
		{"every counted job once", []soakBur{
			bur("B1-1", [2]any{"G01", uint64(4)}, [2]any{"G06", uint64(1)}),
			bur("B1-2", [2]any{"G01", uint64(5)}),
		}, nil},
		{"a counted job without record", []soakBur{
			bur("B1-1", [2]any{"G01", uint64(4)}, [2]any{"G06", uint64(1)}),
		}, []string{"one complete genealogy record per counted job"}},
		{"a job recorded twice", []soakBur{
			bur("B1-1", [2]any{"G01", uint64(4)}, [2]any{"G06", uint64(1)}),
			bur("B1-2", [2]any{"G01", uint64(5)}),
			bur("B1-3", [2]any{"G01", uint64(5)}),
		}, []string{"one complete genealogy record per counted job"}},
		{"a serial twice", []soakBur{
			bur("B1-1", [2]any{"G01", uint64(4)}, [2]any{"G06", uint64(1)}),
			bur("B1-1", [2]any{"G01", uint64(5)}),
		}, []string{"no serial twice"}},
		{"a record the machine never counted", []soakBur{
			bur("B1-1", [2]any{"G01", uint64(4)}, [2]any{"G06", uint64(1)}),
			bur("B1-2", [2]any{"G01", uint64(5)}, [2]any{"G06", uint64(2)}),
		}, []string{"one complete genealogy record per counted job"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &soakRun{res: &Result{}}
			r.genealogyChecks(start, end, tt.burs)
			assert.Equal(t, tt.broken, r.res.broken())
			assert.Equal(t, 3, r.res.CountedJobs)
		})
	}
}

func TestDispatchCheck(t *testing.T) {
	samples := func(completed ...int) []soakSample {
		var s []soakSample
		for i, c := range completed {
			s = append(s, soakSample{OffsetS: float64(i) * 600, Incarnation: 1, Completed: c})
		}
		return s
	}
	tests := []struct {
		name     string
		samples  []soakSample
		broken   bool
		firstOut float64
	}{
		{"a long fill, then steady", samples(0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14), false, 4800},
		{"the line stops after the fill", samples(0, 0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), true, 1200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &soakRun{res: &Result{Samples: tt.samples}}
			r.dispatchCheck()
			assert.Equal(t, tt.broken, len(r.res.broken()) > 0, "longest stretch %v s", r.res.LongestStallS)
			assert.Equal(t, tt.firstOut, r.res.FirstOutS)
		})
	}
}

func TestCommLostCheck(t *testing.T) {
	wall0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const speed = 60 // detection lag 300 s, backoff 1,800 s per outage
	run := func(lost map[string]float64, mesDown time.Duration) *soakRun {
		return &soakRun{
			cfg: Config{Speed: speed},
			res: &Result{
				downBy:     map[string]float64{"G02": 3600, "G07": 600},
				outagesBy:  map[string]int{"G02": 1, "G07": 2},
				commLostBy: lost,
			},
			down: [][2]time.Time{{wall0, wall0.Add(mesDown)}},
		}
	}
	tests := []struct {
		name    string
		lost    map[string]float64
		mesDown time.Duration
		broken  bool
	}{
		{"outages counted, detection and backoff within bounds", map[string]float64{"G02": 3700, "G07": 500}, 0, false},
		{"an outage missing from OEE (stamped off the line's clock)", map[string]float64{"G02": 40, "G07": 600}, 0, true},
		{"the MES dead for part of an outage", map[string]float64{"G02": 2400, "G07": 600}, 20 * time.Second, false},
		{"far more comm lost than the endpoint was down", map[string]float64{"G02": 3600, "G07": 5000}, 0, true},
		{"no KPI for a machine that was down", map[string]float64{"G07": 600}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(tc.lost, tc.mesDown)
			r.commLostCheck()
			if tc.broken {
				assert.Equal(t, []string{"comm-lost periods counted in OEE"}, r.res.broken())
			} else {
				assert.Empty(t, r.res.broken())
			}
		})
	}
}
