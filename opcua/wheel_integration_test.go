package opcua_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/opcua"
	"github.com/pilotline/pilotline/opcua/sim"
)

// startDressingLine serves the default line with a dressing after every job
// and a wheel change after every second dressing, without autorun, and
// runs acquisition on it in mode.
func startDressingLine(t *testing.T, mode string) (*sim.Line, *opcua.Acquisition, *sink, *mes.LineConfig) {
	t.Helper()
	cfg, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	cfg.Simulation.MTBFS = 0
	cfg.Simulation.DressEvery, cfg.Simulation.WheelChangeEvery = 1, 2
	cfg.Simulation.DressS, cfg.Simulation.WheelChangeS = 30, 30
	cfg.Acquisition.Mode = mode
	// The jobs only lead up to the dressings: nothing needs to be seen
	// grinding, so the line runs as fast under the race detector too.
	cfg.Acquisition.PollIntervalMS = 200
	if raceEnabled {
		cfg.Acquisition.PollIntervalMS = 600
	}
	const speed = 2000.0
	cfg.Acquisition.PublishIntervalMS = cfg.Acquisition.PollIntervalMS
	ctx, cancel := context.WithCancel(context.Background())
	line, err := sim.Start(ctx, sim.Options{Line: cfg, Speed: speed, Seed: 7, Logger: logger()})
	require.NoError(t, err)
	a, s := runAcquisition(t, ctx, cancel, line, line.Bind(cfg))
	return line, a, s, cfg
}

// sampleWith is the position in the event stream of the first Sample of
// machine naming wheel with dressed dressings, -1 when none came.
func (s *sink) sampleWith(machine, wheel string, dressed uint32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.ev {
		if e.Machine == machine && e.Kind == mes.EventSample && e.Sample.WheelID == wheel && e.Sample.DressCount == dressed {
			return i
		}
	}
	return -1
}

// TestSimulatedLine_DressingAndWheelChangeReachSamples is the soak's
// "twin wheel and dressing equal the simulator's": a dressing and a wheel
// change reach the MES as Samples when they happen on the machine, not only
// with the next finished job.
func TestSimulatedLine_DressingAndWheelChangeReachSamples(t *testing.T) {
	for _, mode := range []string{mes.ModePoll, mes.ModeSubscribe} {
		t.Run(mode, func(t *testing.T) {
			const id = "G11"
			line, a, s, cfg := startDressingLine(t, mode)
			ctx := context.Background()
			idle := func() bool { v, _ := line.Machine(id); return v.State == mes.StateIdle }
			require.Eventually(t, func() bool { return status(a)[id].CommOK && len(s.of(id, mes.EventState)) > 0 && idle() },
				long, 10*time.Millisecond, "%s read and idle", id)
			v0, _ := line.Machine(id)
			require.NotEmpty(t, v0.WheelID)
			require.Zero(t, v0.DressCount)
			require.GreaterOrEqual(t, s.sampleWith(id, v0.WheelID, 0), 0, "the mounted wheel is in the first sample")

			// job 1, then a dressing
			require.NoError(t, a.Dispatch(ctx, firstJob(t, cfg, id, "WH-"+id+"-1")))
			require.Eventually(t, func() bool { v, _ := line.Machine(id); return v.DressCount == 1 && idle() },
				long, 5*time.Millisecond, "%s ground and dressed", id)
			require.Eventually(t, func() bool { return s.sampleWith(id, v0.WheelID, 1) >= 0 },
				long, 5*time.Millisecond, "the dressing arrives as a sample")
			cycles := s.of(id, mes.EventCycle)
			require.Len(t, cycles, 1, "no second job finished")
			assert.Zero(t, cycles[0].Cycle.DressCount, "the job ended before the dressing: only the sample tells")

			// job 2, then a dressing and a wheel change
			require.NoError(t, a.Dispatch(ctx, firstJob(t, cfg, id, "WH-"+id+"-2")))
			var v2 sim.MachineView
			require.Eventually(t, func() bool { v2, _ = line.Machine(id); return v2.WheelID != v0.WheelID && idle() },
				long, 5*time.Millisecond, "%s ground, dressed and changed its wheel", id)
			require.Zero(t, v2.DressCount)
			require.Eventually(t, func() bool { return s.sampleWith(id, v2.WheelID, 0) >= 0 },
				long, 5*time.Millisecond, "the new wheel arrives as a sample")
			cycles = s.of(id, mes.EventCycle)
			require.Len(t, cycles, 2, "no third job finished")
			assert.Equal(t, v0.WheelID, cycles[1].Cycle.WheelID, "the job ended on the old wheel: only the sample names the new one")
			assert.Equal(t, uint32(1), cycles[1].Cycle.DressCount)
		})
	}
}
