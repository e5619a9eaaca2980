package sim

import (
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	pl "github.com/pilotline/pilotline/opcua"
)

// waitFor polls cond until it holds; the simulation runs at high speed, so
// the deadline only guards against a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 30*time.Second, 5*time.Millisecond, what)
}

func TestDispatchRunsTheJobAndRejectsWhileBusy(t *testing.T) {
	for _, layout := range []string{mes.LayoutPerMachine, mes.LayoutGateway} {
		t.Run(layout, func(t *testing.T) {
			cfg := defaultLine(t, func(c *mes.LineConfig) {
				noFaults(c)
				c.Simulation.Layout = layout
				if layout == mes.LayoutPerMachine {
					// Keep the per-machine run small: two grinders and the cell.
					c.Machines = c.Machines[:2]
					c.Robots = c.Robots[:1]
					c.Robots[0].Serves = []string{"MAG", "G01", "G02"}
					c.Products[0].Route = c.Products[0].Route[:1]
				}
			})
			l := mustStart(t, Options{Line: cfg, Speed: 2000, Seed: 7})
			c, nodes := machineNodes(t, l, "G01", false)

			assert.Equal(t, "idle", readKey(t, c, nodes, pl.KeyState))
			assert.Equal(t, uint32(0), readKey(t, c, nodes, pl.KeyDispatchAcc))

			// A wrong sequence number or an unknown program is refused.
			res := dispatchWrite(t, c, nodes, "B1-00001", "O1010_SHANK", "3.2", 2)
			assert.Equal(t, ua.StatusBadInvalidArgument, res[3])
			res = dispatchWrite(t, c, nodes, "B1-00001", "NO_SUCH_PROGRAM", "1.0", 1)
			assert.Equal(t, ua.StatusBadInvalidArgument, res[3])
			res = dispatchWrite(t, c, nodes, "B1-00001", "O3030_FLUTE6", "5.1", 1)
			assert.Equal(t, ua.StatusBadInvalidArgument, res[3], "a flute program on a shank grinder")

			res = dispatchWrite(t, c, nodes, "B1-00001", "O1010_SHANK", "3.2", 1)
			for i, s := range res {
				require.Equal(t, ua.StatusOK, s, "write %d", i)
			}
			assert.Equal(t, uint32(1), readKey(t, c, nodes, pl.KeyDispatchAcc))
			// Busy: the next job is rejected on the Seq node.
			res = dispatchWrite(t, c, nodes, "B1-00002", "O1010_SHANK", "3.2", 2)
			assert.Equal(t, ua.StatusBadInvalidState, res[3])

			waitFor(t, "job completes", func() bool {
				v, _ := l.Machine("G01")
				return v.LastCycle != nil
			})
			vals := readValues(t, c, []*ua.NodeID{
				nodes["cycle.Seq"], nodes["cycle.Serial"], nodes["cycle.Program"], nodes["cycle.ProgramHash"],
				nodes["cycle.Aborted"], nodes[pl.KeyParts], nodes["cycle.Start"], nodes["cycle.End"], nodes["cycle.Energy"],
			})
			assert.Equal(t, uint32(1), vals[0].Value.Value())
			assert.Equal(t, "B1-00001", vals[1].Value.Value())
			assert.Equal(t, "O1010_SHANK", vals[2].Value.Value())
			assert.Equal(t, ProgramHash("O1010_SHANK", "3.2"), vals[3].Value.Value())
			assert.Equal(t, false, vals[4].Value.Value())
			assert.Equal(t, uint32(1), vals[5].Value.Value(), "parts counter equals LastCycle/Seq")
			start, end := vals[6].Value.Value().(time.Time), vals[7].Value.Value().(time.Time)
			ct := end.Sub(start).Seconds()
			assert.InDelta(t, 780, ct, 780*0.2, "cycle time ≈ ideal × (1 + jitter), plus robot moves")
			assert.Greater(t, vals[8].Value.Value().(float64), 0.5, "kWh drawn by one grinding cycle")

			// Once idle again, the next job is accepted.
			waitFor(t, "idle", func() bool { v, _ := l.Machine("G01"); return v.State == mes.StateIdle })
			res = dispatchWrite(t, c, nodes, "B1-00002", "O1010_SHANK", "3.2", 2)
			assert.Equal(t, ua.StatusOK, res[3])
			// Repeating the accepted write is harmless.
			res = dispatchWrite(t, c, nodes, "B1-00002", "O1010_SHANK", "3.2", 2)
			assert.Equal(t, ua.StatusOK, res[3])
			v, _ := l.Machine("G01")
			assert.Equal(t, uint32(2), v.Accepted)

			waitFor(t, "each operation-10 job takes a blank", func() bool {
				mag, ok := l.Station("MAG")
				return ok && mag.Count == 1998
			})
		})
	}
}

func TestWritesOutsideDispatchAreRefused(t *testing.T) {
	l := mustStart(t, Options{Line: defaultLine(t, func(c *mes.LineConfig) { c.Simulation.Layout = mes.LayoutGateway })})
	c, nodes := machineNodes(t, l, "G03", false)
	resp, err := c.Write(ctxT(t), &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{
		{NodeID: nodes[pl.KeyState], AttributeID: ua.AttributeIDValue, Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant("grinding")}},
		{NodeID: nodes[pl.KeyDispatchSeq], AttributeID: ua.AttributeIDValue, Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(int64(1))}},
		{NodeID: ua.NewNumericNodeID(0, 2255), AttributeID: ua.AttributeIDValue, Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant("x")}},
	}})
	require.NoError(t, err)
	assert.Equal(t, []ua.StatusCode{ua.StatusBadNotWritable, ua.StatusBadTypeMismatch, ua.StatusBadNotWritable}, resp.Results)
	assert.Equal(t, "idle", readKey(t, c, nodes, pl.KeyState))

	// The access level tells clients which nodes they may write.
	rr, err := c.Read(ctxT(t), &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{
		{NodeID: nodes[pl.KeyDispatchSeq], AttributeID: ua.AttributeIDAccessLevel},
		{NodeID: nodes[pl.KeyState], AttributeID: ua.AttributeIDUserAccessLevel},
		{NodeID: nodes[pl.KeyDispatchSeq], AttributeID: ua.AttributeIDDataType},
	}})
	require.NoError(t, err)
	assert.Equal(t, byte(ua.AccessLevelTypeCurrentRead|ua.AccessLevelTypeCurrentWrite), rr.Results[0].Value.Value())
	assert.Equal(t, byte(ua.AccessLevelTypeCurrentRead), rr.Results[1].Value.Value())
	assert.Equal(t, uint32(7), rr.Results[2].Value.NodeID().IntID(), "UInt32")
}
