package opcua_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/opcua"
	"github.com/pilotline/pilotline/opcua/sim"
)

// sink keeps every published event.
type sink struct {
	mu sync.Mutex
	ev []mes.MachineEvent
}

func (s *sink) Publish(_ context.Context, ev ...mes.MachineEvent) error {
	s.mu.Lock()
	s.ev = append(s.ev, ev...)
	s.mu.Unlock()
	return nil
}

func (s *sink) of(machine string, kind mes.EventKind) []mes.MachineEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []mes.MachineEvent
	for _, e := range s.ev {
		if e.Machine == machine && e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func (s *sink) kinds() map[mes.EventKind]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[mes.EventKind]int{}
	for _, e := range s.ev {
		out[e.Kind]++
	}
	return out
}

func logger() *slog.Logger {
	if os.Getenv("PILOTLINE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// startLine serves the default line on free ports and runs acquisition on it.
func startLine(t *testing.T, mode string, autorun bool) (*sim.Line, *opcua.Acquisition, *sink) {
	t.Helper()
	cfg, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	cfg.Simulation.MTBFS = 0 // jobs run to the end
	cfg.Acquisition.Mode = mode
	cfg.Acquisition.PollIntervalMS = 200
	if raceEnabled {
		cfg.Acquisition.PollIntervalMS = 600
	}
	cfg.Acquisition.PublishIntervalMS = cfg.Acquisition.PollIntervalMS
	ctx, cancel := context.WithCancel(context.Background())
	speed := 2000.0 // a job takes ~0.4 s: several polls see it grinding
	if raceEnabled {
		speed = 200
	}
	line, err := sim.Start(ctx, sim.Options{Line: cfg, Speed: speed, Seed: 11, PortBase: 0, Autorun: autorun, Logger: logger()})
	require.NoError(t, err)
	a, s := runAcquisition(t, ctx, cancel, line, line.Bind(cfg))
	return line, a, s
}

// runAcquisition runs acquisition on the line configuration bound (with
// its endpoints' addresses) until the test ends; cancel stops it and the
// line.
func runAcquisition(t *testing.T, ctx context.Context, cancel context.CancelFunc, line *sim.Line, bound *mes.LineConfig) (*opcua.Acquisition, *sink) {
	t.Helper()
	require.NotNil(t, bound)
	s := &sink{}
	a, err := opcua.New(opcua.Options{Line: bound, DataDir: t.TempDir(), Sink: s, Logger: logger()})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = line.Close()
	})
	return a, s
}

func grinders() []string {
	var ids []string
	for i := 1; i <= 25; i++ {
		ids = append(ids, fmt.Sprintf("G%02d", i))
	}
	return ids
}

func status(a *opcua.Acquisition) map[string]opcua.MachineStatus {
	out := map[string]opcua.MachineStatus{}
	for _, s := range a.Status() {
		out[s.ID] = s
	}
	return out
}

// firstJob is the route operation a grinder's group performs.
func firstJob(t *testing.T, cfg *mes.LineConfig, machine, serial string) mes.Job {
	t.Helper()
	m, ok := cfg.Machine(machine)
	require.True(t, ok)
	for _, op := range cfg.Products[0].Route {
		if op.Group == m.Group {
			return mes.Job{Machine: machine, Serial: serial, Program: op.Program, ProgramVersion: op.ProgramVersion, Operation: op.Number}
		}
	}
	t.Fatalf("no operation for %s", machine)
	return mes.Job{}
}

func assertCountersOnce(t *testing.T, s *sink, machine string) {
	t.Helper()
	seen := map[uint64]bool{}
	var last uint64
	for _, e := range s.of(machine, mes.EventCounter) {
		assert.False(t, seen[e.Counter], "%s: counter %d reported twice", machine, e.Counter)
		assert.Greater(t, e.Counter, last, "%s: counters ascend", machine)
		seen[e.Counter], last = true, e.Counter
	}
	cycles := map[uint64]bool{}
	for _, e := range s.of(machine, mes.EventCycle) {
		assert.False(t, cycles[e.Cycle.Seq], "%s: cycle %d reported twice", machine, e.Cycle.Seq)
		cycles[e.Cycle.Seq] = true
	}
}

const long = 90 * time.Second

func TestSimulatedLineEndToEnd(t *testing.T) {
	line, a, s := startLine(t, mes.ModePoll, false)
	cfg, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		st := status(a)
		for _, id := range grinders() {
			if !st[id].CommOK || len(s.of(id, mes.EventState)) == 0 {
				return false
			}
		}
		return true
	}, long, 20*time.Millisecond, "all 25 grinders read")
	t0 := time.Now()
	phase := func(what string) { t.Logf("%7.2fs %s", time.Since(t0).Seconds(), what) }

	// dispatch one job to every grinder; a second one while busy is refused
	ctx := context.Background()
	for _, id := range grinders() {
		require.NoError(t, a.Dispatch(ctx, firstJob(t, cfg, id, "T1-"+id)), id)
	}
	err = a.Dispatch(ctx, firstJob(t, cfg, "G01", "T1-again"))
	require.Error(t, err)
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
	assert.Contains(t, mes.ErrorMessage(err), "Bad")
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(a.Dispatch(ctx, mes.Job{Machine: "G99", Serial: "x", Program: "y"})))

	require.Eventually(t, func() bool {
		for _, id := range grinders() {
			cyc := s.of(id, mes.EventCycle)
			if len(cyc) == 0 || len(s.of(id, mes.EventCounter)) == 0 {
				return false
			}
		}
		return true
	}, long, 20*time.Millisecond, "every grinder completes its job")
	phase("all jobs done")
	for _, id := range grinders() {
		cyc := s.of(id, mes.EventCycle)
		assert.Equal(t, "T1-"+id, cyc[0].Cycle.Serial, id)
		assert.False(t, cyc[0].SourceTime.IsZero())
		states := map[mes.MachineState]bool{}
		for _, e := range s.of(id, mes.EventState) {
			states[e.State] = true
		}
		assert.True(t, states[mes.StateGrinding], "%s went through grinding: %v", id, states)
		v, _ := line.Machine(id)
		assert.Equal(t, uint64(v.Parts), s.of(id, mes.EventCounter)[len(s.of(id, mes.EventCounter))-1].Counter, id)
	}

	// kill one endpoint while its machine works
	require.Eventually(t, func() bool { v, _ := line.Machine("G07"); return v.State == mes.StateIdle }, long, 10*time.Millisecond)
	require.NoError(t, a.Dispatch(ctx, firstJob(t, cfg, "G07", "T2-G07")))
	phase("G07 dispatched")
	// a loaded test machine may have timed G07 out before: count from here
	lost0, restored0 := len(s.of("G07", mes.EventCommLost)), len(s.of("G07", mes.EventCommRestored))
	simStop := line.Now()
	require.NoError(t, line.StopEndpoint("G07"))
	require.Eventually(t, func() bool { return len(s.of("G07", mes.EventCommLost)) == lost0+1 }, long, 5*time.Millisecond)
	assertOnLineClock(t, s.of("G07", mes.EventCommLost)[lost0], simStop, line.Now())
	assert.Equal(t, mes.StateCommLost, status(a)["G07"].State)
	marks := status(a)
	require.Eventually(t, func() bool {
		st := status(a)
		for _, id := range grinders() {
			if id != "G07" && (!st[id].CommOK || !st[id].LastLocal.After(marks[id].LastLocal)) {
				return false
			}
		}
		return true
	}, long, 20*time.Millisecond, "the other 24 keep updating")
	assert.False(t, status(a)["G07"].CommOK)
	phase("others updated")

	require.Eventually(t, func() bool { v, _ := line.Machine("G07"); return v.Parts == 2 }, long, 10*time.Millisecond, "G07 works on while unreachable")
	phase("G07 finished offline")
	simStart := line.Now()
	require.NoError(t, line.StartEndpoint("G07"))
	require.Eventually(t, func() bool { return len(s.of("G07", mes.EventCommRestored)) == restored0+1 }, long, 5*time.Millisecond)
	assertOnLineClock(t, s.of("G07", mes.EventCommRestored)[restored0], simStart, line.Now())
	require.Eventually(t, func() bool { return len(s.of("G07", mes.EventCycle)) == 2 }, long, 5*time.Millisecond)
	assert.Equal(t, "T2-G07", s.of("G07", mes.EventCycle)[1].Cycle.Serial)
	assert.True(t, status(a)["G07"].CommOK)
	for _, id := range grinders() {
		assertCountersOnce(t, s, id)
	}
}

// assertOnLineClock checks that an event acquisition stamped itself lies on
// the simulated line's clock (which runs thousands of times faster than the
// wall clock here), between from and to give or take a few simulated
// minutes of extrapolation, and not on the MES's clock.
func assertOnLineClock(t *testing.T, ev mes.MachineEvent, from, to time.Time) {
	t.Helper()
	const slack = 3 * time.Minute
	assert.False(t, ev.SourceTime.Before(from.Add(-slack)), "%s at %s, line clock was %s before", ev.Kind, ev.SourceTime, from)
	assert.False(t, ev.SourceTime.After(to.Add(slack)), "%s at %s, line clock was %s after", ev.Kind, ev.SourceTime, to)
	assert.False(t, ev.Received.IsZero(), "received on the MES's clock")
}

func TestSimulatedLineSubscription(t *testing.T) {
	_, a, s := startLine(t, mes.ModeSubscribe, true)
	require.Eventually(t, func() bool {
		k := s.kinds()
		return k[mes.EventState] > 0 && k[mes.EventCounter] > 0 && k[mes.EventCycle] > 0 && k[mes.EventSample] > 0 &&
			k[mes.EventRobot] > 0 && k[mes.EventStation] > 0
	}, long, 20*time.Millisecond, "subscription mode reports states, counters, cycles, samples, robots and stations")
	require.Eventually(t, func() bool {
		st := status(a)
		for _, id := range grinders() {
			if !st[id].CommOK {
				return false
			}
		}
		return true
	}, long, 20*time.Millisecond, "all 25 grinders followed")
	for _, id := range grinders() {
		assertCountersOnce(t, s, id)
	}
}

// TestSimulatedLine_DownAtStartOnLineClock starts acquisition while one
// endpoint is already down (as when the MES restarts during an outage): its
// loss is stamped on the line's clock, taken from the other machines, not
// on the MES's.
func TestSimulatedLine_DownAtStartOnLineClock(t *testing.T) {
	cfg, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	cfg.Acquisition.Mode = mes.ModePoll
	cfg.Acquisition.PollIntervalMS = 200
	ctx, cancel := context.WithCancel(context.Background())
	line, err := sim.Start(ctx, sim.Options{Line: cfg, Speed: 2000, Seed: 5, PortBase: 0, Logger: logger()})
	require.NoError(t, err)
	require.NoError(t, line.StopEndpoint("G12"))
	// the line's clock is hours ahead of the wall clock before acquisition starts
	require.Eventually(t, func() bool { return time.Until(line.Now()) > time.Hour }, long, 10*time.Millisecond)

	_, s := runAcquisition(t, ctx, cancel, line, line.Bind(cfg))
	from := line.Now()
	require.Eventually(t, func() bool { return len(s.of("G12", mes.EventCommLost)) == 1 }, long, 5*time.Millisecond)
	assertOnLineClock(t, s.of("G12", mes.EventCommLost)[0], from, line.Now())

	require.NoError(t, line.StartEndpoint("G12"))
	from = line.Now()
	require.Eventually(t, func() bool { return len(s.of("G12", mes.EventCommRestored)) == 1 }, long, 5*time.Millisecond)
	assertOnLineClock(t, s.of("G12", mes.EventCommRestored)[0], from, line.Now())
}
