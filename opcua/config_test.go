package opcua_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/opcua"
)

func realLine() *mes.LineConfig {
	return &mes.LineConfig{Name: "real", Acquisition: mes.Acquisition{Mode: mes.ModePoll, PollIntervalMS: 500},
		Endpoints: []mes.Endpoint{{ID: "acme", URL: "opc.tcp://127.0.0.1:4840"}},
		Machines:  []mes.Machine{{ID: "G01", Kind: mes.KindGrinder, Endpoint: "acme"}},
		Robots:    []mes.Robot{{ID: "R1", Serves: []string{"G01"}}},
		Stations:  []mes.Station{{ID: "MAG", Kind: "magazine"}},
	}
}

// Robots and stations without a controller of their own are not read and
// are shown as unconnected; machines still need an endpoint.
func TestNew_RobotsAndStationsMayBeUnconnected(t *testing.T) {
	a, err := opcua.New(opcua.Options{Line: realLine(), Sink: &sink{}, Logger: logger()})
	require.NoError(t, err)
	got := map[string]opcua.MachineStatus{}
	for _, st := range a.Status() {
		got[st.ID] = st
	}
	assert.True(t, got["R1"].Unconnected)
	assert.True(t, got["MAG"].Unconnected)
	assert.False(t, got["G01"].Unconnected)

	cfg := realLine()
	cfg.Machines[0].Endpoint = ""
	_, err = opcua.New(opcua.Options{Line: cfg, Sink: &sink{}, Logger: logger()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "G01 has no endpoint")
}

// A password_env naming an unset variable is an error at start, not a
// refused session later.
func TestNew_PasswordEnvMustBeSet(t *testing.T) {
	cfg := realLine()
	cfg.Acquisition.Username, cfg.Acquisition.PasswordEnv = "mes", "PILOTLINE_TEST_UNSET_PASSWORD"
	_, err := opcua.New(opcua.Options{Line: cfg, Sink: &sink{}, Logger: logger()})
	require.Error(t, err)
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
	assert.Contains(t, err.Error(), "password_env PILOTLINE_TEST_UNSET_PASSWORD is not set")

	t.Setenv("PILOTLINE_TEST_UNSET_PASSWORD", "s3cret")
	_, err = opcua.New(opcua.Options{Line: cfg, Sink: &sink{}, Logger: logger()})
	require.NoError(t, err)
}
