package capability

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// D2 is the bias-correction constant d2 for moving ranges of two consecutive
// points: σ̂ = MR̄ / d2 (ISO 7870-2, Table 2).
const D2 = 1.128

// MovingRangeDFFactor scales n−1 to the effective degrees of freedom of
// σ̂ = MR̄/d2 (Wheeler, Advanced Topics in SPC, 2nd ed., Table 23: ν ≈ 0.62(n−1)).
// Using n−1 would claim more certainty than the moving range holds.
const MovingRangeDFFactor = 0.62

// DefaultConfidence is the confidence level of the intervals the report shows.
const DefaultConfidence = 0.95

// ErrTooFew is returned when a sample is too small for the statistic asked.
var ErrTooFew = errors.New("capability: too few values")

// Spec is a characteristic's specification: a lower limit, an upper limit or
// both. A characteristic with a natural bound (radial runout cannot be below
// zero) has only the limit that matters.
type Spec struct {
	Lower, Upper       float64
	HasLower, HasUpper bool
}

// TwoSided is a specification with both limits.
func TwoSided(lower, upper float64) Spec {
	return Spec{Lower: lower, Upper: upper, HasLower: true, HasUpper: true}
}

// UpperOnly is a specification with only an upper limit.
func UpperOnly(upper float64) Spec { return Spec{Upper: upper, HasUpper: true} }

// LowerOnly is a specification with only a lower limit.
func LowerOnly(lower float64) Spec { return Spec{Lower: lower, HasLower: true} }

// Validate reports a specification without limits or with crossed limits.
func (s Spec) Validate() error {
	switch {
	case !s.HasLower && !s.HasUpper:
		return errors.New("capability: specification has no limit")
	case s.HasLower && s.HasUpper && !(s.Upper > s.Lower):
		return fmt.Errorf("capability: upper limit %g not above lower limit %g", s.Upper, s.Lower)
	}
	return nil
}

// OneSided reports whether the specification has a single limit.
func (s Spec) OneSided() bool { return s.HasLower != s.HasUpper }

// Interval is a two-sided confidence interval.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Index is a capability index with its confidence interval.
type Index struct {
	Value float64  `json:"value"`
	CI    Interval `json:"ci"`
}

// Accumulator gathers what the capability indices need from a series in
// production order, in constant memory: count, mean and sum of squares
// (Welford) for the overall σ, and the sum of moving ranges for the
// short-term σ. Its zero value is ready to use.
type Accumulator struct {
	n          int
	mean, m2   float64
	mrSum      float64
	last       float64
	min, max   float64
	hasLastVal bool
}

// Add appends the next value of the series (production order matters for the
// moving range).
func (a *Accumulator) Add(x float64) {
	a.n++
	d := x - a.mean
	a.mean += d / float64(a.n)
	a.m2 += d * (x - a.mean)
	if a.hasLastVal {
		a.mrSum += math.Abs(x - a.last)
	}
	if a.n == 1 || x < a.min {
		a.min = x
	}
	if a.n == 1 || x > a.max {
		a.max = x
	}
	a.last, a.hasLastVal = x, true
}

// N is the number of values added.
func (a *Accumulator) N() int { return a.n }

// Mean is the arithmetic mean.
func (a *Accumulator) Mean() float64 { return a.mean }

// StdDev is the overall sample standard deviation (n−1 divisor).
func (a *Accumulator) StdDev() float64 {
	if a.n < 2 {
		return math.NaN()
	}
	return math.Sqrt(a.m2 / float64(a.n-1))
}

// MRBar is the average moving range of consecutive values.
func (a *Accumulator) MRBar() float64 {
	if a.n < 2 {
		return math.NaN()
	}
	return a.mrSum / float64(a.n-1)
}

// SigmaWithin is the short-term σ, MR̄/d2.
func (a *Accumulator) SigmaWithin() float64 { return a.MRBar() / D2 }

// Min and Max are the extreme values added.
func (a *Accumulator) Min() float64 { return a.min }

// Max is the largest value added.
func (a *Accumulator) Max() float64 { return a.max }

// Study is the capability of one characteristic over a series.
type Study struct {
	N            int     `json:"n"`
	Mean         float64 `json:"mean"`
	SigmaWithin  float64 `json:"sigma_within"`  // MR̄/d2
	SigmaOverall float64 `json:"sigma_overall"` // sample standard deviation
	MRBar        float64 `json:"mr_bar"`
	Confidence   float64 `json:"confidence"`
	OneSided     bool    `json:"one_sided"`
	// Cp and Pp need both limits; they are nil for a one-sided specification.
	Cp *Index `json:"cp,omitempty"`
	Pp *Index `json:"pp,omitempty"`
	// Cpk and Ppk are min(CPU, CPL) and min(PPU, PPL); for a one-sided
	// specification they are the index of the one limit (CPU or CPL).
	Cpk Index  `json:"cpk"`
	Ppk Index  `json:"ppk"`
	CPU *Index `json:"cpu,omitempty"`
	CPL *Index `json:"cpl,omitempty"`
	PPU *Index `json:"ppu,omitempty"`
	PPL *Index `json:"ppl,omitempty"`
}

// Process computes the study of xs, given in production order, against spec
// at confidence conf (0 < conf < 1; 0 means DefaultConfidence). Errors:
// ErrTooFew below 3 values; a specification error; a zero spread.
func Process(xs []float64, spec Spec, conf float64) (Study, error) {
	var a Accumulator
	for _, x := range xs {
		a.Add(x)
	}
	return a.Study(spec, conf)
}

// Study computes the capability study of the values added so far.
func (a *Accumulator) Study(spec Spec, conf float64) (Study, error) {
	if err := spec.Validate(); err != nil {
		return Study{}, err
	}
	if conf == 0 {
		conf = DefaultConfidence
	}
	if !(conf > 0 && conf < 1) {
		return Study{}, fmt.Errorf("capability: confidence %g not in (0,1)", conf)
	}
	if a.n < 3 {
		return Study{}, fmt.Errorf("%w: %d values, need at least 3", ErrTooFew, a.n)
	}
	st := Study{
		N: a.n, Mean: a.mean, MRBar: a.MRBar(), SigmaWithin: a.SigmaWithin(),
		SigmaOverall: a.StdDev(), Confidence: conf, OneSided: spec.OneSided(),
	}
	if !(st.SigmaWithin > 0) || !(st.SigmaOverall > 0) {
		return Study{}, errors.New("capability: no variation in the values")
	}
	nuWithin := MovingRangeDFFactor * float64(a.n-1)
	nuOverall := float64(a.n - 1)
	st.Cp, st.Cpk, st.CPU, st.CPL = indices(spec, a.n, st.Mean, st.SigmaWithin, nuWithin, conf)
	st.Pp, st.Ppk, st.PPU, st.PPL = indices(spec, a.n, st.Mean, st.SigmaOverall, nuOverall, conf)
	return st, nil
}

// indices computes the potential index (both limits), the one-sided indices
// and their minimum for σ estimated with nu degrees of freedom.
func indices(spec Spec, n int, mean, sigma, nu, conf float64) (p *Index, pk Index, upper, lower *Index) {
	if spec.HasUpper {
		v := (spec.Upper - mean) / (3 * sigma)
		upper = &Index{Value: v, CI: kInterval(v, n, nu, conf)}
	}
	if spec.HasLower {
		v := (mean - spec.Lower) / (3 * sigma)
		lower = &Index{Value: v, CI: kInterval(v, n, nu, conf)}
	}
	switch {
	case upper != nil && lower != nil:
		v := (spec.Upper - spec.Lower) / (6 * sigma)
		p = &Index{Value: v, CI: PotentialInterval(v, nu, conf)}
		pk = *upper
		if lower.Value < upper.Value {
			pk = *lower
		}
		pk.CI = kInterval(pk.Value, n, nu, conf)
	case upper != nil:
		pk = *upper
	default:
		pk = *lower
	}
	return p, pk, upper, lower
}

// PotentialInterval is the confidence interval of Cp (or Pp) = v with σ
// estimated on nu degrees of freedom: v·√(χ²(α/2, ν)/ν) … v·√(χ²(1−α/2, ν)/ν)
// (Montgomery, Introduction to SQC, §8.3.5).
func PotentialInterval(v, nu, conf float64) Interval {
	alpha := 1 - conf
	chi := distuv.ChiSquared{K: nu}
	return Interval{
		Low:  v * math.Sqrt(chi.Quantile(alpha/2)/nu),
		High: v * math.Sqrt(chi.Quantile(1-alpha/2)/nu),
	}
}

// kInterval is the normal-approximation interval of Cpk, CPU or CPL = v from
// n values with σ on nu degrees of freedom (Bissell 1990):
// v ± z(1−α/2)·√(1/(9n) + v²/(2ν)).
func kInterval(v float64, n int, nu, conf float64) Interval {
	z := distuv.UnitNormal.Quantile(1 - (1-conf)/2)
	h := z * math.Sqrt(1/(9*float64(n))+v*v/(2*nu))
	return Interval{Low: v - h, High: v + h}
}
