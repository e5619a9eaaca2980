package mes_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadLineConfig_Fixture(t *testing.T) {
	c, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	grinders := 0
	for _, m := range c.Machines {
		if m.Kind == mes.KindGrinder {
			grinders++
		}
	}
	assert.Equal(t, 25, grinders)
	assert.Len(t, c.Robots, 5)
	assert.Equal(t, 180.0, c.TaktS)
	assert.Equal(t, []string{"G11", "G12", "G13", "G14", "G15", "G16", "G17", "G18", "G19", "G20"}, c.GroupMachines("FLT"))
}

// mutate loads the fixture as generic JSON, applies f and re-encodes it.
func mutate(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(fixtures.LineJSON, &m))
	f(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestLoadLineConfig_Errors(t *testing.T) {
	machine := func(m map[string]any, i int) map[string]any { return m["machines"].([]any)[i].(map[string]any) }
	tests := []struct {
		name string
		f    func(m map[string]any)
		want string
	}{
		{"unknown field", func(m map[string]any) { m["taktt"] = 1 }, `unknown field "taktt"`},
		{"duplicate machine", func(m map[string]any) { machine(m, 1)["id"] = "G01" }, `machines[1].id: duplicate id "G01"`},
		{"machine id with markup", func(m map[string]any) { machine(m, 1)["id"] = `G<img src=x>` }, `machines[1].id: "G<img src=x>" is not a valid id`},
		{"machine id with a slash", func(m map[string]any) { machine(m, 1)["id"] = "G/../02" }, `machines[1].id: "G/../02" is not a valid id`},
		{"bad endpoint url", func(m map[string]any) {
			m["endpoints"] = []any{map[string]any{"id": "E1", "url": "http://x:1"}}
		}, "endpoints[0].url"},
		{"missing route", func(m map[string]any) {
			m["products"].([]any)[0].(map[string]any)["route"] = []any{}
		}, "route: missing"},
		{"unknown group", func(m map[string]any) { machine(m, 0)["group"] = "NOPE" }, `machines[0].group: unknown group "NOPE"`},
		{"wrong type", func(m map[string]any) { m["takt_s"] = "fast" }, `field "takt_s"`},
		{"break without a start", func(m map[string]any) {
			sh := m["shifts"].([]any)[0].(map[string]any)
			delete(sh, "breaks")
			sh["break_s"] = 1800
		}, "shifts[0].break_s: a break needs a start time"},
		{"break outside its shift", func(m map[string]any) {
			m["shifts"].([]any)[0].(map[string]any)["breaks"] = []any{map[string]any{"start": "13:45", "duration_s": 1800}}
		}, "shifts[0].breaks[0]: 13:45 + 1800 s ends after the shift"},
		{"overlapping breaks", func(m map[string]any) {
			m["shifts"].([]any)[0].(map[string]any)["breaks"] = []any{map[string]any{"start": "09:00", "duration_s": 1800},
				map[string]any{"start": "09:15", "duration_s": 600}}
		}, "shifts[0].breaks[1]: starts before the previous break ends"},
		{"characteristic formed twice", func(m map[string]any) {
			m["products"].([]any)[0].(map[string]any)["route"].([]any)[1].(map[string]any)["forms"] = []any{"shank_diameter"}
		}, `route[1].forms: "shank_diameter" is already formed by operation 10`},
		{"bad security", func(m map[string]any) {
			m["acquisition"].(map[string]any)["security_policy"] = "Basic256Sha256"
		}, "acquisition.security_mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mes.LoadLineConfig(bytes.NewReader(mutate(t, tt.f)))
			require.Error(t, err)
			assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
