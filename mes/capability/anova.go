package capability

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// SignificanceAlpha is the level at which the grinder comparisons (ANOVA,
// Levene) call a difference significant.
const SignificanceAlpha = 0.05

// ANOVA is a one-way analysis of variance of k groups.
type ANOVA struct {
	K, N        int       `json:"-"`
	SSBetween   float64   `json:"ss_between"`
	SSWithin    float64   `json:"ss_within"`
	DFBetween   int       `json:"df_between"`
	DFWithin    int       `json:"df_within"`
	MSBetween   float64   `json:"ms_between"`
	MSWithin    float64   `json:"ms_within"`
	F           float64   `json:"f"`
	P           float64   `json:"p"`
	GroupMeans  []float64 `json:"group_means"`
	GrandMean   float64   `json:"grand_mean"`
	Significant bool      `json:"significant"` // P < SignificanceAlpha
}

// OneWayANOVA tests whether the means of groups differ. Each group needs at
// least one value, and there must be at least two groups and more values
// than groups.
func OneWayANOVA(groups [][]float64) (ANOVA, error) {
	k := len(groups)
	if k < 2 {
		return ANOVA{}, fmt.Errorf("%w: %d groups, ANOVA needs at least 2", ErrTooFew, k)
	}
	var a ANOVA
	a.K = k
	var sum float64
	for i, g := range groups {
		if len(g) == 0 {
			return ANOVA{}, fmt.Errorf("%w: group %d is empty", ErrTooFew, i)
		}
		a.N += len(g)
		for _, x := range g {
			sum += x
		}
	}
	if a.N <= k {
		return ANOVA{}, fmt.Errorf("%w: %d values in %d groups", ErrTooFew, a.N, k)
	}
	a.GrandMean = sum / float64(a.N)
	a.GroupMeans = make([]float64, k)
	for i, g := range groups {
		var s float64
		for _, x := range g {
			s += x
		}
		m := s / float64(len(g))
		a.GroupMeans[i] = m
		a.SSBetween += float64(len(g)) * (m - a.GrandMean) * (m - a.GrandMean)
		for _, x := range g {
			a.SSWithin += (x - m) * (x - m)
		}
	}
	a.DFBetween, a.DFWithin = k-1, a.N-k
	a.MSBetween = a.SSBetween / float64(a.DFBetween)
	a.MSWithin = a.SSWithin / float64(a.DFWithin)
	switch {
	case a.MSWithin > 0:
		a.F = a.MSBetween / a.MSWithin
		a.P = distuv.F{D1: float64(a.DFBetween), D2: float64(a.DFWithin)}.Survival(a.F)
	case a.MSBetween > 0:
		a.F, a.P = math.Inf(1), 0
	default:
		a.F, a.P = 0, 1
	}
	a.Significant = a.P < SignificanceAlpha
	return a, nil
}

// Center is the location Levene's test measures deviations from.
type Center int

// Centers of Levene's test.
const (
	// Median is the Brown–Forsythe variant, robust against non-normal data;
	// the NIST/SEMATECH e-Handbook's Levene example uses it.
	Median Center = iota
	// Mean is Levene's original test.
	Mean
)

// Levene is Levene's test for equal variances across groups: a one-way ANOVA
// of the absolute deviations of each value from its group's center.
type Levene struct {
	Center      Center  `json:"-"`
	W           float64 `json:"w"`
	DF1         int     `json:"df1"`
	DF2         int     `json:"df2"`
	P           float64 `json:"p"`
	Significant bool    `json:"significant"`
}

// LeveneTest tests groups for equal variances around center.
func LeveneTest(groups [][]float64, center Center) (Levene, error) {
	dev := make([][]float64, len(groups))
	for i, g := range groups {
		if len(g) == 0 {
			return Levene{}, fmt.Errorf("%w: group %d is empty", ErrTooFew, i)
		}
		c := groupCenter(g, center)
		dev[i] = make([]float64, len(g))
		for j, x := range g {
			dev[i][j] = math.Abs(x - c)
		}
	}
	a, err := OneWayANOVA(dev)
	if err != nil {
		return Levene{}, fmt.Errorf("levene: %w", err)
	}
	return Levene{Center: center, W: a.F, DF1: a.DFBetween, DF2: a.DFWithin, P: a.P, Significant: a.Significant}, nil
}

func groupCenter(g []float64, c Center) float64 {
	if c == Mean {
		var s float64
		for _, x := range g {
			s += x
		}
		return s / float64(len(g))
	}
	s := slices.Clone(g)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
