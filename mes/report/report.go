package report

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/capability"
	"github.com/pilotline/pilotline/mes/kpi"
	"github.com/pilotline/pilotline/mes/linesim"
)

// UpperOnly lists the characteristics bounded below by nature (a runout
// cannot be negative): their capability is one-sided, against the upper
// limit only.
var UpperOnly = map[string]bool{mes.CharRadialRunout: true}

// Thresholds are the rules the verdict applies; per product in principle,
// defaults from ISO 22514 practice.
type Thresholds struct {
	Cpk float64 `json:"cpk"` // process capability a characteristic needs
	Cmk float64 `json:"cmk"` // machine capability a grinder needs
}

// DefaultThresholds: Cpk ≥ 1.33, Cmk ≥ 1.67.
var DefaultThresholds = Thresholds{Cpk: 1.33, Cmk: 1.67}

// Input is what a report is built from.
type Input struct {
	Line    *mes.LineConfig
	Product *mes.Product
	Batch   *mes.Batch
	// Burs are the batch's burs with genealogy and measurements.
	Burs []*mes.Bur
	// Events are the machine events (states, cycles, alarms, measurements)
	// of the batch's window, ordered by source time.
	Events []mes.MachineEvent
	// OEE is the KPI report's OEE for the window; nil leaves the waterfall out.
	OEE        *kpi.OEEReport
	Thresholds Thresholds
	// Replications of the prescription's simulation; 0: 8.
	Replications int
	// AnnualGood is the prescription's target volume; 0: a year of the
	// line's configured takt on its shift plan.
	AnnualGood int
	Generated  time.Time
}

// Check is one line of the verdict: what was judged, the number behind it
// and the rule that decided.
type Check struct {
	Topic   string  `json:"topic"`
	TopicZH string  `json:"topic_zh"`
	Subject string  `json:"subject"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit,omitempty"`
	Rule    string  `json:"rule"`
	RuleZH  string  `json:"rule_zh"`
	Pass    bool    `json:"pass"`
	// Note says why a pass is qualified (too few parts, not normal…).
	Note string `json:"note,omitempty"`
}

// Verdict is the report's first page.
type Verdict struct {
	Pass   bool    `json:"pass"`
	Checks []Check `json:"checks"`
}

// Report is a batch's pilot-run report.
type Report struct {
	Batch         string     `json:"batch"`
	Org           string     `json:"org,omitempty"`
	Product       string     `json:"product"`
	ProductName   string     `json:"product_name"`
	ProductNameZH string     `json:"product_name_zh"`
	From          time.Time  `json:"from"`
	To            time.Time  `json:"to"`
	Generated     time.Time  `json:"generated"`
	Thresholds    Thresholds `json:"thresholds"`

	Verdict      Verdict                  `json:"verdict"`
	Takt         Takt                     `json:"takt"`
	OEE          *Waterfall               `json:"oee,omitempty"`
	Capability   []Characteristic         `json:"capability"`
	Grinders     []Comparison             `json:"grinders"`
	Reliability  []linesim.MachineFigures `json:"reliability"`
	Scrap        Scrap                    `json:"scrap"`
	Bottleneck   []GroupLoad              `json:"bottleneck"`
	Wheel        []WheelEffect            `json:"wheel"`
	Energy       Energy                   `json:"energy"`
	Prescription *Prescription            `json:"prescription,omitempty"`
	// Notes list what the report could not compute and why.
	Notes []string `json:"notes,omitempty"`
}

// Build computes the report of in.Batch.
func Build(ctx context.Context, in Input) (*Report, error) {
	if in.Line == nil || in.Product == nil || in.Batch == nil {
		return nil, errors.New("report: line, product and batch are required")
	}
	if in.Thresholds == (Thresholds{}) {
		in.Thresholds = DefaultThresholds
	}
	r := &Report{
		Batch: in.Batch.ID, Org: in.Batch.Org, Product: in.Product.ISO,
		ProductName: in.Product.Name, ProductNameZH: in.Product.NameZH,
		Generated: in.Generated, Thresholds: in.Thresholds,
	}
	r.From, r.To = Window(in)
	r.Takt = buildTakt(in)
	if in.OEE != nil {
		r.OEE = buildWaterfall(in.OEE)
	}
	r.Capability = buildCapability(in, r)
	r.Grinders = buildComparison(in, r)
	r.Scrap = buildScrap(in)
	r.Wheel = buildWheel(in, r)
	r.Energy = buildEnergy(in)
	if err := buildFlow(ctx, in, r); err != nil {
		r.Notes = append(r.Notes, "prescription: "+err.Error())
	}
	r.Verdict = buildVerdict(in, r)
	return r, nil
}

// Window is the batch's production window: first bur created to last
// finished (or now when some are still in work).
func Window(in Input) (from, to time.Time) {
	for _, b := range in.Burs {
		if from.IsZero() || b.Created.Before(from) {
			from = b.Created
		}
		end := b.Finished
		if end.IsZero() {
			end = in.Generated
		}
		if end.After(to) {
			to = end
		}
	}
	if from.IsZero() {
		from, to = in.Batch.Created, in.Generated
	}
	return from, to
}

// Takt is takt attainment: good burs leaving the line against the target.
type Takt struct {
	TargetS      float64     `json:"target_s"`
	Good         int         `json:"good"`
	ActualS      float64     `json:"actual_s"` // mean interval between good burs leaving
	WithinShare  float64     `json:"within_share"`
	Attained     bool        `json:"attained"`
	Intervals    []float64   `json:"intervals_s"`
	Departures   []time.Time `json:"departures"`
	LeadMeanS    float64     `json:"lead_mean_s"`
	LeadMaxS     float64     `json:"lead_max_s"`
	PlannedStart time.Time   `json:"planned_start"`
	PlannedEnd   time.Time   `json:"planned_end"`
	ActualStart  time.Time   `json:"actual_start"`
	ActualEnd    time.Time   `json:"actual_end"`
	LatenessS    float64     `json:"lateness_s"`
}

func buildTakt(in Input) Takt {
	t := Takt{TargetS: in.Line.TaktS, PlannedStart: in.Batch.PlannedStart, PlannedEnd: in.Batch.PlannedEnd}
	var lead float64
	for _, b := range in.Burs {
		if t.ActualStart.IsZero() || b.Created.Before(t.ActualStart) {
			t.ActualStart = b.Created
		}
		if b.Disposition != mes.BurGood || b.Finished.IsZero() {
			continue
		}
		t.Departures = append(t.Departures, b.Finished)
		l := b.Finished.Sub(b.Created).Seconds()
		lead += l
		t.LeadMaxS = max(t.LeadMaxS, l)
	}
	slices.SortFunc(t.Departures, func(a, b time.Time) int { return a.Compare(b) })
	t.Good = len(t.Departures)
	if t.Good > 0 {
		t.LeadMeanS = lead / float64(t.Good)
		t.ActualEnd = t.Departures[t.Good-1]
	}
	within := 0
	for i := 1; i < t.Good; i++ {
		d := t.Departures[i].Sub(t.Departures[i-1]).Seconds()
		t.Intervals = append(t.Intervals, d)
		if d <= t.TargetS {
			within++
		}
	}
	if n := len(t.Intervals); n > 0 {
		t.ActualS = t.Departures[t.Good-1].Sub(t.Departures[0]).Seconds() / float64(n)
		t.WithinShare = float64(within) / float64(n)
	}
	t.Attained = t.ActualS > 0 && t.TargetS > 0 && t.ActualS <= t.TargetS
	if !t.PlannedEnd.IsZero() && t.ActualEnd.After(t.PlannedEnd) {
		t.LatenessS = t.ActualEnd.Sub(t.PlannedEnd).Seconds()
	}
	return t
}

// Waterfall is the OEE loss waterfall: planned busy time down to the ideal
// time of good burs, in hours, per group and for the line (ISO 22400-2).
type Waterfall struct {
	Line   *WaterfallRow  `json:"line,omitempty"`
	Groups []WaterfallRow `json:"groups"`
}

// WaterfallRow is one scope's losses in hours.
type WaterfallRow struct {
	ID                string  `json:"id"`
	PlannedBusyH      float64 `json:"planned_busy_h"`
	AvailabilityLossH float64 `json:"availability_loss_h"`
	SpeedLossH        float64 `json:"speed_loss_h"`
	QualityLossH      float64 `json:"quality_loss_h"`
	GoodIdealH        float64 `json:"good_ideal_h"`
	Availability      float64 `json:"availability"`
	Effectiveness     float64 `json:"effectiveness"`
	Quality           float64 `json:"quality"`
	OEE               float64 `json:"oee"`
}

func waterfallRow(o kpi.OEE) WaterfallRow {
	pbt, apt := o.Time.PBTS/3600, o.Time.APTS/3600
	ideal := o.IdealS / 3600
	goodIdeal := ideal * o.Quality
	return WaterfallRow{
		ID: o.ID, PlannedBusyH: pbt, AvailabilityLossH: pbt - apt,
		SpeedLossH: apt - ideal, QualityLossH: ideal - goodIdeal, GoodIdealH: goodIdeal,
		Availability: o.AvailabilityPBT, Effectiveness: o.EffectivenessUncapped, Quality: o.Quality,
		OEE: o.AvailabilityPBT * o.EffectivenessUncapped * o.Quality, // the waterfall steps down from PBT
	}
}

func buildWaterfall(o *kpi.OEEReport) *Waterfall {
	w := &Waterfall{}
	if o.AllMachines != nil {
		row := waterfallRow(*o.AllMachines)
		w.Line = &row
	}
	for _, g := range o.Groups {
		w.Groups = append(w.Groups, waterfallRow(g))
	}
	return w
}

// Point is one measurement in production order.
type Point struct {
	Time    time.Time `json:"time"`
	Serial  string    `json:"serial"`
	Machine string    `json:"machine"` // the grinder that formed the characteristic
	Value   float64   `json:"value"`
}

// Histogram is counts of values in equal bins from Min to Max.
type Histogram struct {
	Min, Max float64   `json:"-"`
	Edges    []float64 `json:"edges"`
	Counts   []int     `json:"counts"`
}

// IMR holds the individuals and moving-range chart limits (ISO 7870-2).
type IMR struct {
	Center float64 `json:"center"`
	UCL    float64 `json:"ucl"`
	LCL    float64 `json:"lcl"`
	MRBar  float64 `json:"mr_bar"`
	MRUCL  float64 `json:"mr_ucl"`
	// OutOfControl lists the indexes of points beyond the I chart's limits.
	OutOfControl []int `json:"out_of_control"`
}

// Characteristic is the process capability of one characteristic.
type Characteristic struct {
	Name      string                `json:"name"`
	FormedBy  string                `json:"formed_by"`
	Tolerance mes.Tolerance         `json:"tolerance"`
	OneSided  bool                  `json:"one_sided"`
	Study     *capability.Study     `json:"study,omitempty"`
	Normality *capability.Normality `json:"normality,omitempty"`
	Warning   string                `json:"warning,omitempty"`
	Histogram Histogram             `json:"histogram"`
	Chart     IMR                   `json:"chart"`
	Points    []Point               `json:"points"`
	OutOfSpec int                   `json:"out_of_spec"`
}

// spec is the capability specification of a characteristic.
func spec(ch string, t mes.Tolerance) capability.Spec {
	if UpperOnly[ch] {
		return capability.UpperOnly(t.Upper)
	}
	return capability.TwoSided(t.Lower, t.Upper)
}

// formingRecord is the bur's record of the operation that formed ch.
func formingRecord(p *mes.Product, b *mes.Bur, ch string) *mes.OperationRecord {
	op, ok := p.FormedBy(ch)
	if !ok {
		return nil
	}
	num := op.Number
	for j := range b.Operations {
		if b.Operations[j].Number == num && !b.Operations[j].Aborted {
			return &b.Operations[j]
		}
	}
	return nil
}

// points are the measurements of ch in production order (measurement time).
func points(in Input, ch string) []Point {
	var ps []Point
	for _, b := range in.Burs {
		m := b.Measurement
		if m == nil {
			continue
		}
		v, ok := m.Values[ch]
		if !ok {
			continue
		}
		p := Point{Time: m.Time, Serial: b.Serial, Value: v}
		if rec := formingRecord(in.Product, b, ch); rec != nil {
			p.Machine = rec.Machine
		}
		ps = append(ps, p)
	}
	slices.SortStableFunc(ps, func(a, b Point) int { return a.Time.Compare(b.Time) })
	return ps
}

func buildCapability(in Input, r *Report) []Characteristic {
	var out []Characteristic
	for _, ch := range mes.Characteristics {
		tol, ok := in.Product.Tolerances[ch]
		if !ok {
			continue
		}
		c := Characteristic{Name: ch, Tolerance: tol, OneSided: UpperOnly[ch], Points: points(in, ch)}
		if op, ok := in.Product.FormedBy(ch); ok {
			c.FormedBy = op.Group
		}
		xs := make([]float64, len(c.Points))
		for i, p := range c.Points {
			xs[i] = p.Value
			if !tol.Contains(p.Value) {
				c.OutOfSpec++
			}
		}
		if st, err := capability.Process(xs, spec(ch, tol), 0); err == nil {
			c.Study = &st
			c.Chart = imr(xs, st)
		} else {
			r.Notes = append(r.Notes, fmt.Sprintf("capability of %s: %v", ch, err))
		}
		if n, err := capability.AndersonDarling(xs); err == nil {
			c.Normality = &n
			if !n.Normal {
				c.Warning = fmt.Sprintf("not normal (Anderson–Darling p = %.3g < %.2f): Cpk and Ppk assume normality; read them with care", n.P, capability.NormalityAlpha)
			}
		}
		c.Histogram = histogram(xs, tol, 20)
		out = append(out, c)
	}
	return out
}

func imr(xs []float64, st capability.Study) IMR {
	c := IMR{Center: st.Mean, MRBar: st.MRBar}
	c.UCL = st.Mean + 3*st.SigmaWithin
	c.LCL = st.Mean - 3*st.SigmaWithin
	c.MRUCL = 3.267 * st.MRBar // D4 for n = 2
	for i, x := range xs {
		if x > c.UCL || x < c.LCL {
			c.OutOfControl = append(c.OutOfControl, i)
		}
	}
	return c
}

// histogram bins xs over the wider of the data's range and the
// specification.
func histogram(xs []float64, t mes.Tolerance, bins int) Histogram {
	lo, hi := t.Lower, t.Upper
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	h := Histogram{Min: lo, Max: hi, Counts: make([]int, bins)}
	w := (hi - lo) / float64(bins)
	for i := 0; i <= bins; i++ {
		h.Edges = append(h.Edges, lo+float64(i)*w)
	}
	if w <= 0 {
		return h
	}
	for _, x := range xs {
		i := min(int((x-lo)/w), bins-1)
		h.Counts[i]++
	}
	return h
}

// GrinderCapability is one grinder's machine capability for a characteristic.
type GrinderCapability struct {
	Machine string                  `json:"machine"`
	Study   capability.MachineStudy `json:"study"`
	Pass    bool                    `json:"pass"`
}

// Comparison compares the grinders of the group that forms a characteristic.
type Comparison struct {
	Characteristic string              `json:"characteristic"`
	Group          string              `json:"group"`
	Grinders       []GrinderCapability `json:"grinders"`
	ANOVA          *capability.ANOVA   `json:"anova,omitempty"`
	Levene         *capability.Levene  `json:"levene,omitempty"`
	// Differ names the grinders whose mean differs from the rest of the
	// group (Bonferroni-adjusted t test on the pooled within-grinder σ),
	// when the ANOVA finds a difference.
	Differ []string `json:"differ"`
}

func buildComparison(in Input, r *Report) []Comparison {
	var out []Comparison
	for _, c := range r.Capability {
		cmp := Comparison{Characteristic: c.Name, Group: c.FormedBy, Differ: []string{}}
		by := map[string][]float64{}
		for _, p := range c.Points {
			if p.Machine != "" {
				by[p.Machine] = append(by[p.Machine], p.Value)
			}
		}
		ids := make([]string, 0, len(by))
		for id := range by {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var groups [][]float64
		for _, id := range ids {
			xs := by[id]
			groups = append(groups, xs)
			st, err := capability.Machine(xs, spec(c.Name, c.Tolerance), 0)
			if err != nil {
				continue
			}
			cmp.Grinders = append(cmp.Grinders, GrinderCapability{Machine: id, Study: st, Pass: st.Cmk.Value >= in.Thresholds.Cmk})
		}
		if a, err := capability.OneWayANOVA(groups); err == nil {
			cmp.ANOVA = &a
			if a.Significant {
				cmp.Differ = differing(ids, groups, a)
			}
		}
		if l, err := capability.LeveneTest(groups, capability.Median); err == nil {
			cmp.Levene = &l
		}
		out = append(out, cmp)
	}
	return out
}

// differing names the grinders whose mean differs from the mean of the
// other grinders' values at the Bonferroni-adjusted level.
func differing(ids []string, groups [][]float64, a capability.ANOVA) []string {
	out := []string{}
	k := len(groups)
	for i, g := range groups {
		var s float64
		n := 0
		for j, h := range groups {
			if j == i {
				continue
			}
			for _, x := range h {
				s += x
			}
			n += len(h)
		}
		if n == 0 || len(g) == 0 {
			continue
		}
		rest := s / float64(n)
		se := math.Sqrt(a.MSWithin * (1/float64(len(g)) + 1/float64(n)))
		if se == 0 {
			continue
		}
		t := math.Abs(a.GroupMeans[i]-rest) / se
		if capability.TwoSidedP(t, float64(a.DFWithin))*float64(k) < capability.SignificanceAlpha {
			out = append(out, ids[i])
		}
	}
	return out
}
