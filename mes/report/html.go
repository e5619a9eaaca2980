package report

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// HTMLContentSecurityPolicy is the policy the HTML report is served with:
// a standalone document with inline styles and data: images (its charts),
// and no scripts at all.
const HTMLContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// figures draws every chart of r, keyed by name.
func figures(r *Report) map[string]chart {
	out := map[string]chart{}
	if c, err := taktChart(r.Takt); err == nil {
		out["takt"] = c
	}
	if r.OEE != nil && r.OEE.Line != nil {
		if c, err := waterfallChart(*r.OEE.Line); err == nil {
			out["oee"] = c
		}
	}
	for _, ch := range r.Capability {
		if c, err := histogramChart(ch); err == nil {
			out["hist/"+ch.Name] = c
		}
		if i, m, err := imrCharts(ch); err == nil {
			out["i/"+ch.Name], out["mr/"+ch.Name] = i, m
		}
	}
	for _, w := range r.Wheel {
		if c, err := wearChart(w); err == nil {
			out["wear/"+w.Characteristic] = c
		}
	}
	return out
}

// WriteHTML writes r as one self-contained bilingual HTML page (Chinese
// first), charts inline as SVG images.
func WriteHTML(w io.Writer, r *Report) error {
	imgs := map[string]template.URL{}
	for name, c := range figures(r) {
		b, err := c.svg()
		if err != nil {
			return fmt.Errorf("chart %s: %w", name, err)
		}
		imgs[name] = template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(b))
	}
	return htmlTemplate.Execute(w, struct {
		*Report
		Img map[string]template.URL
	}{r, imgs})
}

var funcs = template.FuncMap{
	"f":   func(d int, v float64) string { return num(v, d) },
	"pct": func(v float64) string { return num(100*v, 1) + " %" },
	"h":   func(s float64) string { return num(s/3600, 1) },
	"t":   func(t time.Time) string { return stamp(t) },
	"ok": func(b bool) template.HTML {
		if b {
			return `<span class="ok">✔ 合格 / pass</span>`
		}
		return `<span class="ng">✘ 不合格 / fail</span>`
	},
	"join": strings.Join,
	"divm": func(s float64) float64 { return s / 60 },
	"img":  func(m map[string]template.URL, k string) template.URL { return m[k] },
	"has":  func(m map[string]template.URL, k string) bool { _, ok := m[k]; return ok },
}

func num(v float64, d int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf("%.*f", d, v)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

var htmlTemplate = template.Must(template.New("report").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>中试体检报告 Pilot-run report {{.Batch}}</title>
<style>
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:60em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:2px solid #1f5fa8;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;width:100%}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;font-size:.9em}
th{background:#eef3fa}.ok{color:#208040;font-weight:bold}.ng{color:#c03030;font-weight:bold}
.verdict{font-size:1.3em;padding:.6em;border:2px solid}.en{color:#555}.warn{color:#b06000}
img{max-width:100%;display:block;margin:.4em 0}small{color:#666}
</style></head><body>
<h1>中试体检报告与药方 <span class="en">Pilot-run report: health check and prescription</span></h1>
<p>批次 Batch <b>{{.Batch}}</b> · 产品 Product {{.ProductNameZH}} <span class="en">{{.ProductName}}</span> ({{.Product}})<br>
生产窗口 Window {{t .From}} – {{t .To}} · 生成 Generated {{t .Generated}}</p>

<h2 id="verdict">1. 结论 <span class="en">Verdict</span></h2>
<p class="verdict">{{ok .Verdict.Pass}}</p>
<table><tr><th>项目 Topic</th><th>对象 Subject</th><th>数值 Value</th><th>判定规则 Rule</th><th>结果 Result</th></tr>
{{range .Verdict.Checks}}<tr><td>{{.TopicZH}} <span class="en">{{.Topic}}</span></td><td>{{.Subject}}</td><td>{{f 3 .Value}} {{.Unit}}</td><td>{{.RuleZH}}<br><span class="en">{{.Rule}}</span>{{if .Note}}<br><span class="warn">{{.Note}}</span>{{end}}</td><td>{{ok .Pass}}</td></tr>
{{end}}</table>

<h2 id="takt">2. 节拍达成 <span class="en">Takt attainment</span></h2>
<table><tr><th>目标节拍 Target takt</th><td>{{f 0 .Takt.TargetS}} s</td><th>实际节拍 Actual takt</th><td>{{f 1 .Takt.ActualS}} s</td></tr>
<tr><th>合格品 Good burs</th><td>{{.Takt.Good}}</td><th>节拍内占比 Within target</th><td>{{pct .Takt.WithinShare}}</td></tr>
<tr><th>平均交付周期 Mean lead time</th><td>{{h .Takt.LeadMeanS}} h</td><th>最长 Max</th><td>{{h .Takt.LeadMaxS}} h</td></tr>
<tr><th>计划 Planned</th><td>{{t .Takt.PlannedStart}} – {{t .Takt.PlannedEnd}}</td><th>实际 Actual</th><td>{{t .Takt.ActualStart}} – {{t .Takt.ActualEnd}}</td></tr>
<tr><th>延误 Lateness</th><td colspan="3">{{h .Takt.LatenessS}} h</td></tr></table>
{{if has .Img "takt"}}<img alt="takt run chart" src="{{img .Img "takt"}}">{{end}}

<h2 id="oee">3. OEE 损失瀑布 <span class="en">OEE loss waterfall (ISO 22400-2)</span></h2>
{{with .OEE}}{{if has $.Img "oee"}}<img alt="OEE waterfall" src="{{img $.Img "oee"}}">{{end}}
<table><tr><th>范围 Scope</th><th>计划忙碌 PBT h</th><th>可用性损失 Availability loss h</th><th>速度损失 Speed loss h</th><th>质量损失 Quality loss h</th><th>合格理想 Good ideal h</th><th>A</th><th>E</th><th>Q</th><th>OEE</th></tr>
{{with .Line}}<tr><td>line 产线</td><td>{{f 1 .PlannedBusyH}}</td><td>{{f 1 .AvailabilityLossH}}</td><td>{{f 1 .SpeedLossH}}</td><td>{{f 1 .QualityLossH}}</td><td>{{f 1 .GoodIdealH}}</td><td>{{pct .Availability}}</td><td>{{pct .Effectiveness}}</td><td>{{pct .Quality}}</td><td>{{pct .OEE}}</td></tr>{{end}}
{{range .Groups}}<tr><td>{{.ID}}</td><td>{{f 1 .PlannedBusyH}}</td><td>{{f 1 .AvailabilityLossH}}</td><td>{{f 1 .SpeedLossH}}</td><td>{{f 1 .QualityLossH}}</td><td>{{f 1 .GoodIdealH}}</td><td>{{pct .Availability}}</td><td>{{pct .Effectiveness}}</td><td>{{pct .Quality}}</td><td>{{pct .OEE}}</td></tr>
{{end}}</table>{{else}}<p>无 OEE 数据 <span class="en">No OEE figures for this window.</span></p>{{end}}

<h2 id="capability">4. 过程能力 <span class="en">Process capability (ISO 22514-2)</span></h2>
{{range .Capability}}<h3>{{.Name}} <small>由 {{.FormedBy}} 组形成 formed by {{.FormedBy}} · 规格 spec {{if not .OneSided}}{{f 4 .Tolerance.Lower}} – {{end}}{{f 4 .Tolerance.Upper}} mm{{if .OneSided}} (仅上限 upper limit only){{end}}</small></h3>
{{with .Study}}<table><tr><th>n</th><td>{{.N}}</td><th>均值 Mean</th><td>{{f 5 .Mean}}</td><th>σ 短期 within (MR̄/d2)</th><td>{{f 5 .SigmaWithin}}</td><th>σ 整体 overall</th><td>{{f 5 .SigmaOverall}}</td></tr>
<tr>{{with .Cp}}<th>Cp</th><td>{{f 2 .Value}} [{{f 2 .CI.Low}}, {{f 2 .CI.High}}]</td>{{end}}<th>Cpk</th><td>{{f 2 .Cpk.Value}} [{{f 2 .Cpk.CI.Low}}, {{f 2 .Cpk.CI.High}}]</td>
{{with .Pp}}<th>Pp</th><td>{{f 2 .Value}} [{{f 2 .CI.Low}}, {{f 2 .CI.High}}]</td>{{end}}<th>Ppk</th><td>{{f 2 .Ppk.Value}} [{{f 2 .Ppk.CI.Low}}, {{f 2 .Ppk.CI.High}}]</td></tr></table>
<small>95 % 置信区间 confidence intervals in brackets.</small>{{end}}
{{with .Normality}}<p>正态性 Normality: Anderson–Darling A² = {{f 3 .A2}}, p = {{f 3 .P}} {{if .Normal}}✔{{end}}</p>{{end}}
{{if .Warning}}<p class="warn">⚠ 非正态 {{.Warning}}</p>{{end}}
<p>超规格 Out of specification: {{.OutOfSpec}}</p>
{{if has $.Img (print "hist/" .Name)}}<img alt="histogram" src="{{img $.Img (print "hist/" .Name)}}">{{end}}
{{if has $.Img (print "i/" .Name)}}<img alt="I chart" src="{{img $.Img (print "i/" .Name)}}"><img alt="MR chart" src="{{img $.Img (print "mr/" .Name)}}">{{end}}
{{end}}

<h2 id="grinders">5. 设备能力与磨床对比 <span class="en">Machine capability and grinder comparison (ISO 22514-3)</span></h2>
{{range .Grinders}}<h3>{{.Characteristic}} · {{.Group}}</h3>
<table><tr><th>磨床 Grinder</th><th>n</th><th>均值 Mean</th><th>σ</th><th>Cm</th><th>Cmk</th><th>结果 Result</th></tr>
{{range .Grinders}}<tr><td>{{.Machine}}</td><td>{{.Study.N}}{{if .Study.Short}} *{{end}}</td><td>{{f 5 .Study.Mean}}</td><td>{{f 5 .Study.Sigma}}</td><td>{{with .Study.Cm}}{{f 2 .Value}}{{else}}—{{end}}</td><td>{{f 2 .Study.Cmk.Value}} [{{f 2 .Study.Cmk.CI.Low}}, {{f 2 .Study.Cmk.CI.High}}]</td><td>{{ok .Pass}}</td></tr>
{{end}}</table>
<p>{{with .ANOVA}}单因素方差分析 One-way ANOVA: F({{.DFBetween}}, {{.DFWithin}}) = {{f 3 .F}}, p = {{f 4 .P}}{{end}}
{{with .Levene}} · Levene (Brown–Forsythe): W({{.DF1}}, {{.DF2}}) = {{f 3 .W}}, p = {{f 4 .P}}{{end}}
{{if .Differ}}<br><span class="warn">均值不同的磨床 Grinders whose mean differs: {{join .Differ ", "}}</span>{{end}}</p>
{{end}}<small>* 少于 50 件 fewer than 50 parts (ISO 22514-3).</small>

<h2 id="reliability">6. 报废、一次合格率与可靠性 <span class="en">Scrap, first-pass yield and reliability</span></h2>
<table><tr><th>设备 Machine</th><th>作业 Jobs</th><th>中止 Aborted</th><th>一次合格率 FPY</th></tr>
{{range .Scrap.Machines}}<tr><td>{{.Machine}}</td><td>{{.Jobs}}</td><td>{{.Aborted}}</td><td>{{pct .FPY}}</td></tr>{{end}}</table>
<table><tr><th>工序 Operation</th><th>作业 Jobs</th><th>中止 Aborted</th></tr>
{{range .Scrap.Operations}}<tr><td>{{.Number}} {{.NameZH}} <span class="en">{{.Name}}</span></td><td>{{.Jobs}}</td><td>{{.Aborted}}</td></tr>{{end}}</table>
<table><tr><th>报警代码 Alarm</th><th>次数 Count</th></tr>{{range .Scrap.Alarms}}<tr><td>{{.Code}} {{.Text}}</td><td>{{.Count}}</td></tr>{{end}}</table>
<table><tr><th>设备 Machine</th><th>MTBF h</th><th>MTTR min</th><th>故障 Faults</th><th>修整间隔 Dress every</th></tr>
{{range .Reliability}}<tr><td>{{.ID}}</td><td>{{h .MTBFS}}</td><td>{{f 1 (divm .MTTRS)}}</td><td>{{.Faults}}</td><td>{{.DressEvery}}</td></tr>{{end}}</table>

<h2 id="bottleneck">7. 瓶颈 <span class="en">Bottleneck</span></h2>
<table><tr><th>组 Group</th><th>设备 Machines</th><th>利用率 Utilisation</th><th>忙 Busy h</th><th>待料 Starved h</th><th>阻塞 Blocked h</th><th>故障 Down h</th><th>修整 Dressing h</th><th>单独可达节拍 Takt alone s</th></tr>
{{range .Bottleneck}}<tr><td>{{.Group}}{{if .Paces}} <b>◀ 瓶颈 paces the line (+{{f 1 .MarginS}} s)</b>{{end}}</td><td>{{.Machines}}</td><td>{{pct .Utilisation}}</td><td>{{f 1 .BusyH}}</td><td>{{f 1 .StarvedH}}</td><td>{{f 1 .BlockedH}}</td><td>{{f 1 .DownH}}</td><td>{{f 1 .DressH}}</td><td>{{f 1 .SustainableTaktS}}</td></tr>{{end}}</table>

<h2 id="wheel">8. 砂轮与修整 <span class="en">Wheel and dressing</span></h2>
<table><tr><th>特性 Characteristic</th><th>斜率 Slope mm/µm</th><th>R²</th><th>p</th><th>每件磨损 Wear/part µm</th><th>保持 Cpk 的最大修整间隔 Max dressing interval (parts)</th></tr>
{{range .Wheel}}<tr><td>{{.Characteristic}} ({{.Group}})</td>{{with .Wear}}<td>{{f 6 .Slope}}</td><td>{{f 3 .R2}}</td><td>{{f 4 .P}}</td>{{else}}<td>—</td><td>—</td><td>—</td>{{end}}<td>{{f 2 .WearPerPartUM}}</td><td>{{if .Unlimited}}不受限 unlimited{{else if .Reachable}}{{f 0 .DressEveryMax}}{{else}}新砂轮即不达标 not met even fresh{{end}}</td></tr>{{end}}</table>
{{range .Wheel}}{{if has $.Img (print "wear/" .Characteristic)}}<img alt="wear" src="{{img $.Img (print "wear/" .Characteristic)}}">{{end}}{{end}}

<h2 id="energy">9. 能耗与碳排放 <span class="en">Energy and carbon</span></h2>
<table><tr><th>每合格品电耗 kWh per good bur</th><td>{{f 4 .Energy.KWhPerGood}}</td><th>每合格品碳排 kg CO2e per good bur</th><td>{{f 4 .Energy.KgCO2ePerGood}}</td></tr>
<tr><th>总电耗 Total kWh</th><td>{{f 2 .Energy.KWh}}</td><th>绿电占比 Green power</th><td>{{pct .Energy.RenewableShare}}</td></tr></table>
<table><tr><th>工序 Operation</th><th>kWh</th><th>kWh / 合格品 good bur</th></tr>{{range .Energy.ByOperation}}<tr><td>{{.Number}} {{.NameZH}} <span class="en">{{.Name}}</span></td><td>{{f 2 .KWh}}</td><td>{{f 4 .KWhPerGood}}</td></tr>{{end}}</table>
<small>{{.Energy.Scope}}</small>

<h2 id="prescription">10. 药方 <span class="en">Prescription</span></h2>
{{with .Prescription}}<p>离散事件仿真，输入为本次运行实测分布（每台设备的节拍、故障、修整、报废），{{.Reproduced.Replications}} 次重复。<br>
<span class="en">Discrete-event simulation fed with this run's measured distributions, {{.Reproduced.Replications}} replications.</span></p>
<table><tr><th></th><th>合格品/小时 Good per hour</th><th>节拍 Takt s</th><th>OEE</th></tr>
<tr><td>实测 Measured</td><td>{{f 2 .Inputs.GoodPerHour}}</td><td>{{f 1 .Inputs.TaktS}}</td><td>—</td></tr>
<tr><td>仿真复现 Simulated ({{pct .Deviation}})</td><td>{{f 2 .Reproduced.GoodPerHour.Mean}} [{{f 2 .Reproduced.GoodPerHour.Low}}, {{f 2 .Reproduced.GoodPerHour.High}}]</td><td>{{f 1 .Reproduced.TaktS.Mean}}</td><td>{{pct .Reproduced.OEE.Mean}}</td></tr>
{{range .WhatIfs}}<tr><td>{{.NameZH}} <span class="en">{{.Name}}</span></td><td>{{f 2 .Summary.GoodPerHour.Mean}} [{{f 2 .Summary.GoodPerHour.Low}}, {{f 2 .Summary.GoodPerHour.High}}]</td><td>{{f 1 .Summary.TaktS.Mean}}</td><td>{{pct .Summary.OEE.Mean}}</td></tr>{{end}}</table>
<p>目标 Target: 节拍 takt ≤ {{f 1 .Target.RequiredTaktS}} s{{if .Target.Target.AnnualGood}}, {{.Target.Target.AnnualGood}} 件/年 good burs a year{{end}} →
{{if .Target.Met}}所需设备 machines needed:{{else}}<span class="ng">未能满足 not met with</span>{{end}}
{{range $g, $n := .Target.MachinesByGroup}} {{$g}} × {{$n}}{{end}};
预期节拍 expected takt {{f 1 .Target.Expected.TaktS.Mean}} s [{{f 1 .Target.Expected.TaktS.Low}}, {{f 1 .Target.Expected.TaktS.High}}], OEE {{pct .Target.Expected.OEE.Mean}}.</p>
{{else}}<p>无药方 <span class="en">No prescription for this batch.</span></p>{{end}}
{{if .Notes}}<h2>说明 <span class="en">Notes</span></h2><ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))
