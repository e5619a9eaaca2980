package capability

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readColumns reads a whitespace-separated numeric file, skipping # lines.
func readColumns(tb testing.TB, path string) [][]float64 {
	tb.Helper()
	f, err := os.Open(path)
	require.NoError(tb, err)
	defer f.Close()
	var cols [][]float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for i, field := range strings.Fields(line) {
			v, err := strconv.ParseFloat(field, 64)
			require.NoError(tb, err)
			if i >= len(cols) {
				cols = append(cols, nil)
			}
			cols[i] = append(cols[i], v)
		}
	}
	require.NoError(tb, sc.Err())
	return cols
}

// gearBatches is NIST's GEAR.DAT split into its ten batches.
func gearBatches(tb testing.TB) [][]float64 {
	cols := readColumns(tb, "testdata/gear.dat")
	groups := make([][]float64, 10)
	for i, d := range cols[0] {
		b := int(cols[1][i]) - 1
		groups[b] = append(groups[b], d)
	}
	return groups
}

func TestProcessHandComputed(t *testing.T) {
	// x = 10 12 11 13 12, LSL 8, USL 16. Mean 11.6; moving ranges 2 1 2 1,
	// MR̄ 1.5, σw = 1.5/1.128; Σ(x−x̄)² = 5.2, s = √1.3.
	st, err := Process([]float64{10, 12, 11, 13, 12}, TwoSided(8, 16), 0)
	require.NoError(t, err)
	sw, so := 1.5/1.128, math.Sqrt(1.3)
	assert.Equal(t, 5, st.N)
	assert.InDelta(t, 11.6, st.Mean, 1e-12)
	assert.InDelta(t, 1.5, st.MRBar, 1e-12)
	assert.InDelta(t, sw, st.SigmaWithin, 1e-12)
	assert.InDelta(t, so, st.SigmaOverall, 1e-12)
	require.NotNil(t, st.Cp)
	require.NotNil(t, st.Pp)
	assert.InDelta(t, 8/(6*sw), st.Cp.Value, 1e-12)
	assert.InDelta(t, (11.6-8)/(3*sw), st.Cpk.Value, 1e-12, "the lower limit is nearer")
	assert.InDelta(t, (16-11.6)/(3*sw), st.CPU.Value, 1e-12)
	assert.InDelta(t, 8/(6*so), st.Pp.Value, 1e-12)
	assert.InDelta(t, (11.6-8)/(3*so), st.Ppk.Value, 1e-12)
	assert.Less(t, st.Cp.CI.Low, st.Cp.Value)
	assert.Greater(t, st.Cp.CI.High, st.Cp.Value)
	// Short-term σ rests on 0.62(n−1) degrees of freedom, so its interval is
	// wider than the overall one's relative to the value.
	assert.Greater(t, (st.Cp.CI.High-st.Cp.CI.Low)/st.Cp.Value, (st.Pp.CI.High-st.Pp.CI.Low)/st.Pp.Value)
}

func TestPotentialIntervalMontgomery(t *testing.T) {
	// Montgomery, Introduction to Statistical Quality Control, Example 8.5:
	// LSL 38, USL 62, n 20, s 1.75: Ĉp = 2.29, 95 % interval 1.57 ≤ Cp ≤ 3.01.
	// The book rounds Ĉp to 2.29 before the interval; so does this test.
	assert.InDelta(t, 2.29, 24/(6*1.75), 0.005)
	ci := PotentialInterval(2.29, 19, 0.95)
	assert.InDelta(t, 1.57, ci.Low, 0.005)
	assert.InDelta(t, 3.01, ci.High, 0.005)
}

func TestCpkIntervalMontgomery(t *testing.T) {
	// Montgomery, Example 8.6: n 20, Ĉpk = 1.33: 0.88 ≤ Cpk ≤ 1.78.
	ci := kInterval(1.33, 20, 19, 0.95)
	assert.InDelta(t, 0.88, ci.Low, 0.005)
	assert.InDelta(t, 1.78, ci.High, 0.005)
}

func TestProcessOneSided(t *testing.T) {
	// Radial runout: upper limit only. x = 4 6 5 7 µm, USL 20 µm.
	xs := []float64{0.004, 0.006, 0.005, 0.007}
	st, err := Process(xs, UpperOnly(0.020), 0.95)
	require.NoError(t, err)
	assert.True(t, st.OneSided)
	assert.Nil(t, st.Cp, "no Cp without a lower limit")
	assert.Nil(t, st.Pp)
	assert.Nil(t, st.CPL)
	require.NotNil(t, st.CPU)
	sw := (0.002 + 0.001 + 0.002) / 3 / 1.128
	assert.InDelta(t, (0.020-0.0055)/(3*sw), st.Cpk.Value, 1e-9)
	assert.Equal(t, *st.CPU, st.Cpk)
	assert.Equal(t, *st.PPU, st.Ppk)
}

func TestProcessErrors(t *testing.T) {
	_, err := Process([]float64{1, 2}, TwoSided(0, 3), 0)
	assert.ErrorIs(t, err, ErrTooFew)
	_, err = Process([]float64{1, 2, 3}, Spec{}, 0)
	assert.ErrorContains(t, err, "no limit")
	_, err = Process([]float64{1, 2, 3}, TwoSided(3, 1), 0)
	assert.ErrorContains(t, err, "not above")
	_, err = Process([]float64{2, 2, 2}, TwoSided(1, 3), 0)
	assert.ErrorContains(t, err, "no variation")
	_, err = Process([]float64{1, 2, 3}, TwoSided(0, 4), 1.5)
	assert.ErrorContains(t, err, "confidence")
}

func TestAccumulatorOrderMatters(t *testing.T) {
	// Same values, different production order: overall σ is the same, the
	// short-term σ (moving ranges) is not.
	a, err := Process([]float64{1, 2, 3, 4, 5, 6}, TwoSided(0, 7), 0)
	require.NoError(t, err)
	b, err := Process([]float64{1, 6, 2, 5, 3, 4}, TwoSided(0, 7), 0)
	require.NoError(t, err)
	assert.InDelta(t, a.SigmaOverall, b.SigmaOverall, 1e-12)
	assert.InDelta(t, 1.0, a.MRBar, 1e-12)
	assert.InDelta(t, (5.0+4+3+2+1)/5, b.MRBar, 1e-12)
}

func TestMachine(t *testing.T) {
	groups := gearBatches(t)
	m, err := Machine(groups[0], TwoSided(0.98, 1.02), 0)
	require.NoError(t, err)
	p, err := Process(groups[0], TwoSided(0.98, 1.02), 0)
	require.NoError(t, err)
	assert.True(t, m.Short, "10 parts are fewer than ISO 22514-3 asks")
	assert.Equal(t, p.Pp, m.Cm, "Cm uses the overall σ of the machine's parts")
	assert.Equal(t, p.Ppk, m.Cmk)
	var all []float64
	for _, g := range groups {
		all = append(all, g...)
	}
	m, err = Machine(all, UpperOnly(1.02), 0)
	require.NoError(t, err)
	assert.False(t, m.Short)
	assert.Nil(t, m.Cm)
}

func TestOneWayANOVANIST(t *testing.T) {
	// NIST/SEMATECH e-Handbook 7.4.3.3, one-way ANOVA example: SS(treatments)
	// 27.897, SS(error) 17.452, df 2 and 12, F 9.59.
	a, err := OneWayANOVA([][]float64{
		{6.9, 5.4, 5.8, 4.6, 4.0},
		{8.3, 6.8, 7.8, 9.2, 6.5},
		{8.0, 10.5, 8.1, 6.9, 9.3},
	})
	require.NoError(t, err)
	assert.InDelta(t, 27.897, a.SSBetween, 0.0005)
	assert.InDelta(t, 17.452, a.SSWithin, 0.0005)
	assert.Equal(t, 2, a.DFBetween)
	assert.Equal(t, 12, a.DFWithin)
	assert.InDelta(t, 9.59, a.F, 0.005)
	// F(2,12) upper 1 % point is 6.93, so p < 0.01.
	assert.Less(t, a.P, 0.01)
	assert.True(t, a.Significant)
}

func TestLeveneGEARNIST(t *testing.T) {
	// NIST/SEMATECH e-Handbook 1.3.5.10 (Levene test, GEAR.DAT):
	// W = 1.705910 with 9 and 90 degrees of freedom, below the 5 % critical
	// value 1.985595, so equal variances are not rejected. Double precision
	// gives 1.7059177; the handbook's Dataplot output agrees to the six
	// significant digits it can be trusted to (1.70591).
	l, err := LeveneTest(gearBatches(t), Median)
	require.NoError(t, err)
	assert.InDelta(t, 1.705910, l.W, 1e-5)
	assert.Equal(t, 9, l.DF1)
	assert.Equal(t, 90, l.DF2)
	assert.False(t, l.Significant)
	assert.Greater(t, l.P, 0.05)

	mean, err := LeveneTest(gearBatches(t), Mean)
	require.NoError(t, err)
	assert.NotEqual(t, l.W, mean.W, "the mean-centred variant is a different statistic")
}

func TestLeveneDetectsSpread(t *testing.T) {
	a := []float64{10.0, 10.1, 9.9, 10.0, 10.1, 9.9, 10.0, 10.05, 9.95, 10.0}
	b := []float64{9.0, 11.0, 9.5, 10.5, 8.8, 11.2, 9.3, 10.7, 9.1, 10.9}
	l, err := LeveneTest([][]float64{a, b}, Median)
	require.NoError(t, err)
	assert.True(t, l.Significant)
}

func TestANOVAErrors(t *testing.T) {
	_, err := OneWayANOVA([][]float64{{1, 2}})
	assert.ErrorIs(t, err, ErrTooFew)
	_, err = OneWayANOVA([][]float64{{1}, {}})
	assert.ErrorIs(t, err, ErrTooFew)
	_, err = OneWayANOVA([][]float64{{1}, {2}})
	assert.ErrorIs(t, err, ErrTooFew)
}

func TestFitNorris(t *testing.T) {
	// NIST StRD Norris, certified values.
	cols := readColumns(t, "testdata/norris.dat")
	l, err := Fit(cols[1], cols[0])
	require.NoError(t, err)
	assert.Equal(t, 36, l.N)
	assert.InDelta(t, -0.262323073774029, l.Intercept, 1e-9)
	assert.InDelta(t, 1.00211681802045, l.Slope, 1e-12)
	assert.InDelta(t, 0.232818234301152, l.InterceptSE, 1e-9)
	assert.InDelta(t, 0.429796848199937e-3, l.SlopeSE, 1e-12)
	assert.InDelta(t, 0.884796396144373, l.ResidualSD, 1e-9)
	assert.InDelta(t, 0.999993745883712, l.R2, 1e-12)
	assert.True(t, l.Significant)
}

func TestFitErrors(t *testing.T) {
	_, err := Fit([]float64{1, 2}, []float64{1, 2})
	assert.ErrorIs(t, err, ErrTooFew)
	_, err = Fit([]float64{1, 1, 1}, []float64{1, 2, 3})
	assert.ErrorContains(t, err, "no line")
	_, err = Fit([]float64{1, 2, 3}, []float64{1, 2})
	assert.Error(t, err)
}

func TestMaxRunFor(t *testing.T) {
	// Head diameter 1.38…1.42 mm grows 0.0002 mm per part from 1.395 mm on a
	// fresh dressing, σ 0.002 mm, target Cpk 1.33: the mean may reach
	// 1.42 − 3·0.002·1.33 = 1.41202 mm, i.e. (1.41202 − 1.395)/0.0002 = 85.1 parts.
	l := Line{Intercept: 1.395, Slope: 0.0002}
	x, ok, inf := l.MaxRunFor(TwoSided(1.38, 1.42), 0.002, 1.33)
	require.True(t, ok)
	assert.False(t, inf)
	assert.InDelta(t, 85.1, x, 1e-9)

	l = Line{Intercept: 1.400, Slope: -0.0001}
	x, ok, _ = l.MaxRunFor(TwoSided(1.38, 1.42), 0.002, 1.33)
	require.True(t, ok)
	assert.InDelta(t, (1.38+3*0.002*1.33-1.400)/-0.0001, x, 1e-9)

	_, ok, _ = Line{Intercept: 1.419, Slope: 0}.MaxRunFor(TwoSided(1.38, 1.42), 0.002, 1.33)
	assert.False(t, ok, "a fresh wheel already misses the target")

	_, ok, inf = Line{Intercept: 0.005, Slope: -1e-5}.MaxRunFor(UpperOnly(0.02), 0.002, 1.33)
	assert.True(t, ok)
	assert.True(t, inf, "drifting away from the only limit never misses it")
}

func TestAndersonDarling(t *testing.T) {
	// Hand-computed (A² = −n − (1/n)Σ(2i−1)[ln Φ(zᵢ) + ln(1−Φ(z₍ₙ₊₁₋ᵢ₎))] with
	// the sample's mean and σ): GEAR.DAT A² = 1.457952, A²* = 1.469215, and
	// from D'Agostino & Stephens' formula p = exp(1.2937 − 5.709A²* + 0.0186A²*²).
	var all []float64
	for _, g := range gearBatches(t) {
		all = append(all, g...)
	}
	r, err := AndersonDarling(all)
	require.NoError(t, err)
	assert.InDelta(t, 1.457952, r.A2, 1e-6)
	assert.InDelta(t, 1.469215, r.A2Star, 1e-6)
	a := 1.469214619586631
	assert.InDelta(t, math.Exp(1.2937-5.709*a+0.0186*a*a), r.P, 1e-9)
	assert.False(t, r.Normal)

	// The NIST one-way ANOVA data pooled: A² = 0.148138, A²* = 0.157026.
	r, err = AndersonDarling([]float64{6.9, 5.4, 5.8, 4.6, 4.0, 8.3, 6.8, 7.8, 9.2, 6.5, 8.0, 10.5, 8.1, 6.9, 9.3})
	require.NoError(t, err)
	assert.InDelta(t, 0.148138, r.A2, 1e-6)
	assert.InDelta(t, 0.157026, r.A2Star, 1e-6)
	assert.True(t, r.Normal)
	assert.Greater(t, r.P, 0.5)

	_, err = AndersonDarling([]float64{1, 2, 3})
	assert.ErrorIs(t, err, ErrTooFew)
}

func TestAndersonDarlingRejectsSkewed(t *testing.T) {
	// Exponential quantiles at plotting positions: clearly not normal.
	var xs []float64
	for i := 1; i <= 200; i++ {
		xs = append(xs, -math.Log(1-(float64(i)-0.5)/200))
	}
	r, err := AndersonDarling(xs)
	require.NoError(t, err)
	assert.False(t, r.Normal)
	assert.Less(t, r.P, 0.001)
}

func TestAndersonDarlingFarOutlier(t *testing.T) {
	// A reject 12σ out among 400 close values: a normal CDF computed as
	// 1 − Φ would give log 0 here. A² stays finite and large, p is 0.
	var xs []float64
	for i := 1; i <= 400; i++ {
		xs = append(xs, 0.005+0.0015*math.Sin(float64(i)))
	}
	xs = append(xs, 0.03)
	r, err := AndersonDarling(xs)
	require.NoError(t, err)
	assert.False(t, math.IsInf(r.A2, 0) || math.IsNaN(r.A2), "A² = %v", r.A2)
	assert.Less(t, r.P, 0.001)
	assert.False(t, r.Normal)
}
