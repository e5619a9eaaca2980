package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	pl "github.com/pilotline/pilotline/opcua"
)

func gateway(c *mes.LineConfig) { c.Simulation.Layout = mes.LayoutGateway }

func TestGatewayServesEveryMachineOnOneEndpoint(t *testing.T) {
	l := mustStart(t, Options{Line: defaultLine(t, gateway)})
	eps := l.Endpoints()
	require.Len(t, eps, 1)
	assert.Equal(t, GatewayEndpoint, eps[0].ID)

	c := dial(t, eps[0].URL)
	ns := nsIndexes(t, c)
	all := machineObjects(t, c, ns, 0)
	assert.Len(t, all, 26)
	// Small pages: the rest comes through BrowseNext.
	paged := machineObjects(t, c, ns, 4)
	assert.Equal(t, all, paged)

	ids := resolve(t, c, ns, all["QC1"], pl.MachineSignals(true))
	vals := readValues(t, c, ids)
	for _, v := range vals {
		assert.Equal(t, ua.StatusOK, v.Status)
	}

	bound := l.Bind(defaultLine(t, gateway))
	require.NoError(t, bound.Validate())
	require.Len(t, bound.Endpoints, 1)
	for _, m := range bound.Machines {
		assert.Equal(t, GatewayEndpoint, m.Endpoint)
	}
	assert.Equal(t, GatewayEndpoint, bound.Robots[0].Endpoint)
}

func TestBindPerMachine(t *testing.T) {
	l := mustStart(t, Options{Line: defaultLine(t, func(c *mes.LineConfig) {
		c.Machines = c.Machines[:3]
		c.Robots = c.Robots[:1]
		c.Robots[0].Serves = []string{"MAG", "G01"}
		c.Products[0].Route = c.Products[0].Route[:1]
	})})
	orig := defaultLine(t, nil)
	bound := l.Bind(orig)
	assert.Empty(t, orig.Endpoints, "Bind leaves its argument alone")
	require.Len(t, bound.Endpoints, 4)
	assert.Equal(t, "G01", bound.Machines[0].Endpoint)
	assert.Equal(t, CellEndpoint, bound.Robots[0].Endpoint)
	assert.Equal(t, CellEndpoint, bound.Stations[0].Endpoint)
}

func TestPortBaseGivesStablePorts(t *testing.T) {
	base, err := freePort("127.0.0.1")
	require.NoError(t, err)
	l := mustStart(t, Options{Line: defaultLine(t, gateway), PortBase: base})
	assert.Equal(t, fmt.Sprintf("opc.tcp://127.0.0.1:%d", base), l.Endpoints()[0].URL)
}

func TestAutorunMakesBurs(t *testing.T) {
	l := mustStart(t, Options{Line: defaultLine(t, gateway), Speed: 20000, Seed: 3, Autorun: true})
	waitFor(t, "burs reach the output tray", func() bool {
		out, _ := l.Station("OUT")
		return out.Count >= 3
	})
	out, _ := l.Station("OUT")
	assert.NotEmpty(t, out.LastSerial)
	mag, _ := l.Station("MAG")
	assert.Less(t, mag.Count, uint64(2000))
	qc, _ := l.Machine("QC1")
	require.NotNil(t, qc.LastMeasurement)
	assert.Len(t, qc.LastMeasurement.Values, 5)
	assert.Equal(t, "OG200-QC1-0417", qc.LastMeasurement.GaugeID)

	// The same facts over OPC UA.
	c := dial(t, l.Endpoints()[0].URL)
	ns := nsIndexes(t, c)
	sig := []pl.Signal{{Key: "out", Path: []pl.QName{{NS: pl.NsPL, Name: "Cell"}, {NS: pl.NsPL, Name: "OUT"}, {NS: pl.NsPL, Name: "Count"}}}}
	id := resolve(t, c, ns, ua.NewNumericNodeID(0, 85), sig)
	assert.GreaterOrEqual(t, readValues(t, c, id)[0].Value.Value().(uint32), uint32(3))
}

func TestStopAndStartEndpoint(t *testing.T) {
	l := mustStart(t, Options{Line: defaultLine(t, func(c *mes.LineConfig) {
		noFaults(c)
		c.Machines = c.Machines[:3]
		c.Robots = c.Robots[:1]
		c.Robots[0].Serves = []string{"MAG", "G01", "G02", "G03"}
		c.Products[0].Route = c.Products[0].Route[:1]
	}), Speed: 2000, Autorun: true})
	c2, nodes2 := machineNodes(t, l, "G02", false)
	c3, nodes3 := machineNodes(t, l, "G03", false)
	url := endpointURL(t, l, "G02")

	require.NoError(t, l.StopEndpoint("G02"))
	_, err := c2.Read(ctxT(t), &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: nodes2[pl.KeyParts], AttributeID: ua.AttributeIDValue}}})
	assert.Error(t, err, "connection to a stopped endpoint is gone")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	dead, err := gopcua.NewClient(url, gopcua.AutoReconnect(false))
	require.NoError(t, err)
	assert.Error(t, dead.Connect(ctx), "every connection is reset")
	// the port stays reserved while stopped: nothing else can take it
	host := strings.TrimPrefix(url, "opc.tcp://")
	if ln, err := net.Listen("tcp", host); err == nil {
		ln.Close()
		t.Fatalf("%s could be taken while the endpoint was stopped", host)
	}

	// The machine behind it keeps working, and the others stay reachable.
	before, _ := l.Machine("G02")
	waitFor(t, "G02 keeps producing", func() bool { v, _ := l.Machine("G02"); return v.Parts > before.Parts+1 })
	assert.Equal(t, "G03", readKey(t, c3, nodes3, pl.KeyInstanceURI).(string)[len("urn:pilotline:machine:"):])

	require.NoError(t, l.StartEndpoint("G02"))
	c2b, nodes2b := machineNodes(t, l, "G02", false)
	assert.Equal(t, url, endpointURL(t, l, "G02"), "same port")
	parts := readKey(t, c2b, nodes2b, pl.KeyParts).(uint32)
	assert.GreaterOrEqual(t, parts, before.Parts+2)

	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(l.StopEndpoint("G99")))
}

func TestStalledEndpointStopsAnswering(t *testing.T) {
	l := mustStart(t, Options{Line: defaultLine(t, gateway)})
	c, nodes := machineNodes(t, l, "G01", false)
	require.NoError(t, l.Stall(GatewayEndpoint, true))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: nodes[pl.KeyState], AttributeID: ua.AttributeIDValue}}})
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ua.StatusBadTimeout), "stalled read times out: %v", err)

	require.NoError(t, l.Stall(GatewayEndpoint, false))
	c2 := dial(t, l.Endpoints()[0].URL)
	dv := readValues(t, c2, []*ua.NodeID{nodes[pl.KeyState]})[0]
	assert.Equal(t, "idle", dv.Value.Value())
}

// measureJobs runs jobs on QC1 through OPC UA dispatch and returns its
// measurements.
func measureJobs(t *testing.T, seed int64, n int) []map[string]float64 {
	t.Helper()
	l := mustStart(t, Options{Line: defaultLine(t, func(c *mes.LineConfig) { gateway(c); c.Simulation.RejectRate = 0.3 }), Speed: 5000, Seed: seed})
	c, nodes := machineNodes(t, l, "QC1", true)
	var out []map[string]float64
	for i := 1; i <= n; i++ {
		waitFor(t, "QC1 idle", func() bool { v, _ := l.Machine("QC1"); return v.State == mes.StateIdle })
		res := dispatchWrite(t, c, nodes, fmt.Sprintf("D-%05d", i), "M5050_GAUGE", "1.0", uint32(i))
		require.Equal(t, ua.StatusOK, res[3])
		waitFor(t, "measured", func() bool {
			v, _ := l.Machine("QC1")
			return v.LastMeasurement != nil && v.LastMeasurement.Seq == uint64(i)
		})
		v, _ := l.Machine("QC1")
		assert.Equal(t, fmt.Sprintf("D-%05d", i), v.LastMeasurement.Serial)
		out = append(out, v.LastMeasurement.Values)
	}
	// The measurement is readable over OPC UA too.
	head := readKey(t, c, nodes, "measure.HeadDiameter").(float64)
	assert.Equal(t, out[n-1][mes.CharHeadDiameter], head)
	return out
}

func TestSameSeedSameMeasurements(t *testing.T) {
	a := measureJobs(t, 42, 4)
	b := measureJobs(t, 42, 4)
	other := measureJobs(t, 43, 4)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, other)
	tol := defaultLine(t, nil).Products[0].Tolerances
	for _, m := range a {
		for ch, v := range m {
			tl := tol[ch]
			assert.InDelta(t, tl.Nominal, v, 2*(tl.Upper-tl.Lower), ch)
		}
	}
}

func TestAlarmAbortsGrindingAndClears(t *testing.T) {
	l := mustStart(t, Options{Line: defaultLine(t, func(c *mes.LineConfig) { gateway(c); noFaults(c) }), Speed: 1000, Seed: 5})
	c, nodes := machineNodes(t, l, "G07", false)
	res := dispatchWrite(t, c, nodes, "A-00001", "O2020_HEAD_R", "2.7", 1)
	require.Equal(t, ua.StatusOK, res[3])
	waitFor(t, "grinding", func() bool { v, _ := l.Machine("G07"); return v.State == mes.StateGrinding })
	require.NoError(t, l.RaiseAlarm("G07", "E2103"))
	v, _ := l.Machine("G07")
	assert.Equal(t, mes.StateAlarm, v.State)
	require.Len(t, v.Alarms, 1)
	assert.Equal(t, "E2103", v.Alarms[0].Code)
	assert.NotEmpty(t, v.Alarms[0].TextZH)

	waitFor(t, "aborted job recorded", func() bool { v, _ := l.Machine("G07"); return v.LastCycle != nil })
	v, _ = l.Machine("G07")
	assert.True(t, v.LastCycle.Aborted)
	assert.Equal(t, "A-00001", v.LastCycle.Serial)
	assert.False(t, v.Alarms[0].Cleared.IsZero(), "the alarm cleared before the scrap was unloaded")

	latest := readKey(t, c, nodes, pl.KeyAlarmLatest).(uint32)
	assert.Equal(t, uint32(1), latest)
	slot := fmt.Sprintf("alarm.%d.", latest%pl.AlarmSlots)
	assert.Equal(t, "E2103", readKey(t, c, nodes, slot+"Code"))
	assert.Equal(t, true, readKey(t, c, nodes, "cycle.Aborted"))

	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(l.RaiseAlarm("G99", "")))
}

func TestMaintenance(t *testing.T) {
	l := mustStart(t, Options{Line: defaultLine(t, gateway), Speed: 1000})
	c, nodes := machineNodes(t, l, "G11", false)
	require.NoError(t, l.SetMaintenance("G11", true))
	assert.Equal(t, "maintenance", readKey(t, c, nodes, pl.KeyState))
	assert.Equal(t, int32(pl.OpModeService), readKey(t, c, nodes, pl.KeyOperationMode))
	res := dispatchWrite(t, c, nodes, "M-00001", "O3030_FLUTE6", "5.1", 1)
	assert.Equal(t, ua.StatusBadInvalidState, res[3])
	require.NoError(t, l.SetMaintenance("G11", false))
	assert.Equal(t, "idle", readKey(t, c, nodes, pl.KeyState))
}

func TestSubscriptionSeesChanges(t *testing.T) {
	l := mustStart(t, Options{Line: defaultLine(t, func(c *mes.LineConfig) { gateway(c); noFaults(c) }), Speed: 500})
	c, nodes := machineNodes(t, l, "G01", false)
	notes := make(chan *gopcua.PublishNotificationData, 64)
	sub, err := c.Subscribe(ctxT(t), &gopcua.SubscriptionParameters{Interval: 20 * time.Millisecond}, notes)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Cancel(context.Background()) })
	_, err = sub.Monitor(ctxT(t), ua.TimestampsToReturnBoth,
		gopcua.NewMonitoredItemCreateRequestWithDefaults(nodes[pl.KeyState], ua.AttributeIDValue, 1))
	require.NoError(t, err)

	res := dispatchWrite(t, c, nodes, "S-00001", "O1010_SHANK", "3.2", 1)
	require.Equal(t, ua.StatusOK, res[3])
	seen := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for !seen["grinding"] {
		select {
		case n := <-notes:
			require.NoError(t, n.Error)
			if dc, ok := n.Value.(*ua.DataChangeNotification); ok {
				for _, it := range dc.MonitoredItems {
					seen[it.Value.Value.Value().(string)] = true
				}
			}
		case <-deadline:
			t.Fatalf("no grinding notification; saw %v", seen)
		}
	}
}
