package capability

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// NormalityAlpha is the significance level below which a characteristic is
// reported as not normal and its capability indices carry a warning.
const NormalityAlpha = 0.05

// Normality is the Anderson–Darling test of a sample against the normal
// distribution with mean and σ estimated from the sample.
type Normality struct {
	N int `json:"n"`
	// A2 is the statistic A²; A2Star the small-sample adjusted
	// A²·(1 + 0.75/n + 2.25/n²) the p-value is read from.
	A2     float64 `json:"a2"`
	A2Star float64 `json:"a2_star"`
	P      float64 `json:"p"`
	// Normal is false when P < NormalityAlpha: the capability indices assume
	// normality and should then be read with care.
	Normal bool `json:"normal"`
}

// AndersonDarling tests xs for normality. It needs at least 8 values.
func AndersonDarling(xs []float64) (Normality, error) {
	n := len(xs)
	if n < 8 {
		return Normality{}, fmt.Errorf("%w: %d values, Anderson–Darling needs at least 8", ErrTooFew, n)
	}
	ys := slices.Clone(xs)
	slices.Sort(ys)
	mean, sd := stat.MeanStdDev(ys, nil)
	if !(sd > 0) {
		return Normality{}, fmt.Errorf("capability: no variation in the values")
	}
	// Both tails through erfc: distuv.Normal's Survival is 1 − CDF, which
	// is 0 beyond about 8σ and would make a far outlier's term −∞.
	var s float64
	for i := range n {
		zlo := (ys[i] - mean) / sd
		zhi := (ys[n-1-i] - mean) / sd
		lo := math.Log(0.5 * math.Erfc(-zlo/math.Sqrt2))
		hi := math.Log(0.5 * math.Erfc(zhi/math.Sqrt2))
		s += float64(2*i+1) * (lo + hi)
	}
	fn := float64(n)
	a2 := -fn - s/fn
	a2s := a2 * (1 + 0.75/fn + 2.25/(fn*fn))
	p := 0.0 // a value beyond double precision's normal tail: not normal
	if !math.IsInf(a2s, 0) && !math.IsNaN(a2s) {
		p = adPValue(a2s)
	}
	return Normality{N: n, A2: a2, A2Star: a2s, P: p, Normal: p >= NormalityAlpha}, nil
}

// adPValue is the p-value of the adjusted statistic for the normal
// distribution with both parameters estimated (D'Agostino & Stephens,
// Goodness-of-Fit Techniques, 1986, Table 4.9).
func adPValue(a float64) float64 {
	var p float64
	switch {
	case a >= 0.6:
		p = math.Exp(1.2937 - 5.709*a + 0.0186*a*a)
	case a >= 0.34:
		p = math.Exp(0.9177 - 4.279*a - 1.38*a*a)
	case a >= 0.2:
		p = 1 - math.Exp(-8.318+42.796*a-59.938*a*a)
	default:
		p = 1 - math.Exp(-13.436+101.14*a-223.73*a*a)
	}
	return min(max(p, 0), 1)
}
