package quality_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/quality"
)

func TestCommGaps(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	ev := func(m string, k mes.EventKind, min int) mes.MachineEvent {
		return mes.MachineEvent{Machine: m, Kind: k, SourceTime: t0.Add(time.Duration(min) * time.Minute)}
	}
	got := quality.CommGaps([]mes.MachineEvent{
		ev("G01", mes.EventCommLost, 0), ev("G02", mes.EventCommLost, 1), ev("G01", mes.EventCommLost, 2),
		ev("G01", mes.EventCommRestored, 5), ev("G01", mes.EventCommRestored, 6),
	})
	assert.Equal(t, []quality.CommGap{
		{Machine: "G01", From: t0, To: t0.Add(5 * time.Minute)},
		{Machine: "G02", From: t0.Add(time.Minute)},
	}, got)
}

func TestMissingMeasurements(t *testing.T) {
	p := &mes.Product{Tolerances: map[string]mes.Tolerance{"diameter": {}, "length": {}}}
	m := &mes.Measurement{Values: map[string]float64{"diameter": 1}}
	tests := []struct {
		bur  mes.Bur
		done bool
		want []string
	}{
		{mes.Bur{Disposition: mes.BurGood, Measurement: m}, false, []string{"length"}},
		{mes.Bur{Disposition: mes.BurGood}, false, []string{"inspection"}},
		{mes.Bur{Disposition: mes.BurScrap}, true, nil},
		{mes.Bur{Disposition: mes.BurInProcess}, false, nil},
		{mes.Bur{Disposition: mes.BurInProcess}, true, []string{"inspection"}},
		{mes.Bur{Disposition: mes.BurGood, Measurement: &mes.Measurement{Values: map[string]float64{"diameter": 1, "length": 2}}}, true, nil},
	}
	for i, tt := range tests {
		got := quality.MissingMeasurements(p, &tt.bur, tt.done)
		if tt.want == nil {
			assert.Nil(t, got, i)
		} else if assert.NotNil(t, got, i) {
			assert.Equal(t, tt.want, got.Missing, i)
		}
	}
}
