package report

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-pdf/fpdf"

	"github.com/pilotline/pilotline/mes/capability"
	"github.com/pilotline/pilotline/mes/trace"
)

const (
	pdfLatin  = "latin"
	pdfCJK    = "cjk"
	pdfMargin = 15.0
	pdfWidth  = 210 - 2*pdfMargin
)

// pdfDoc writes the report page by page.
type pdfDoc struct {
	f    *fpdf.Fpdf
	size float64
	imgs int
}

// WritePDF writes r as a bilingual A4 PDF (Chinese first) with the same
// charts as the HTML page, as PNG images.
func WritePDF(w io.Writer, r *Report) error {
	latin, cjk := trace.Fonts()
	f := fpdf.New("P", "mm", "A4", "")
	f.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	f.SetAutoPageBreak(true, pdfMargin)
	f.AddUTF8FontFromBytes(pdfLatin, "", latin)
	f.AddUTF8FontFromBytes(pdfCJK, "", cjk)
	f.SetTitle("Pilot-run report "+r.Batch, true)
	f.SetCreator("Pilotline", true)
	f.SetCreationDate(r.Generated)
	f.SetModificationDate(r.Generated)
	f.SetCatalogSort(true)
	f.AliasNbPages("{nb}")
	p := &pdfDoc{f: f, size: 9}
	f.SetFooterFunc(func() {
		f.SetY(-10)
		p.size = 7
		p.line(fmt.Sprintf("%s · 中试体检报告 Pilot-run report · %d/{nb}", r.Batch, f.PageNo()), 4)
	})
	f.AddPage()
	figs := figures(r)
	p.write(r, figs)
	if err := f.Error(); err != nil {
		return err
	}
	return f.Output(w)
}

// runs splits s into stretches of one font: CJK and full-width forms in
// the CJK font, everything else in the Latin one.
func runs(s string) [][2]string {
	var out [][2]string
	start, cur := 0, ""
	for i, r := range s {
		font := pdfLatin
		if r >= 0x2E80 && r < 0xA000 || r >= 0xF900 && r < 0xFB00 || r >= 0xFE30 && r < 0xFFF0 {
			font = pdfCJK
		}
		if font != cur {
			if i > start {
				out = append(out, [2]string{cur, s[start:i]})
			}
			start, cur = i, font
		}
	}
	if start < len(s) {
		out = append(out, [2]string{cur, s[start:]})
	}
	return out
}

// text prints s from the current position in flowing text.
func (p *pdfDoc) text(s string, h float64) {
	for _, r := range runs(s) {
		p.f.SetFont(r[0], "", p.size)
		p.f.Write(h, r[1])
	}
}

// line prints s and moves to the next line.
func (p *pdfDoc) line(s string, h float64) {
	p.text(s, h)
	p.f.Ln(h)
}

func (p *pdfDoc) width(s string) float64 {
	w := 0.0
	for _, r := range runs(s) {
		p.f.SetFont(r[0], "", p.size)
		w += p.f.GetStringWidth(r[1])
	}
	return w
}

// fit shortens s to fit w mm.
func (p *pdfDoc) fit(s string, w float64) string {
	for p.width(s) > w-1.5 && len(s) > 1 {
		rs := []rune(s)
		s = string(rs[:len(rs)-2]) + "…"
	}
	return s
}

// heading starts a section, on a new page when little room is left.
func (p *pdfDoc) heading(s string) {
	if p.f.GetY() > 250 {
		p.f.AddPage()
	}
	p.f.Ln(3)
	p.size = 12
	p.f.SetTextColor(0x1f, 0x5f, 0xa8)
	p.line(s, 7)
	p.f.SetTextColor(0, 0, 0)
	p.size = 8.5
}

// row prints one table row; each cell may hold lines separated by "\n".
func (p *pdfDoc) row(widths []float64, cells []string, header bool) {
	lines := 1
	for _, c := range cells {
		lines = max(lines, strings.Count(c, "\n")+1)
	}
	h := 4.2 * float64(lines)
	if p.f.GetY()+h > 297-pdfMargin-6 {
		p.f.AddPage()
	}
	x0, y0 := p.f.GetX(), p.f.GetY()
	x := x0
	for i, c := range cells {
		if header {
			p.f.SetFillColor(0xee, 0xf3, 0xfa)
			p.f.Rect(x, y0, widths[i], h, "FD")
		} else {
			p.f.Rect(x, y0, widths[i], h, "D")
		}
		for j, ln := range strings.Split(c, "\n") {
			p.f.SetXY(x+0.8, y0+4.2*float64(j))
			ln = p.fit(ln, widths[i])
			for _, r := range runs(ln) {
				p.f.SetFont(r[0], "", p.size)
				p.f.CellFormat(p.f.GetStringWidth(r[1]), 4.2, r[1], "", 0, "L", false, 0, "")
			}
		}
		x += widths[i]
	}
	p.f.SetXY(x0, y0+h)
}

func (p *pdfDoc) table(widths []float64, header []string, rows [][]string) {
	p.row(widths, header, true)
	for _, r := range rows {
		p.row(widths, r, false)
	}
	p.f.Ln(1.5)
}

// image places a chart across the page width.
func (p *pdfDoc) image(c chart, ok bool) {
	if !ok {
		return
	}
	b, err := c.png()
	if err != nil {
		p.f.SetError(err)
		return
	}
	p.imgs++
	name := fmt.Sprintf("chart%d", p.imgs)
	p.f.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(b))
	h := pdfWidth * float64(c.h) / float64(c.w)
	if p.f.GetY()+h > 297-pdfMargin-6 {
		p.f.AddPage()
	}
	p.f.ImageOptions(name, pdfMargin, p.f.GetY(), pdfWidth, h, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	p.f.SetY(p.f.GetY() + h + 1)
}

func passText(b bool) string {
	if b {
		return "合格 pass"
	}
	return "不合格 FAIL"
}

func (p *pdfDoc) write(r *Report, figs map[string]chart) {
	f := p.f
	p.size = 16
	p.line("中试体检报告与药方", 9)
	p.size = 12
	p.line("Pilot-run report: health check and prescription", 7)
	p.size = 9
	p.line(fmt.Sprintf("批次 Batch %s · 产品 %s %s (%s)", r.Batch, r.ProductNameZH, r.ProductName, r.Product), 5)
	p.line(fmt.Sprintf("生产窗口 Window %s – %s · 生成 Generated %s", stamp(r.From), stamp(r.To), stamp(r.Generated)), 5)

	p.heading("1. 结论 Verdict")
	p.size = 13
	if r.Verdict.Pass {
		f.SetTextColor(0x20, 0x80, 0x40)
	} else {
		f.SetTextColor(0xc0, 0x30, 0x30)
	}
	p.line(passText(r.Verdict.Pass), 7)
	f.SetTextColor(0, 0, 0)
	p.size = 8
	var rows [][]string
	for _, c := range r.Verdict.Checks {
		rule := c.RuleZH + "\n" + c.Rule
		if c.Note != "" {
			rule += "\n" + c.Note
		}
		rows = append(rows, []string{c.TopicZH + "\n" + c.Topic, c.Subject, num(c.Value, 3) + " " + c.Unit, rule, passText(c.Pass)})
	}
	p.table([]float64{22, 38, 22, 78, 20}, []string{"项目 Topic", "对象 Subject", "数值 Value", "判定规则 Rule", "结果 Result"}, rows)

	p.heading("2. 节拍达成 Takt attainment")
	t := r.Takt
	p.table([]float64{45, 45, 45, 45}, []string{"目标节拍 Target", "实际节拍 Actual", "节拍内 Within", "合格品 Good"},
		[][]string{{num(t.TargetS, 0) + " s", num(t.ActualS, 1) + " s", num(100*t.WithinShare, 1) + " %", fmt.Sprint(t.Good)},
			{"平均周期 Lead " + num(t.LeadMeanS/3600, 1) + " h", "最长 Max " + num(t.LeadMaxS/3600, 1) + " h", "延误 Late " + num(t.LatenessS/3600, 1) + " h", ""}})
	c, ok := figs["takt"]
	p.image(c, ok)

	p.heading("3. OEE 损失瀑布 OEE loss waterfall (ISO 22400-2)")
	if r.OEE != nil {
		c, ok := figs["oee"]
		p.image(c, ok)
		var rows [][]string
		add := func(w WaterfallRow) {
			rows = append(rows, []string{w.ID, num(w.PlannedBusyH, 1), num(w.AvailabilityLossH, 1), num(w.SpeedLossH, 1), num(w.QualityLossH, 1), num(w.GoodIdealH, 1), num(100*w.OEE, 1) + " %"})
		}
		if r.OEE.Line != nil {
			add(*r.OEE.Line)
		}
		for _, g := range r.OEE.Groups {
			add(g)
		}
		p.table([]float64{20, 28, 28, 26, 26, 26, 26}, []string{"范围 Scope", "计划忙碌 PBT h", "可用性 Avail. h", "速度 Speed h", "质量 Quality h", "合格理想 Good h", "OEE"}, rows)
	} else {
		p.line("无 OEE 数据 No OEE figures for this window.", 5)
	}

	p.heading("4. 过程能力 Process capability (ISO 22514-2)")
	for _, ch := range r.Capability {
		p.size = 10
		spec := num(ch.Tolerance.Upper, 4) + " mm (仅上限 upper only)"
		if !ch.OneSided {
			spec = num(ch.Tolerance.Lower, 4) + " – " + num(ch.Tolerance.Upper, 4) + " mm"
		}
		p.line(fmt.Sprintf("%s · 由 %s 组形成 formed by %s · 规格 spec %s", ch.Name, ch.FormedBy, ch.FormedBy, spec), 6)
		p.size = 8
		if st := ch.Study; st != nil {
			idx := func(name string, v *capability.Index) []string {
				if v == nil {
					return []string{name, "—"}
				}
				return []string{name, fmt.Sprintf("%s [%s, %s]", num(v.Value, 2), num(v.CI.Low, 2), num(v.CI.High, 2))}
			}
			cpk, ppk := st.Cpk, st.Ppk
			rows := [][]string{
				append(idx("Cp", st.Cp), idx("Cpk", &cpk)...),
				append(idx("Pp", st.Pp), idx("Ppk", &ppk)...),
				{"n", fmt.Sprint(st.N), "均值 Mean", num(st.Mean, 5)},
				{"σ 短期 within", num(st.SigmaWithin, 5), "σ 整体 overall", num(st.SigmaOverall, 5)},
			}
			if n := ch.Normality; n != nil {
				rows = append(rows, []string{"Anderson–Darling A²", num(n.A2, 3), "p", num(n.P, 4)})
			}
			p.table([]float64{30, 60, 30, 60}, []string{"指标 Index", "值 [95 % CI]", "指标 Index", "值 [95 % CI]"}, rows)
		}
		if ch.Warning != "" {
			f.SetTextColor(0xb0, 0x60, 0)
			p.line("⚠ 非正态 "+ch.Warning, 4.5)
			f.SetTextColor(0, 0, 0)
		}
		c, ok := figs["hist/"+ch.Name]
		p.image(c, ok)
		c, ok = figs["i/"+ch.Name]
		p.image(c, ok)
		c, ok = figs["mr/"+ch.Name]
		p.image(c, ok)
	}

	p.heading("5. 设备能力与磨床对比 Machine capability and grinder comparison")
	for _, cmp := range r.Grinders {
		var rows [][]string
		for _, g := range cmp.Grinders {
			cm := "—"
			if g.Study.Cm != nil {
				cm = num(g.Study.Cm.Value, 2)
			}
			n := fmt.Sprint(g.Study.N)
			if g.Study.Short {
				n += " *"
			}
			rows = append(rows, []string{g.Machine, n, num(g.Study.Mean, 5), cm, fmt.Sprintf("%s [%s, %s]", num(g.Study.Cmk.Value, 2), num(g.Study.Cmk.CI.Low, 2), num(g.Study.Cmk.CI.High, 2)), passText(g.Pass)})
		}
		p.size = 9.5
		p.line(cmp.Characteristic+" · "+cmp.Group, 5.5)
		p.size = 8
		p.table([]float64{22, 18, 32, 22, 56, 30}, []string{"磨床 Grinder", "n", "均值 Mean", "Cm", "Cmk [95 % CI]", "结果 Result"}, rows)
		s := ""
		if a := cmp.ANOVA; a != nil {
			s += fmt.Sprintf("ANOVA F(%d, %d) = %s, p = %s", a.DFBetween, a.DFWithin, num(a.F, 3), num(a.P, 4))
		}
		if l := cmp.Levene; l != nil {
			s += fmt.Sprintf(" · Levene W(%d, %d) = %s, p = %s", l.DF1, l.DF2, num(l.W, 3), num(l.P, 4))
		}
		if len(cmp.Differ) > 0 {
			s += " · 均值不同 differ: " + strings.Join(cmp.Differ, ", ")
		}
		p.line(s, 4.5)
	}
	p.line("* 少于 50 件 fewer than 50 parts (ISO 22514-3)", 4.5)

	p.heading("6. 报废与可靠性 Scrap, first-pass yield and reliability")
	rel := map[string][2]float64{}
	for _, m := range r.Reliability {
		rel[m.ID] = [2]float64{m.MTBFS, m.MTTRS}
	}
	rows = nil
	for _, m := range r.Scrap.Machines {
		rm := rel[m.Machine]
		rows = append(rows, []string{m.Machine, fmt.Sprint(m.Jobs), fmt.Sprint(m.Aborted), num(100*m.FPY, 1) + " %", num(rm[0]/3600, 1), num(rm[1]/60, 1)})
	}
	p.table([]float64{25, 25, 25, 35, 35, 35}, []string{"设备 Machine", "作业 Jobs", "中止 Aborted", "一次合格率 FPY", "MTBF h", "MTTR min"}, rows)
	rows = nil
	for _, a := range r.Scrap.Alarms {
		rows = append(rows, []string{a.Code, a.Text, fmt.Sprint(a.Count)})
	}
	if len(rows) > 0 {
		p.table([]float64{25, 130, 25}, []string{"报警 Alarm", "文本 Text", "次数 Count"}, rows)
	}

	p.heading("7. 瓶颈 Bottleneck")
	rows = nil
	for _, g := range r.Bottleneck {
		name := g.Group
		if g.Paces {
			name += " ◀ 瓶颈 paces"
		}
		rows = append(rows, []string{name, fmt.Sprint(g.Machines), num(100*g.Utilisation, 1) + " %", num(g.StarvedH, 1), num(g.BlockedH, 1), num(g.DownH, 1), num(g.SustainableTaktS, 1)})
	}
	p.table([]float64{32, 18, 26, 26, 26, 22, 30}, []string{"组 Group", "设备 Mach.", "利用率 Util.", "待料 Starved h", "阻塞 Blocked h", "故障 Down h", "单独节拍 Takt s"}, rows)

	p.heading("8. 砂轮与修整 Wheel and dressing")
	rows = nil
	for _, w := range r.Wheel {
		slope, r2, pv := "—", "—", "—"
		if w.Wear != nil {
			slope, r2, pv = num(w.Wear.Slope, 6), num(w.Wear.R2, 3), num(w.Wear.P, 4)
		}
		maxDress := "新砂轮即不达标 not met"
		switch {
		case w.Unlimited:
			maxDress = "不受限 unlimited"
		case w.Reachable:
			maxDress = num(w.DressEveryMax, 0)
		}
		rows = append(rows, []string{w.Characteristic, slope, r2, pv, num(w.WearPerPartUM, 2), maxDress})
	}
	p.table([]float64{32, 28, 18, 20, 32, 50}, []string{"特性 Characteristic", "斜率 mm/µm", "R²", "p", "磨损/件 µm", "最大修整间隔 parts"}, rows)
	for _, w := range r.Wheel {
		c, ok := figs["wear/"+w.Characteristic]
		p.image(c, ok)
	}

	p.heading("9. 能耗与碳排放 Energy and carbon")
	e := r.Energy
	rows = [][]string{{"kWh / 合格品 good bur", num(e.KWhPerGood, 4), "kg CO2e / 合格品 good bur", num(e.KgCO2ePerGood, 4)},
		{"总电耗 total kWh", num(e.KWh, 2), "绿电占比 green power", num(100*e.RenewableShare, 0) + " %"}}
	for _, o := range e.ByOperation {
		rows = append(rows, []string{fmt.Sprintf("%d %s %s", o.Number, o.NameZH, o.Name), num(o.KWh, 2) + " kWh", "kWh / good", num(o.KWhPerGood, 4)})
	}
	p.table([]float64{55, 35, 55, 35}, []string{"", "", "", ""}, rows)
	p.line(e.Scope, 4.5)

	p.heading("10. 药方 Prescription")
	if pr := r.Prescription; pr != nil {
		p.line(fmt.Sprintf("离散事件仿真，输入为本次运行实测分布，%d 次重复。Discrete-event simulation fed with this run's measured distributions, %d replications.", pr.Reproduced.Replications, pr.Reproduced.Replications), 4.5)
		rows := [][]string{
			{"实测 Measured", num(pr.Inputs.GoodPerHour, 2), num(pr.Inputs.TaktS, 1), "—"},
			{fmt.Sprintf("仿真 Simulated (%+.1f %%)", 100*pr.Deviation), fmt.Sprintf("%s [%s, %s]", num(pr.Reproduced.GoodPerHour.Mean, 2), num(pr.Reproduced.GoodPerHour.Low, 2), num(pr.Reproduced.GoodPerHour.High, 2)), num(pr.Reproduced.TaktS.Mean, 1), num(100*pr.Reproduced.OEE.Mean, 1) + " %"},
		}
		for _, wi := range pr.WhatIfs {
			rows = append(rows, []string{wi.NameZH + "\n" + wi.Name, fmt.Sprintf("%s [%s, %s]", num(wi.Summary.GoodPerHour.Mean, 2), num(wi.Summary.GoodPerHour.Low, 2), num(wi.Summary.GoodPerHour.High, 2)), num(wi.Summary.TaktS.Mean, 1), num(100*wi.Summary.OEE.Mean, 1) + " %"})
		}
		p.table([]float64{60, 50, 35, 35}, []string{"", "合格品/小时 Good per hour", "节拍 Takt s", "OEE"}, rows)
		groups := make([]string, 0, len(pr.Target.MachinesByGroup))
		for g, n := range pr.Target.MachinesByGroup {
			groups = append(groups, fmt.Sprintf("%s × %d", g, n))
		}
		sort.Strings(groups)
		met := "所需设备 machines needed: "
		if !pr.Target.Met {
			met = "未能满足 not met with: "
		}
		p.line(fmt.Sprintf("目标 Target: 节拍 takt ≤ %s s → %s%s; 预期节拍 expected takt %s s [%s, %s]", num(pr.Target.RequiredTaktS, 1), met, strings.Join(groups, ", "),
			num(pr.Target.Expected.TaktS.Mean, 1), num(pr.Target.Expected.TaktS.Low, 1), num(pr.Target.Expected.TaktS.High, 1)), 4.5)
	} else {
		p.line("无药方 No prescription for this batch.", 4.5)
	}
	if len(r.Notes) > 0 {
		p.heading("说明 Notes")
		for _, n := range r.Notes {
			p.line("• "+n, 4.5)
		}
	}
}
