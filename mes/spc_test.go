package mes_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func spcPoints(values ...float64) []mes.SPCPoint {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	out := make([]mes.SPCPoint, len(values))
	for i, v := range values {
		out[i] = mes.SPCPoint{Serial: fmt.Sprintf("B000001-%05d", i+1), Time: t0.Add(time.Duration(i) * 180 * time.Second), Value: v}
	}
	return out
}

func TestIMRChart_HandComputed(t *testing.T) {
	// x = 10 12 11 13 12: mean 11.6; MR = 2 1 2 1, MR̄ = 1.5; σ = 1.5/1.128.
	c, err := mes.IMRChart(spcPoints(10, 12, 11, 13, 12), 0)
	require.NoError(t, err)
	sigma := 1.5 / 1.128
	assert.Equal(t, mes.ChartIMR, c.Kind)
	assert.InDelta(t, 11.6, c.X.Center, 1e-12)
	assert.InDelta(t, 1.329787, c.SigmaWithin, 1e-6)
	assert.InDelta(t, 11.6+3*sigma, c.X.UCL, 1e-12)
	assert.InDelta(t, 15.589362, c.X.UCL, 1e-6)
	assert.InDelta(t, 7.610638, c.X.LCL, 1e-6)
	assert.InDelta(t, 1.5, c.R.Center, 1e-12)
	assert.InDelta(t, 4.9005, c.R.UCL, 1e-9) // D4 = 3.267
	assert.InDelta(t, 0, c.R.LCL, 1e-12)
	assert.Equal(t, []float64{2, 1, 2, 1}, c.Ranges)
	assert.InDelta(t, 1.140175, c.SigmaOverall, 1e-6) // sqrt(5.2/4)
	assert.Empty(t, c.Violations)
}

func TestXbarRChart_HandComputed(t *testing.T) {
	// Subgroups of 2: (10,12) (11,13) (12,14) (9,10) and one leftover point.
	// Means 11 12 13 9.5 → X̿ 11.375; ranges 2 2 2 1 → R̄ 1.75.
	c, err := mes.XbarRChart(spcPoints(10, 12, 11, 13, 12, 14, 9, 10, 11), 2, 0)
	require.NoError(t, err)
	assert.Equal(t, []float64{11, 12, 13, 9.5}, c.Values)
	assert.Equal(t, []float64{2, 2, 2, 1}, c.Ranges)
	assert.Equal(t, 1, c.DroppedPoints)
	assert.Equal(t, "B000001-00008", c.Serials[3])
	assert.InDelta(t, 11.375, c.X.Center, 1e-12)
	assert.InDelta(t, 11.375+1.880*1.75, c.X.UCL, 1e-12) // A2 = 1.880
	assert.InDelta(t, 11.375-1.880*1.75, c.X.LCL, 1e-12)
	assert.InDelta(t, 1.75*3.267, c.R.UCL, 1e-12)
	assert.InDelta(t, 1.75/1.128, c.SigmaWithin, 1e-12)

	pc := c.Capability(mes.Tolerance{Nominal: 11, Lower: 7, Upper: 15})
	assert.Equal(t, "R/d2", pc.SigmaMethod)
	assert.Equal(t, 8, pc.N)
	assert.InDelta(t, 8/(6*1.75/1.128), pc.Cp, 1e-12)
	assert.InDelta(t, (15-11.375)/(3*1.75/1.128), pc.Cpk, 1e-12)
}

func TestCapability_HandComputed(t *testing.T) {
	pc := mes.Capability([]float64{10, 12, 11, 13, 12}, mes.Tolerance{Nominal: 12, Lower: 8, Upper: 16})
	require.True(t, pc.Defined)
	require.True(t, pc.Overall)
	assert.Equal(t, "MR/d2", pc.SigmaMethod)
	assert.Equal(t, 5, pc.N)
	assert.InDelta(t, 11.6, pc.Mean, 1e-12)
	assert.InDelta(t, 1.002667, pc.Cp, 1e-6)  // 8 / (6 · 1.5/1.128)
	assert.InDelta(t, 0.902400, pc.Cpk, 1e-6) // (11.6 − 8) / (3 · 1.5/1.128)
	assert.InDelta(t, 1.169410, pc.Pp, 1e-6)  // 8 / (6 · 1.140175)
	assert.InDelta(t, 1.052470, pc.Ppk, 1e-6) // 3.6 / (3 · 1.140175)

	flat := mes.Capability([]float64{1.4, 1.4, 1.4}, mes.Tolerance{Nominal: 1.4, Lower: 1.38, Upper: 1.42})
	assert.False(t, flat.Defined)
	assert.False(t, flat.Overall)
	assert.Zero(t, flat.Cpk)
	assert.Equal(t, 0, mes.Capability(nil, mes.Tolerance{Lower: 0, Upper: 1}).N)
}

func TestIMRChart_Rules(t *testing.T) {
	// Baseline: 11 10 11 10 … 10 → mean 10.5, MR̄ 1, σ 0.8865, limits 7.84 … 13.16.
	base := []float64{11, 10, 11, 10, 11, 10, 11, 10, 11, 10}
	// The one-point, eight-on-one-side and six-trend rules; Nelson's whole
	// set has its own test.
	runs := []mes.SPCRule{mes.RuleBeyond3Sigma, mes.RuleEightOneSide, mes.RuleSixTrend}
	tests := []struct {
		name  string
		tail  []float64
		rules []mes.SPCRule
		want  []mes.SPCViolation // Rule, Chart, Index, Start
	}{
		{"in control", []float64{10.2, 10.9, 10.1, 10.7}, runs, nil},
		{"one beyond 3 sigma", []float64{10.2, 14, 10.4}, runs, []mes.SPCViolation{
			{Rule: mes.RuleBeyond3Sigma, Chart: "x", Index: 11, Start: 11},
			{Rule: mes.RuleBeyond3Sigma, Chart: "r", Index: 10, Start: 10}, // |14 − 10.2| > 3.267
			{Rule: mes.RuleBeyond3Sigma, Chart: "r", Index: 11, Start: 11},
		}},
		{"below LCL", []float64{7.5}, []mes.SPCRule{mes.RuleBeyond3Sigma}, []mes.SPCViolation{
			{Rule: mes.RuleBeyond3Sigma, Chart: "x", Index: 10, Start: 10},
		}},
		{"eight on one side", []float64{10.6, 10.8, 10.6, 10.8, 10.6, 10.8, 10.6, 10.8, 10.6}, runs, []mes.SPCViolation{
			{Rule: mes.RuleEightOneSide, Chart: "x", Index: 17, Start: 10},
		}},
		{"seven on one side is fine", []float64{10.6, 10.8, 10.6, 10.8, 10.6, 10.8, 10.6, 10.4}, runs, nil},
		{"centre line breaks the run", []float64{10.6, 10.8, 10.6, 10.8, 10.5, 10.8, 10.6, 10.8, 10.6}, runs, nil},
		{"six increasing", []float64{8.5, 9, 9.5, 10.2, 10.8, 11.3, 10}, runs, []mes.SPCViolation{
			{Rule: mes.RuleSixTrend, Chart: "x", Index: 15, Start: 10},
		}},
		{"six decreasing", []float64{12.5, 12, 11.4, 10.9, 10.2, 9.6}, runs, []mes.SPCViolation{
			{Rule: mes.RuleSixTrend, Chart: "x", Index: 15, Start: 10},
		}},
		{"a tie ends a trend", []float64{8.5, 9, 9.5, 9.5, 10.8, 11.3}, runs, nil},
		{"two of three beyond 2 sigma, not among the rules checked", []float64{12.5, 10.7, 12.6}, runs, nil},
		{"two of three beyond 2 sigma", []float64{12.5, 10.7, 12.6}, []mes.SPCRule{mes.RuleTwoOfThree2S}, []mes.SPCViolation{
			{Rule: mes.RuleTwoOfThree2S, Chart: "x", Index: 12, Start: 10},
		}},
		{"two of three on opposite sides do not count", []float64{12.5, 10.7, 8.4}, []mes.SPCRule{mes.RuleTwoOfThree2S}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pts := spcPoints(append(append([]float64{}, base...), tt.tail...)...)
			c, err := mes.IMRChart(pts, len(base))
			require.NoError(t, err)
			require.InDelta(t, 10.5, c.X.Center, 1e-12)
			require.InDelta(t, 10.5+3/1.128, c.X.UCL, 1e-12)
			got := c.Check(tt.rules...)
			require.Len(t, got, len(tt.want), "violations: %v", got)
			for i, w := range tt.want {
				assert.Equal(t, w.Rule, got[i].Rule, "violation %d", i)
				assert.Equal(t, w.Chart, got[i].Chart, "violation %d", i)
				assert.Equal(t, w.Index, got[i].Index, "violation %d", i)
				assert.Equal(t, w.Start, got[i].Start, "violation %d", i)
				// The serial names the bur at which the rule fired.
				idx := w.Index
				if w.Chart == "r" {
					idx++
				}
				assert.Equal(t, pts[idx].Serial, got[i].Serial, "violation %d", i)
			}
		})
	}
}

func TestSPCRuleSets(t *testing.T) {
	// Baseline 10 12 10 12 …: mean 11, MR̄ 2, σ = 2/1.128 = 1.773; 1σ zone
	// 9.227 … 12.773, 2σ 7.454 … 14.546, limits 5.681 … 16.319.
	base := []float64{10, 12, 10, 12, 10, 12, 10, 12, 10, 12}
	rep := func(v float64, n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	tests := []struct {
		name  string
		tail  []float64
		rules []mes.SPCRule
		want  []mes.SPCRule // rules fired, in order
		index []int
	}{
		// The baseline's last point (12, index 9) is above the centre: runs on
		// the upper side begin there.
		{"Nelson 2: nine on one side", []float64{11.5, 11.6, 11.5, 11.6, 11.5, 11.6, 11.5, 11.6}, []mes.SPCRule{mes.RuleNineOneSide}, []mes.SPCRule{mes.RuleNineOneSide}, []int{17}},
		{"Nelson 2: eight are not enough", []float64{11.5, 11.6, 11.5, 11.6, 11.5, 11.6, 11.5, 10.5}, []mes.SPCRule{mes.RuleNineOneSide}, nil, nil},
		{"AIAG: seven on one side", []float64{11.5, 11.6, 11.5, 11.6, 11.5, 11.6}, mes.SPCRuleSets[mes.RuleSetAIAG], []mes.SPCRule{mes.RuleSevenOneSide}, []int{15}},
		{"AIAG: seven increasing", []float64{9, 9.5, 10, 10.5, 11, 11.5, 12}, []mes.SPCRule{mes.RuleSevenTrend}, []mes.SPCRule{mes.RuleSevenTrend}, []int{16}},
		{"AIAG: six increasing are not a trend", []float64{9, 9.5, 10, 10.5, 11, 11.5, 11}, []mes.SPCRule{mes.RuleSevenTrend}, nil, nil},
		// A tie (11.5, 11.5 at indexes 10 and 11) ends the baseline's own
		// alternation; fourteen alternating points from index 11 end at 24.
		{"Nelson 4: fourteen alternating", []float64{11.5, 11.5, 10.5, 11.5, 10.5, 11.5, 10.5, 11.5, 10.5, 11.5, 10.5, 11.5, 10.5, 11.5, 10.5}, []mes.SPCRule{mes.RuleFourteenAlternating}, []mes.SPCRule{mes.RuleFourteenAlternating}, []int{24}},
		{"Nelson 6: four of five beyond 1 sigma", []float64{13, 13.2, 11, 13.1, 13}, []mes.SPCRule{mes.RuleFourOfFive1S}, []mes.SPCRule{mes.RuleFourOfFive1S}, []int{14}},
		// The baseline lies within 1σ; 13.5 (index 10) ends that run.
		{"Nelson 7: fifteen within 1 sigma", append([]float64{13.5}, rep(11.2, 15)...), []mes.SPCRule{mes.RuleFifteenWithin1S}, []mes.SPCRule{mes.RuleFifteenWithin1S}, []int{25}},
		{"Nelson 7 fires once for a run of twenty", append([]float64{13.5}, rep(11.2, 20)...), []mes.SPCRule{mes.RuleFifteenWithin1S}, []mes.SPCRule{mes.RuleFifteenWithin1S}, []int{25}},
		{"Nelson 8: eight beyond 1 sigma on both sides", []float64{13, 9, 13, 9, 13, 9, 13, 9}, []mes.SPCRule{mes.RuleEightBeyond1S}, []mes.SPCRule{mes.RuleEightBeyond1S}, []int{17}},
		{"Nelson 8 needs both sides", rep(13, 8), []mes.SPCRule{mes.RuleEightBeyond1S}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pts := spcPoints(append(append([]float64{}, base...), tt.tail...)...)
			c, err := mes.IMRChart(pts, len(base))
			require.NoError(t, err)
			require.InDelta(t, 11, c.X.Center, 1e-12)
			var got []mes.SPCRule
			var idx []int
			for _, v := range c.Check(tt.rules...) {
				if v.Chart == "x" {
					got, idx = append(got, v.Rule), append(idx, v.Index)
				}
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.index, idx)
		})
	}
	assert.Equal(t, mes.SPCRuleSets[mes.RuleSetNelson], mes.DefaultSPCRules, "Nelson's set is the default")
	assert.Len(t, mes.SPCRuleSets[mes.RuleSetNelson], 8)
	assert.Len(t, mes.SPCRuleSets[mes.RuleSetWesternElectric], 4)
	p := mes.Product{SPCRules: mes.RuleSetAIAG}
	assert.Equal(t, mes.SPCRuleSets[mes.RuleSetAIAG], p.SPCRuleSet())
	assert.Equal(t, mes.DefaultSPCRules, (&mes.Product{}).SPCRuleSet())
}

func TestIMRChart_BaselineWindowKeepsLimitsFrozen(t *testing.T) {
	// A process that drifts after the baseline: limits from the first ten
	// points flag the drift; limits from all points would absorb some of it.
	vals := []float64{11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 12, 13, 14, 15, 16}
	early, err := mes.IMRChart(spcPoints(vals...), 10)
	require.NoError(t, err)
	all, err := mes.IMRChart(spcPoints(vals...), 0)
	require.NoError(t, err)
	assert.Greater(t, all.X.UCL, early.X.UCL)
	assert.NotEmpty(t, early.Violations)

	win, err := mes.IMRChartWindow(spcPoints(vals...), 10, 15)
	require.NoError(t, err)
	assert.InDelta(t, 14, win.X.Center, 1e-12)
	assert.Equal(t, 10, win.BaselineFrom)
	assert.Equal(t, 15, win.BaselineTo)
}

func TestSPCCharts_Errors(t *testing.T) {
	pts := spcPoints(1, 2, 3, 4)
	_, err := mes.IMRChart(pts[:1], 0)
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
	_, err = mes.IMRChart(pts, 5)
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
	_, err = mes.IMRChart(spcPoints(1.4, 1.4, 1.4), 0)
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err), "no variation: limits undefined")
	_, err = mes.XbarRChart(pts, 1, 0)
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
	_, err = mes.XbarRChart(pts, 11, 0)
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
	_, err = mes.XbarRChart(pts, 3, 0) // one subgroup only
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
	_, err = mes.XbarRChart(spcPoints(1, 1, 2, 2), 2, 0)
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err), "no within-subgroup variation")
	assert.Equal(t, 1.128, mes.D2(2))
	assert.Equal(t, 2.326, mes.D2(5))
	assert.Zero(t, mes.D2(1))
}

func TestSPCPoints(t *testing.T) {
	mk := func(serial string, v float64, ops ...string) *mes.Bur {
		b := &mes.Bur{Serial: serial, Batch: "B000001", Measurement: &mes.Measurement{Values: map[string]float64{mes.CharHeadDiameter: v}}}
		for i, m := range ops {
			b.Operations = append(b.Operations, mes.OperationRecord{Number: 10 * (i + 1), Machine: m})
		}
		return b
	}
	burs := []*mes.Bur{mk("S1", 1.401, "G01", "G02"), {Serial: "S2"}, mk("S3", 1.399, "G06", "G07")}
	got := mes.SPCPoints(burs, mes.CharHeadDiameter, 0)
	require.Len(t, got, 2)
	assert.Equal(t, "G02", got[0].Machine)
	assert.Equal(t, 1.399, got[1].Value)
	assert.Equal(t, "B000001", got[1].Batch)
	first := mes.SPCPoints(burs, mes.CharHeadDiameter, 10)
	assert.Equal(t, "G06", first[1].Machine)
	assert.Empty(t, mes.SPCPoints(burs, mes.CharRadialRunout, 0))

	by := mes.GroupSPCPoints(got, func(p mes.SPCPoint) string { return p.Machine })
	assert.Len(t, by, 2)
	assert.Equal(t, "S3", by["G07"][0].Serial)
}
