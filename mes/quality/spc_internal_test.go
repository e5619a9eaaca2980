package quality

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// liveAndBatch feeds values to a live series and returns its alerts and the
// violations of the whole chart after the baseline, both as rule@serial.
func liveAndBatch(t *testing.T, values []float64, baseline int) (live, batch []string) {
	t.Helper()
	s := &series{seen: map[string]bool{}}
	t0 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	var pts []mes.SPCPoint
	for i, v := range values {
		pt := mes.SPCPoint{Serial: fmt.Sprintf("B-%05d", i+1), Time: t0.Add(time.Duration(i) * time.Minute), Value: v}
		pts = append(pts, pt)
		for _, a := range s.add(pt, baseline, mes.CharHeadDiameter, mes.DefaultSPCRules) {
			live = append(live, string(a.Violation.Rule)+"@"+a.Violation.Serial)
		}
	}
	c, err := mes.IMRChartWindow(pts, 0, baseline)
	require.NoError(t, err)
	for _, v := range c.Violations {
		if v.PlotIndex(c.Kind) >= baseline {
			batch = append(batch, string(v.Rule)+"@"+v.Serial)
		}
	}
	return live, batch
}

func TestLiveSeriesOneAlertPerRun(t *testing.T) {
	// 25 baseline points around 1.400, then 20 in a row above the centre:
	// one "9 on one side" violation (Nelson 2), not one per point of the run.
	var vs []float64
	for i := range 25 {
		vs = append(vs, 1.400+0.002*math.Sin(float64(i)*2.1))
	}
	for i := range 20 {
		vs = append(vs, 1.4015+0.0002*float64(i%2))
	}
	live, batch := liveAndBatch(t, vs, 25)
	nine := 0
	for _, a := range live {
		if strings.HasPrefix(a, "9_one_side@") {
			nine++
		}
	}
	assert.Equal(t, 1, nine, "alerts: %v", live)
	assert.Equal(t, batch, live)
}

func TestLiveSeriesAgreesWithBatchChart(t *testing.T) {
	// Random processes with shifts and drifts: the live monitor opens an
	// alert exactly where the whole chart has a violation.
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 7))
		var vs []float64
		level := 0.0
		for i := range 300 {
			if i > 25 && r.Float64() < 0.03 {
				level = r.NormFloat64() * 2
			}
			drift := 0.0
			if r.Float64() < 0.3 {
				drift = float64(i%10) * 0.2
			}
			vs = append(vs, 10+level+drift+r.NormFloat64())
		}
		live, batch := liveAndBatch(t, vs, 25)
		assert.Equal(t, batch, live, "seed %d", seed)
	}
}
