package sim

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// headless builds a simulated line that serves nothing and runs only when
// the test advances it: virtual time as fast as the machine can compute.
func headless(tb testing.TB, cfg *mes.LineConfig, seed int64, start time.Time, observe func(mes.MachineEvent)) *Line {
	tb.Helper()
	c, err := copyConfig(cfg)
	require.NoError(tb, err)
	require.NoError(tb, c.Validate())
	l := &Line{
		cfg: c, sim: c.Simulation, log: slog.New(slog.DiscardHandler), speed: 1, tick: DefaultTick, seed: seed,
		simStart: start, now: start,
		byID: map[string]*machine{}, robotBy: map[string]*robot{}, stations: map[string]*station{},
		programs: map[string]program{}, epBy: map[string]*endpoint{},
		observe: observe,
	}
	l.buildPrograms()
	l.buildPlant()
	require.NoError(tb, l.buildEndpoints(0))
	l.auto = newAutorun(l)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.machines {
		m.refresh()
		m.publishAll()
	}
	l.kickAutorun()
	return l
}

// runFor advances a headless line by d of simulated time in steps.
func (l *Line) runFor(d, step time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	end := l.now.Add(d)
	for t := l.now.Add(step); !t.After(end); t = t.Add(step) {
		l.advance(t)
	}
}
