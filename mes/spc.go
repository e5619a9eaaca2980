package mes

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// SPCPoint is one measured value of one characteristic, in production order.
type SPCPoint struct {
	Serial  string    `json:"serial"`
	Time    time.Time `json:"time"`
	Value   float64   `json:"value_mm"`
	Machine string    `json:"machine,omitempty"` // grinder the value is attributed to
	Batch   string    `json:"batch,omitempty"`
}

// ChartKind names a Shewhart control chart pair.
type ChartKind string

// Control chart kinds.
const (
	ChartIMR   ChartKind = "i_mr"   // individuals and moving range (subgroup size 1)
	ChartXbarR ChartKind = "xbar_r" // subgroup means and ranges
)

// ControlLimits are the centre line and 3σ limits of one chart. They come from
// the process's own baseline, never from the product's tolerances.
type ControlLimits struct {
	Center float64 `json:"center"`
	LCL    float64 `json:"lcl"`
	UCL    float64 `json:"ucl"`
}

// SPCRule is one run rule of a Shewhart chart (Nelson 1984, Western
// Electric 1956, AIAG SPC manual). Zones are in σ of the plotted statistic,
// (UCL − centre)/3.
type SPCRule string

// Run rules, named by what they detect.
const (
	RuleBeyond3Sigma        SPCRule = "beyond_3sigma"    // one point beyond a control limit (Nelson 1, WE 1, AIAG)
	RuleNineOneSide         SPCRule = "9_one_side"       // nine in a row on one side of the centre line (Nelson 2)
	RuleSixTrend            SPCRule = "6_trend"          // six in a row steadily increasing or decreasing (Nelson 3)
	RuleFourteenAlternating SPCRule = "14_alternating"   // fourteen in a row alternating up and down (Nelson 4)
	RuleTwoOfThree2S        SPCRule = "2_of_3_beyond_2s" // two of three beyond 2σ on the same side (Nelson 5, WE 2)
	RuleFourOfFive1S        SPCRule = "4_of_5_beyond_1s" // four of five beyond 1σ on the same side (Nelson 6, WE 3)
	RuleFifteenWithin1S     SPCRule = "15_within_1s"     // fifteen in a row within 1σ, either side (Nelson 7)
	RuleEightBeyond1S       SPCRule = "8_beyond_1s"      // eight in a row beyond 1σ, on both sides (Nelson 8)
	RuleEightOneSide        SPCRule = "8_one_side"       // eight in a row on one side (WE 4)
	RuleSevenOneSide        SPCRule = "7_one_side"       // seven in a row on one side (AIAG)
	RuleSevenTrend          SPCRule = "7_trend"          // seven in a row increasing or decreasing (AIAG)
)

// Rule sets a product can choose (Product.SPCRules).
const (
	RuleSetNelson          = "nelson"
	RuleSetWesternElectric = "western_electric"
	RuleSetAIAG            = "aiag"
)

// SPCRuleSets are the named rule sets: Nelson's eight tests, the Western
// Electric handbook's four zone rules, and the AIAG SPC manual's rules
// (a point beyond the limits, a run of seven on one side, a trend of seven).
var SPCRuleSets = map[string][]SPCRule{
	RuleSetNelson: {RuleBeyond3Sigma, RuleNineOneSide, RuleSixTrend, RuleFourteenAlternating,
		RuleTwoOfThree2S, RuleFourOfFive1S, RuleFifteenWithin1S, RuleEightBeyond1S},
	RuleSetWesternElectric: {RuleBeyond3Sigma, RuleTwoOfThree2S, RuleFourOfFive1S, RuleEightOneSide},
	RuleSetAIAG:            {RuleBeyond3Sigma, RuleSevenOneSide, RuleSevenTrend},
}

// DefaultSPCRules are the rules a chart is checked against unless its
// product chooses another set: Nelson's.
var DefaultSPCRules = SPCRuleSets[RuleSetNelson]

// SPCRuleSet is the rule set the product chose, Nelson's by default.
func (p *Product) SPCRuleSet() []SPCRule {
	if r, ok := SPCRuleSets[p.SPCRules]; ok {
		return r
	}
	return DefaultSPCRules
}

// SPCViolation is one rule violation on a chart.
type SPCViolation struct {
	Rule   SPCRule `json:"rule"`
	Chart  string  `json:"chart"` // "x" (individuals or means) or "r" (moving range or range)
	Index  int     `json:"index"` // plotted point at which the rule fired
	Start  int     `json:"start"` // first plotted point of the pattern
	Serial string  `json:"serial"`
	Value  float64 `json:"value"`
}

// String describes the violation for an alert.
func (v SPCViolation) String() string {
	return fmt.Sprintf("%s on %s chart at point %d (%s, %.6g)", v.Rule, v.Chart, v.Index, v.Serial, v.Value)
}

// ControlChart is an I-MR or X̄–R chart of one characteristic.
//
// IMPORTANT: the limits are computed from the baseline window only; points
// after it are judged against those frozen limits, so a drifting process
// shows up as violations instead of dragging its own limits along.
type ControlChart struct {
	Kind          ChartKind      `json:"kind"`
	SubgroupSize  int            `json:"subgroup_size"`  // 1 for I-MR
	BaselineFrom  int            `json:"baseline_from"`  // first plotted point of the baseline
	BaselineTo    int            `json:"baseline_to"`    // one past the last plotted point of the baseline
	Points        []SPCPoint     `json:"points"`         // input in production order
	Values        []float64      `json:"values"`         // plotted x: individuals, or subgroup means
	Serials       []string       `json:"serials"`        // serial of each plotted x (last of its subgroup)
	Ranges        []float64      `json:"ranges"`         // I-MR: Ranges[i] = |x[i+1]−x[i]|; X̄–R: range of subgroup i
	X             ControlLimits  `json:"x"`              // individuals or means chart
	R             ControlLimits  `json:"r"`              // moving range or range chart
	SigmaWithin   float64        `json:"sigma_within"`   // MR̄/d2 or R̄/d2: short-term σ of individuals
	SigmaOverall  float64        `json:"sigma_overall"`  // sample standard deviation of the baseline individuals
	DroppedPoints int            `json:"dropped_points"` // trailing points that did not fill a subgroup
	Violations    []SPCViolation `json:"violations"`     // against DefaultSPCRules
}

// spcConstants are the Shewhart chart constants for subgroup size n (index n).
var spcConstants = [...]struct{ d2, a2, d3, d4 float64 }{
	2:  {1.128, 1.880, 0, 3.267},
	3:  {1.693, 1.023, 0, 2.574},
	4:  {2.059, 0.729, 0, 2.282},
	5:  {2.326, 0.577, 0, 2.114},
	6:  {2.534, 0.483, 0, 2.004},
	7:  {2.704, 0.419, 0.076, 1.924},
	8:  {2.847, 0.373, 0.136, 1.864},
	9:  {2.970, 0.337, 0.184, 1.816},
	10: {3.078, 0.308, 0.223, 1.777},
}

// D2 returns the bias constant d2 for subgroup size n (2..10), 0 otherwise.
func D2(n int) float64 {
	if n < 2 || n >= len(spcConstants) {
		return 0
	}
	return spcConstants[n].d2
}

// IMRChart builds an individuals and moving range chart whose limits come
// from the first baseline points (0 means all of them).
// Errors: EINVALID (fewer than 2 baseline points, or no variation in them).
func IMRChart(points []SPCPoint, baseline int) (*ControlChart, error) {
	if baseline == 0 {
		baseline = len(points)
	}
	return IMRChartWindow(points, 0, baseline)
}

// IMRChartWindow is IMRChart with the baseline taken from points[from:to].
// Errors: EINVALID.
func IMRChartWindow(points []SPCPoint, from, to int) (*ControlChart, error) {
	if from < 0 || to > len(points) || to-from < 2 {
		return nil, Errorf(EINVALID, "spc: baseline [%d,%d) of %d points: need at least 2 points inside the data", from, to, len(points))
	}
	c := &ControlChart{Kind: ChartIMR, SubgroupSize: 1, BaselineFrom: from, BaselineTo: to, Points: points}
	c.Values = make([]float64, len(points))
	c.Serials = make([]string, len(points))
	for i, p := range points {
		c.Values[i], c.Serials[i] = p.Value, p.Serial
	}
	c.Ranges = make([]float64, len(points)-1)
	for i := range c.Ranges {
		c.Ranges[i] = math.Abs(c.Values[i+1] - c.Values[i])
	}
	mean := spcMean(c.Values[from:to])
	mrBar := spcMean(c.Ranges[from : to-1])
	if mrBar == 0 {
		return nil, Errorf(EINVALID, "spc: baseline [%d,%d) has no variation: control limits undefined", from, to)
	}
	k := spcConstants[2]
	c.SigmaWithin = mrBar / k.d2
	c.SigmaOverall = spcStdDev(c.Values[from:to])
	c.X = ControlLimits{Center: mean, LCL: mean - 3*c.SigmaWithin, UCL: mean + 3*c.SigmaWithin}
	c.R = ControlLimits{Center: mrBar, LCL: k.d3 * mrBar, UCL: k.d4 * mrBar}
	c.Violations = c.Check(DefaultSPCRules...)
	return c, nil
}

// XbarRChart builds an X̄–R chart from consecutive subgroups of n points
// (2..10); its limits come from the first baseline subgroups (0 means all).
// Trailing points that do not fill a subgroup are left out and counted in
// DroppedPoints. Errors: EINVALID.
func XbarRChart(points []SPCPoint, n, baseline int) (*ControlChart, error) {
	if n < 2 || n >= len(spcConstants) {
		return nil, Errorf(EINVALID, "spc: subgroup size %d: want 2..%d", n, len(spcConstants)-1)
	}
	if baseline == 0 {
		baseline = len(points) / n
	}
	return XbarRChartWindow(points, n, 0, baseline)
}

// XbarRChartWindow is XbarRChart with the baseline taken from subgroups
// [from, to). Errors: EINVALID.
func XbarRChartWindow(points []SPCPoint, n, from, to int) (*ControlChart, error) {
	if n < 2 || n >= len(spcConstants) {
		return nil, Errorf(EINVALID, "spc: subgroup size %d: want 2..%d", n, len(spcConstants)-1)
	}
	groups := len(points) / n
	if from < 0 || to > groups || to-from < 2 {
		return nil, Errorf(EINVALID, "spc: baseline subgroups [%d,%d) of %d: need at least 2 complete subgroups of %d", from, to, groups, n)
	}
	c := &ControlChart{Kind: ChartXbarR, SubgroupSize: n, BaselineFrom: from, BaselineTo: to,
		Points: points, DroppedPoints: len(points) - groups*n}
	c.Values = make([]float64, groups)
	c.Serials = make([]string, groups)
	c.Ranges = make([]float64, groups)
	vals := make([]float64, n)
	for g := range groups {
		lo, hi := math.Inf(1), math.Inf(-1)
		for j, p := range points[g*n : (g+1)*n] {
			vals[j] = p.Value
			lo, hi = min(lo, p.Value), max(hi, p.Value)
		}
		c.Values[g] = spcMean(vals)
		c.Ranges[g] = hi - lo
		c.Serials[g] = points[(g+1)*n-1].Serial
	}
	xbarbar := spcMean(c.Values[from:to])
	rBar := spcMean(c.Ranges[from:to])
	if rBar == 0 {
		return nil, Errorf(EINVALID, "spc: baseline subgroups [%d,%d) have no within-subgroup variation: control limits undefined", from, to)
	}
	k := spcConstants[n]
	c.SigmaWithin = rBar / k.d2
	base := make([]float64, 0, (to-from)*n)
	for _, p := range points[from*n : to*n] {
		base = append(base, p.Value)
	}
	c.SigmaOverall = spcStdDev(base)
	c.X = ControlLimits{Center: xbarbar, LCL: xbarbar - k.a2*rBar, UCL: xbarbar + k.a2*rBar}
	c.R = ControlLimits{Center: rBar, LCL: k.d3 * rBar, UCL: k.d4 * rBar}
	c.Violations = c.Check(DefaultSPCRules...)
	return c, nil
}

// Check runs the given rules over the chart and returns the violations in
// point order. A run rule (n in a row on one side, trending, alternating,
// within or beyond 1σ) fires once per run, at the point that completes it;
// a point exactly on the centre line, or equal to its predecessor, ends a
// run. A k-of-m rule (and Nelson 8, eight of eight beyond 1σ) fires at each point beyond its zone that completes k
// of the last m. The range chart is checked for points beyond its limits
// only, since its distribution is not symmetric.
func (c *ControlChart) Check(rules ...SPCRule) []SPCViolation {
	var out []SPCViolation
	on := func(r SPCRule) bool { return slices.Contains(rules, r) }
	add := func(r SPCRule, chart string, i, start int, v float64) {
		out = append(out, SPCViolation{Rule: r, Chart: chart, Index: i, Start: start, Serial: c.serialAt(chart, i), Value: v})
	}
	x, lim := c.Values, c.X
	zone := (lim.UCL - lim.Center) / 3 // σ of the plotted statistic
	side := func(v float64) int {
		switch {
		case v > lim.Center:
			return 1
		case v < lim.Center:
			return -1
		}
		return 0
	}
	oneSide := []struct {
		r SPCRule
		n int
	}{{RuleSevenOneSide, 7}, {RuleEightOneSide, 8}, {RuleNineOneSide, 9}}
	trends := []struct {
		r SPCRule
		n int
	}{{RuleSixTrend, 6}, {RuleSevenTrend, 7}}
	kOfM := []struct {
		r      SPCRule
		k, m   int
		sigmas float64
	}{{RuleTwoOfThree2S, 2, 3, 2}, {RuleFourOfFive1S, 4, 5, 1}}
	runSide, runStart := 0, 0
	trendDir, trendStart := 0, 0
	altStart, prevDir := 0, 0
	withinStart := -1
	for i, v := range x {
		if on(RuleBeyond3Sigma) && (v > lim.UCL || v < lim.LCL) {
			add(RuleBeyond3Sigma, "x", i, i, v)
		}
		for _, r := range kOfM {
			if !on(r.r) || i < r.m-1 {
				continue
			}
			for _, s := range []int{1, -1} {
				beyond := func(u float64) bool { return float64(s)*(u-lim.Center) > r.sigmas*zone }
				n := 0
				for _, u := range x[i-r.m+1 : i+1] {
					if beyond(u) {
						n++
					}
				}
				if n >= r.k && beyond(v) {
					add(r.r, "x", i, i-r.m+1, v)
				}
			}
		}
		if s := side(v); s != runSide || s == 0 {
			runSide, runStart = s, i
		}
		for _, r := range oneSide {
			if on(r.r) && runSide != 0 && i-runStart+1 == r.n {
				add(r.r, "x", i, runStart, v)
			}
		}
		// Within 1σ (Nelson 7) and beyond 1σ on both sides (Nelson 8).
		if math.Abs(v-lim.Center) < zone {
			if withinStart < 0 {
				withinStart = i
			}
			if on(RuleFifteenWithin1S) && i-withinStart+1 == 15 {
				add(RuleFifteenWithin1S, "x", i, withinStart, v)
			}
		} else {
			withinStart = -1
		}
		// Nelson 8 looks at the last eight points: all beyond 1σ, some on
		// each side.
		if on(RuleEightBeyond1S) && i >= 7 {
			up, down, all := false, false, true
			for _, u := range x[i-7 : i+1] {
				all = all && math.Abs(u-lim.Center) > zone
				up, down = up || u > lim.Center, down || u < lim.Center
			}
			if all && up && down {
				add(RuleEightBeyond1S, "x", i, i-7, v)
			}
		}
		if i > 0 {
			d := 0
			switch {
			case v > x[i-1]:
				d = 1
			case v < x[i-1]:
				d = -1
			}
			if d != trendDir || d == 0 {
				trendDir, trendStart = d, i-1
			}
			for _, r := range trends {
				if on(r.r) && trendDir != 0 && i-trendStart+1 == r.n {
					add(r.r, "x", i, trendStart, v)
				}
			}
			if d == 0 || d != -prevDir {
				altStart = i - 1
			}
			prevDir = d
			if on(RuleFourteenAlternating) && d != 0 && i-altStart+1 == 14 {
				add(RuleFourteenAlternating, "x", i, altStart, v)
			}
		}
	}
	if on(RuleBeyond3Sigma) {
		for i, r := range c.Ranges {
			if r > c.R.UCL || r < c.R.LCL {
				add(RuleBeyond3Sigma, "r", i, i, r)
			}
		}
	}
	// Range violations were appended after the x chart's; keep time order.
	slices.SortStableFunc(out, func(a, b SPCViolation) int { return a.PlotIndex(c.Kind) - b.PlotIndex(c.Kind) })
	return out
}

func (c *ControlChart) serialAt(chart string, i int) string {
	if chart == "r" && c.Kind == ChartIMR {
		return c.Serials[i+1] // moving range i ends at point i+1
	}
	return c.Serials[i]
}

// PlotIndex is where a violation sits on the time axis of a chart of kind:
// a moving range ends at the point after its index.
func (v SPCViolation) PlotIndex(kind ChartKind) int {
	if v.Chart == "r" && kind == ChartIMR {
		return v.Index + 1
	}
	return v.Index
}

// ProcessCapability is Cp/Cpk from the within-subgroup (short-term) σ and
// Pp/Ppk from the overall sample σ, reported side by side because an auditor
// must see which one a number is.
type ProcessCapability struct {
	N            int     `json:"n"`
	Mean         float64 `json:"mean"`
	LSL          float64 `json:"lsl"`
	USL          float64 `json:"usl"`
	SigmaMethod  string  `json:"sigma_method"` // "MR/d2" or "R/d2"
	SigmaWithin  float64 `json:"sigma_within"`
	SigmaOverall float64 `json:"sigma_overall"`
	Cp           float64 `json:"cp"`
	Cpk          float64 `json:"cpk"`
	Pp           float64 `json:"pp"`
	Ppk          float64 `json:"ppk"`
	Defined      bool    `json:"defined"`         // Cp and Cpk computed (σ within > 0)
	Overall      bool    `json:"overall_defined"` // Pp and Ppk computed (σ overall > 0)
}

// Capability computes capability of values (in production order) against tol
// with σ within = MR̄/d2 (d2 = 1.128 for moving ranges of two). With fewer
// than two values, or no variation, the indices stay 0 and Defined is false.
func Capability(values []float64, tol Tolerance) ProcessCapability {
	pc := ProcessCapability{N: len(values), LSL: tol.Lower, USL: tol.Upper, SigmaMethod: "MR/d2"}
	if len(values) == 0 {
		return pc
	}
	pc.Mean = spcMean(values)
	if len(values) >= 2 {
		var sum float64
		for i := 1; i < len(values); i++ {
			sum += math.Abs(values[i] - values[i-1])
		}
		pc.SigmaWithin = sum / float64(len(values)-1) / spcConstants[2].d2
		pc.SigmaOverall = spcStdDev(values)
	}
	pc.fill()
	return pc
}

// Capability computes capability of the chart's baseline against tol using
// the chart's own σ within (MR̄/d2 or R̄/d2).
func (c *ControlChart) Capability(tol Tolerance) ProcessCapability {
	pc := ProcessCapability{LSL: tol.Lower, USL: tol.Upper, SigmaWithin: c.SigmaWithin, SigmaOverall: c.SigmaOverall, SigmaMethod: "MR/d2"}
	n := c.SubgroupSize
	pc.N = (c.BaselineTo - c.BaselineFrom) * n
	if c.Kind == ChartXbarR {
		pc.SigmaMethod = "R/d2"
	}
	pc.Mean = c.X.Center
	pc.fill()
	return pc
}

func (pc *ProcessCapability) fill() {
	width, near := pc.USL-pc.LSL, min(pc.USL-pc.Mean, pc.Mean-pc.LSL)
	if pc.SigmaWithin > 0 {
		pc.Cp, pc.Cpk, pc.Defined = width/(6*pc.SigmaWithin), near/(3*pc.SigmaWithin), true
	}
	if pc.SigmaOverall > 0 {
		pc.Pp, pc.Ppk, pc.Overall = width/(6*pc.SigmaOverall), near/(3*pc.SigmaOverall), true
	}
}

// SPCPoints extracts the values of characteristic from burs in the given
// order, attributing each to the grinder that ran operation op (0: the bur's
// last recorded operation). Burs without a value for it are skipped.
func SPCPoints(burs []*Bur, characteristic string, op int) []SPCPoint {
	var out []SPCPoint
	for _, b := range burs {
		if b.Measurement == nil {
			continue
		}
		v, ok := b.Measurement.Values[characteristic]
		if !ok {
			continue
		}
		p := SPCPoint{Serial: b.Serial, Time: b.Measurement.Time, Value: v, Batch: b.Batch}
		for i := len(b.Operations) - 1; i >= 0; i-- {
			if o := b.Operations[i]; op == 0 || o.Number == op {
				p.Machine = o.Machine
				break
			}
		}
		out = append(out, p)
	}
	return out
}

// GroupSPCPoints splits points by key (e.g. machine or batch), keeping their order.
func GroupSPCPoints(points []SPCPoint, key func(SPCPoint) string) map[string][]SPCPoint {
	out := make(map[string][]SPCPoint)
	for _, p := range points {
		k := key(p)
		out[k] = append(out[k], p)
	}
	return out
}

func spcMean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// spcStdDev is the sample standard deviation (n−1), 0 for fewer than two values.
func spcStdDev(v []float64) float64 {
	if len(v) < 2 || slices.Min(v) == slices.Max(v) {
		return 0 // not a rounding residue of the mean
	}
	m := spcMean(v)
	var ss float64
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(v)-1))
}
