package capability

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Line is the least-squares line y = Intercept + Slope·x with the figures
// needed to judge it.
type Line struct {
	N           int     `json:"n"`
	Intercept   float64 `json:"intercept"`
	Slope       float64 `json:"slope"`
	InterceptSE float64 `json:"intercept_se"`
	SlopeSE     float64 `json:"slope_se"`
	ResidualSD  float64 `json:"residual_sd"`
	R2          float64 `json:"r2"`
	// P is the two-sided p-value of the slope's t test (H0: slope = 0).
	P float64 `json:"p"`
	// Significant is P < SignificanceAlpha: the characteristic drifts with x.
	Significant bool    `json:"significant"`
	XMin        float64 `json:"x_min"`
	XMax        float64 `json:"x_max"`
}

// Fit fits y on x by ordinary least squares. It needs three or more points
// and two distinct x values.
func Fit(x, y []float64) (Line, error) {
	n := len(x)
	if n != len(y) {
		return Line{}, fmt.Errorf("capability: %d x values, %d y values", n, len(y))
	}
	if n < 3 {
		return Line{}, fmt.Errorf("%w: %d points, a line needs at least 3", ErrTooFew, n)
	}
	a, b := stat.LinearRegression(x, y, nil, false)
	mx := stat.Mean(x, nil)
	var sxx, sse, xmin, xmax float64
	xmin, xmax = x[0], x[0]
	for i := range x {
		sxx += (x[i] - mx) * (x[i] - mx)
		r := y[i] - a - b*x[i]
		sse += r * r
		xmin, xmax = min(xmin, x[i]), max(xmax, x[i])
	}
	if sxx == 0 {
		return Line{}, fmt.Errorf("capability: every x value is %g, no line can be fitted", x[0])
	}
	df := float64(n - 2)
	s := math.Sqrt(sse / df)
	l := Line{
		N: n, Intercept: a, Slope: b, ResidualSD: s,
		SlopeSE:     s / math.Sqrt(sxx),
		InterceptSE: s * math.Sqrt(1/float64(n)+mx*mx/sxx),
		R2:          stat.RSquared(x, y, nil, a, b),
		XMin:        xmin, XMax: xmax,
	}
	switch {
	case l.SlopeSE > 0:
		t := math.Abs(l.Slope / l.SlopeSE)
		l.P = 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(t)
	case l.Slope != 0:
		l.P = 0
	default:
		l.P = 1
	}
	l.Significant = l.P < SignificanceAlpha
	return l, nil
}

// Predict is the line's value at x.
func (l Line) Predict(x float64) float64 { return l.Intercept + l.Slope*x }

// MaxRunFor is the largest x, starting from x = 0 (a freshly dressed wheel),
// up to which the characteristic's mean predicted by l keeps Cpk ≥ target
// with spread sigma around the line. ok is false when even x = 0 misses the
// target; inf is true when the line never leaves the target (no drift
// toward a limit).
func (l Line) MaxRunFor(spec Spec, sigma, target float64) (x float64, ok, inf bool) {
	if !(sigma > 0) {
		return 0, false, false
	}
	// Cpk(x) = min(USL−μ(x), μ(x)−LSL)/3σ ≥ target ⇔ LSL+3σt ≤ μ(x) ≤ USL−3σt.
	lo, hi := math.Inf(-1), math.Inf(1)
	if spec.HasLower {
		lo = spec.Lower + 3*sigma*target
	}
	if spec.HasUpper {
		hi = spec.Upper - 3*sigma*target
	}
	m0 := l.Intercept
	if m0 < lo || m0 > hi {
		return 0, false, false
	}
	switch {
	case l.Slope > 0 && !math.IsInf(hi, 1):
		return (hi - m0) / l.Slope, true, false
	case l.Slope < 0 && !math.IsInf(lo, -1):
		return (lo - m0) / l.Slope, true, false
	}
	return 0, true, true
}

// TwoSidedP is the two-sided p-value of a t statistic with df degrees of
// freedom.
func TwoSidedP(t, df float64) float64 {
	return 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(math.Abs(t))
}
