package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/opcua/sim"
)

func mustStartSim(t *testing.T) (*sim.Line, *mes.LineConfig) {
	t.Helper()
	cfg, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	l, err := sim.Start(context.Background(), sim.Options{Line: cfg, Speed: 10, Seed: 1})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })
	return l, cfg
}

// TestWriteBoundConfig_Loads is a regression test: the simulator names
// per-machine endpoints after their machines, which a line configuration
// rejects as duplicate ids, so a written bound configuration must rename
// them to be loadable by `serve --sim=false --config`.
func TestWriteBoundConfig_Loads(t *testing.T) {
	l, cfg := mustStartSim(t)
	p := filepath.Join(t.TempDir(), "bound.json")
	require.NoError(t, writeBoundConfig(p, l.Bind(cfg)))

	got, err := mes.LoadLineConfigFile(p)
	require.NoError(t, err, "the bound configuration loads")
	require.Len(t, got.Endpoints, len(l.Endpoints()))
	urls := map[string]string{}
	for _, e := range got.Endpoints {
		urls[e.ID] = e.URL
	}
	for _, e := range l.Endpoints() {
		assert.Equal(t, e.URL, urls[boundEndpointID(e.ID)], e.ID)
	}
	for _, m := range got.Machines {
		assert.Contains(t, urls, m.Endpoint, "%s points at a listed endpoint", m.ID)
	}
	for _, r := range got.Robots {
		assert.Contains(t, urls, r.Endpoint, "%s points at a listed endpoint", r.ID)
	}
}
