package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
)

func mustStartSim(t *testing.T) (*Line, *mes.LineConfig) {
	t.Helper()
	cfg, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	l, err := Start(context.Background(), Options{Line: cfg, Speed: 10, Seed: 1})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })
	return l, cfg
}

func TestSimControl(t *testing.T) {
	l, cfg := mustStartSim(t)
	srv := httptest.NewServer(NewControl(l, slog.New(slog.DiscardHandler)).Handler())
	t.Cleanup(srv.Close)

	post := func(path string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "", nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), "every answer is JSON")
		return resp.StatusCode
	}
	tests := []struct {
		path string
		want int
	}{
		{"/endpoints/G01/stop", http.StatusOK},
		{"/endpoints/G01/start", http.StatusOK},
		{"/endpoints/G02/stall?on=true", http.StatusOK},
		{"/endpoints/G02/stall?on=false", http.StatusOK},
		{"/endpoints/G02/stall?on=maybe", http.StatusBadRequest},
		{"/endpoints/NOPE/stop", http.StatusNotFound},
		{"/endpoints/G01/explode", http.StatusNotFound},
		{"/machines/G03/maintenance?on=true", http.StatusOK},
		{"/machines/G04/alarm?code=", http.StatusOK},
		{"/machines/G99/alarm", http.StatusNotFound},
		{"/machines/G03/maintenance", http.StatusBadRequest},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, post(tt.path), tt.path)
	}

	resp, err := http.Get(srv.URL + "/state")
	require.NoError(t, err)
	defer resp.Body.Close()
	var st State
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	assert.Len(t, st.Machines, len(cfg.Machines))
	assert.Len(t, st.Robots, len(cfg.Robots))
	assert.Contains(t, st.Stations, "OUT")
	byID := map[string]MachineView{}
	for _, m := range st.Machines {
		byID[m.ID] = m
	}
	assert.True(t, byID["G03"].Maintenance, "maintenance went through")
	assert.Equal(t, 1, byID["G04"].ActiveAlarms, "the alarm went through")
	assert.False(t, st.Now.IsZero())
}
