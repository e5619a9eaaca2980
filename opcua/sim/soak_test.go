package sim

import (
	"context"
	"testing"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	pl "github.com/pilotline/pilotline/opcua"
)

// TestAutorunSoakInvariants runs the whole line fast, with frequent dressing,
// wheel changes and faults, and checks what must always hold.
func TestAutorunSoakInvariants(t *testing.T) {
	cfg := defaultLine(t, func(c *mes.LineConfig) {
		gateway(c)
		c.Simulation.DressEvery = 2
		c.Simulation.WheelChangeEvery = 2
		c.Simulation.MTBFS = 4000
		c.Simulation.MTTRS = 300
	})
	l := mustStart(t, Options{Line: cfg, Speed: 30000, Seed: 11, Autorun: true})
	type last struct {
		energy float64
		parts  uint32
	}
	prev := map[string]last{}
	states := map[mes.MachineState]bool{}
	var aborted, dressed, changed bool
	wheels := map[string]string{}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, mc := range cfg.Machines {
			v, ok := l.Machine(mc.ID)
			require.True(t, ok)
			p := prev[mc.ID]
			require.GreaterOrEqual(t, v.EnergyKWh, p.energy, "%s energy counter only increases", mc.ID)
			require.GreaterOrEqual(t, v.Parts, p.parts, "%s part counter only increases", mc.ID)
			prev[mc.ID] = last{v.EnergyKWh, v.Parts}
			states[v.State] = true
			if v.LastCycle != nil {
				require.Equal(t, uint64(v.Parts), v.LastCycle.Seq, "%s parts counter equals LastCycle.Seq", mc.ID)
				require.False(t, v.LastCycle.End.Before(v.LastCycle.Start))
				aborted = aborted || v.LastCycle.Aborted
			}
			if mc.Kind == mes.KindGrinder {
				require.InDelta(t, 99.5, v.WheelDiameterMM, 0.6, "%s wheel diameter", mc.ID)
				dressed = dressed || v.DressCount > 0
				if w, ok := wheels[mc.ID]; ok && w != v.WheelID {
					changed = true
				}
				wheels[mc.ID] = v.WheelID
			}
			for i := 1; i < len(v.Alarms); i++ {
				require.Less(t, v.Alarms[i-1].Seq, v.Alarms[i].Seq)
			}
		}
		out, _ := l.Station("OUT")
		if out.Count >= 15 && aborted && dressed && changed && states[mes.StateAlarm] {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	out, _ := l.Station("OUT")
	assert.GreaterOrEqual(t, out.Count, uint64(15), "burs delivered")
	assert.True(t, aborted, "a fault aborted a job")
	assert.True(t, dressed, "wheels were dressed")
	assert.True(t, changed, "a wheel was changed")
	for _, s := range []mes.MachineState{mes.StateIdle, mes.StateGrinding, mes.StateAlarm} {
		assert.True(t, states[s], "state %s seen", s)
	}
	robot, ok := l.Robot("R1")
	require.True(t, ok)
	assert.Contains(t, []string{"MAG", "G01", "G02", "G03", "G04", "G05"}, robot.At)
}

// A whole job inside one tick still gets the exact timestamps of its events.
func TestEventsInsideOneTickKeepTheirTimes(t *testing.T) {
	start := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	l := mustStart(t, Options{Line: defaultLine(t, func(c *mes.LineConfig) { gateway(c); noFaults(c) }),
		Speed: 10000, Tick: 500 * time.Millisecond, Start: start})
	c, nodes := machineNodes(t, l, "G21", false)
	res := dispatchWrite(t, c, nodes, "T-00001", "O4040_NECK", "1.9", 1)
	require.Equal(t, ua.StatusOK, res[3])
	waitFor(t, "job done", func() bool { v, _ := l.Machine("G21"); return v.LastCycle != nil })
	v, _ := l.Machine("G21")
	ct := v.LastCycle.CycleTime().Seconds()
	sim := defaultLine(t, nil).Simulation
	assert.GreaterOrEqual(t, ct, 780.0, "at least the ideal cycle")
	assert.LessOrEqual(t, ct, 780*(1+4*sim.CycleJitter)+2*sim.RobotMoveS+1, "not rounded up to a 5000 s tick")
	dv := readValues(t, c, []*ua.NodeID{nodes["cycle.End"]})[0]
	assert.Equal(t, v.LastCycle.End, dv.SourceTimestamp, "source timestamp is the event's simulated time")
	assert.True(t, v.LastCycle.End.After(start))
}

func TestGetEndpointsAdvertisesThePublicURL(t *testing.T) {
	l := mustStart(t, Options{Line: defaultLine(t, gateway)})
	url := l.Endpoints()[0].URL
	eps, err := gopcua.GetEndpoints(ctxT(t), url)
	require.NoError(t, err)
	require.NotEmpty(t, eps)
	for _, ep := range eps {
		assert.Equal(t, url, ep.EndpointURL)
	}
	ep, err := gopcua.SelectEndpoint(eps, "None", ua.MessageSecurityModeNone)
	require.NoError(t, err)
	c := dial(t, ep.EndpointURL)
	ns := nsIndexes(t, c)
	assert.Len(t, machineObjects(t, c, ns, 0), 26)
}

func TestReadLimits(t *testing.T) {
	l := mustStart(t, Options{Line: defaultLine(t, gateway)})
	c := dial(t, l.Endpoints()[0].URL)
	limit := readValues(t, c, []*ua.NodeID{ua.NewNumericNodeID(0, 11705)})[0] // MaxNodesPerRead
	require.Equal(t, ua.StatusOK, limit.Status)
	assert.Equal(t, uint32(maxNodesPerRead), limit.Value.Value())

	req := &ua.ReadRequest{}
	for range maxNodesPerRead + 1 {
		req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: ua.NewNumericNodeID(0, 2258), AttributeID: ua.AttributeIDValue})
	}
	_, err := c.Read(context.Background(), req)
	assert.ErrorIs(t, err, ua.StatusBadTooManyOperations)
}

// BenchmarkRead500 reads 500 variables of five grinders in one Read against
// one endpoint, as acquisition does every poll.
func BenchmarkRead500(b *testing.B) {
	l := mustStart(b, Options{Line: defaultLine(b, gateway), Speed: 100, Autorun: true})
	c := dial(b, l.Endpoints()[0].URL)
	ns := nsIndexes(b, c)
	objs := machineObjects(b, c, ns, 0)
	var ids []*ua.NodeID
	for _, m := range []string{"G01", "G06", "G11", "G16", "G21"} {
		ids = append(ids, resolve(b, c, ns, objs[m], pl.MachineSignals(false))...)
	}
	require.GreaterOrEqual(b, len(ids), 500)
	ids = ids[:500]
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
	for _, id := range ids {
		req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: id, AttributeID: ua.AttributeIDValue})
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		resp, err := c.Read(ctx, req)
		if err != nil || len(resp.Results) != 500 {
			b.Fatalf("read: %v", err)
		}
	}
}
