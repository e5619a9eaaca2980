package report

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/capability"
)

// WheelEffect is a characteristic against the wear and dressing count of
// the wheel that formed it.
type WheelEffect struct {
	Characteristic string           `json:"characteristic"`
	Group          string           `json:"group"`
	Wear           *capability.Line `json:"wear,omitempty"`  // value (mm) on wheel wear since dressing (µm)
	Dress          *capability.Line `json:"dress,omitempty"` // value (mm) on the wheel's dressing count
	WearPerPartUM  float64          `json:"wear_per_part_um"`
	// DressEveryMax is the largest dressing interval, in parts, that keeps
	// the characteristic's Cpk at the target given its drift with wear;
	// 0 with Unlimited false when a fresh wheel already misses it.
	DressEveryMax float64 `json:"dress_every_max"`
	Unlimited     bool    `json:"unlimited"`
	Reachable     bool    `json:"reachable"`
	// Samples are the (wear, value) pairs the fit was made from.
	Samples []WearSample `json:"samples"`
}

// WearSample is one bur's value against the wear of the wheel that formed it.
type WearSample struct {
	WearUM float64 `json:"wear_um"`
	Value  float64 `json:"value"`
}

func buildWheel(in Input, r *Report) []WheelEffect {
	var out []WheelEffect
	for _, c := range r.Capability {
		var wear, dress, ys []float64
		type step struct {
			wear float64
			dc   uint32
			end  int64
		}
		per := map[string][]step{}
		for _, b := range in.Burs {
			if b.Measurement == nil {
				continue
			}
			v, ok := b.Measurement.Values[c.Name]
			rec := formingRecord(in.Product, b, c.Name)
			if !ok || rec == nil || rec.WheelID == "" {
				continue
			}
			wear = append(wear, rec.WheelWearUM)
			dress = append(dress, float64(rec.DressCount))
			ys = append(ys, v)
			per[rec.WheelID] = append(per[rec.WheelID], step{rec.WheelWearUM, rec.DressCount, rec.End.UnixNano()})
		}
		if len(ys) == 0 {
			continue
		}
		w := WheelEffect{Characteristic: c.Name, Group: c.FormedBy, Samples: make([]WearSample, len(ys))}
		for i := range ys {
			w.Samples[i] = WearSample{WearUM: wear[i], Value: ys[i]}
		}
		if l, err := capability.Fit(wear, ys); err == nil {
			w.Wear = &l
		}
		if l, err := capability.Fit(dress, ys); err == nil {
			w.Dress = &l
		}
		// Wear added per part: successive parts of one wheel between
		// dressings. The batch's burs are a sample of each wheel's parts,
		// so gaps are divided by the parts the wheel made in between
		// only when they are consecutive; otherwise the pair is skipped.
		var inc []float64
		for _, steps := range per {
			slices.SortFunc(steps, func(a, b step) int { return int(a.end - b.end) })
			for i := 1; i < len(steps); i++ {
				if steps[i].dc == steps[i-1].dc && steps[i].wear > steps[i-1].wear {
					inc = append(inc, steps[i].wear-steps[i-1].wear)
				}
			}
		}
		if len(inc) > 0 {
			sort.Float64s(inc)
			w.WearPerPartUM = inc[len(inc)/2]
		}
		if w.Wear != nil && c.Study != nil && w.WearPerPartUM > 0 {
			maxWear, ok, inf := w.Wear.MaxRunFor(spec(c.Name, c.Tolerance), w.Wear.ResidualSD, in.Thresholds.Cpk)
			w.Reachable, w.Unlimited = ok, inf
			if ok && !inf {
				w.DressEveryMax = math.Floor(maxWear / w.WearPerPartUM)
			}
		}
		out = append(out, w)
	}
	return out
}

// Energy is the batch's energy and carbon per good bur.
type Energy struct {
	KWh            float64    `json:"kwh"`
	KgCO2e         float64    `json:"kg_co2e"`
	Good           int        `json:"good"`
	KWhPerGood     float64    `json:"kwh_per_good"`
	KgCO2ePerGood  float64    `json:"kg_co2e_per_good"`
	RenewableShare float64    `json:"renewable_share"`
	KgPerKWh       float64    `json:"kg_per_kwh"`
	ByOperation    []OpEnergy `json:"by_operation"`
	// Scope says what the figure covers.
	Scope string `json:"scope"`
}

// OpEnergy is one operation's share.
type OpEnergy struct {
	Number     int     `json:"number"`
	Name       string  `json:"name"`
	NameZH     string  `json:"name_zh"`
	KWh        float64 `json:"kwh"`
	KWhPerGood float64 `json:"kwh_per_good"`
}

func buildEnergy(in Input) Energy {
	c := in.Line.Carbon
	e := Energy{
		RenewableShare: c.RenewableShare,
		KgPerKWh:       c.RenewableShare*c.RenewableKgPerKWh + (1-c.RenewableShare)*c.GridKgPerKWh,
		Scope:          "job energy of every operation on the batch's burs (scrapped burs included); idle, dressing and wheel-change energy not allocated",
	}
	byOp := map[int]float64{}
	for _, b := range in.Burs {
		if b.Disposition == mes.BurGood {
			e.Good++
		}
		for _, rec := range b.Operations {
			e.KWh += rec.EnergyKWh
			byOp[rec.Number] += rec.EnergyKWh
		}
	}
	e.KgCO2e = e.KWh * e.KgPerKWh
	if e.Good > 0 {
		e.KWhPerGood = e.KWh / float64(e.Good)
		e.KgCO2ePerGood = e.KgCO2e / float64(e.Good)
	}
	for _, op := range in.Product.Route {
		o := OpEnergy{Number: op.Number, Name: op.Name, NameZH: op.NameZH, KWh: byOp[op.Number]}
		if e.Good > 0 {
			o.KWhPerGood = o.KWh / float64(e.Good)
		}
		e.ByOperation = append(e.ByOperation, o)
	}
	return e
}

func buildVerdict(in Input, r *Report) Verdict {
	v := Verdict{Pass: true}
	add := func(c Check) {
		v.Checks = append(v.Checks, c)
		v.Pass = v.Pass && c.Pass
	}
	th := in.Thresholds
	for _, c := range r.Capability {
		if c.Study == nil {
			continue
		}
		ck := Check{
			Topic: "capability", TopicZH: "过程能力", Subject: c.Name, Value: c.Study.Cpk.Value,
			Rule:   fmt.Sprintf("Cpk ≥ %.2f over all %d points (σ = MR̄/d2)", th.Cpk, c.Study.N),
			RuleZH: fmt.Sprintf("全部 %d 点 Cpk ≥ %.2f（σ = MR̄/d2）", c.Study.N, th.Cpk),
			Pass:   c.Study.Cpk.Value >= th.Cpk, Note: c.Warning,
		}
		if c.OneSided {
			ck.Rule += ", upper limit only"
			ck.RuleZH += "，仅上限"
		}
		add(ck)
	}
	add(Check{
		Topic: "takt", TopicZH: "节拍", Subject: "line", Value: r.Takt.ActualS, Unit: "s",
		Rule:   fmt.Sprintf("mean interval between good burs ≤ target %.0f s", r.Takt.TargetS),
		RuleZH: fmt.Sprintf("合格品平均间隔 ≤ 目标 %.0f 秒", r.Takt.TargetS),
		Pass:   r.Takt.Attained,
	})
	for _, cmp := range r.Grinders {
		for _, g := range cmp.Grinders {
			ck := Check{
				Topic: "grinder", TopicZH: "磨床", Subject: g.Machine + " · " + cmp.Characteristic, Value: g.Study.Cmk.Value,
				Rule:   fmt.Sprintf("Cmk ≥ %.2f (ISO 22514-3)", th.Cmk),
				RuleZH: fmt.Sprintf("Cmk ≥ %.2f（ISO 22514-3）", th.Cmk),
				Pass:   g.Pass,
			}
			if g.Study.Short {
				ck.Note = fmt.Sprintf("%d parts, fewer than the %d ISO 22514-3 asks", g.Study.N, capability.MinMachineParts)
			}
			add(ck)
		}
	}
	v.Checks = append(v.Checks, Check{
		Topic: "energy", TopicZH: "能耗", Subject: "kWh per good bur", Value: r.Energy.KWhPerGood, Unit: "kWh",
		Rule: "reported, no limit configured", RuleZH: "仅报告，未设限值", Pass: true,
	}, Check{
		Topic: "carbon", TopicZH: "碳排放", Subject: "kg CO2e per good bur", Value: r.Energy.KgCO2ePerGood, Unit: "kg",
		Rule:   fmt.Sprintf("reported at %.4f kg CO2e/kWh (%.0f %% green power)", r.Energy.KgPerKWh, 100*r.Energy.RenewableShare),
		RuleZH: fmt.Sprintf("按 %.4f kg CO2e/kWh 报告（绿电占比 %.0f%%）", r.Energy.KgPerKWh, 100*r.Energy.RenewableShare),
		Pass:   true,
	})
	return v
}
