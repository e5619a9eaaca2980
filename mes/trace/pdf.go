package trace

import (
	"context"
	"fmt"
	"io"
	"iter"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/pilotline/pilotline/mes"
)

const (
	pdfLatin  = "dejavu"
	pdfCJK    = "droid"
	pdfMargin = 12.0 // mm
	pdfBottom = 15.0 // mm kept free for the footer
	pdfLineH  = 5.0  // mm
	pdfLabelW = 76.0 // mm, English and Chinese labels before a field's value
)

// meaningZH are the Chinese words for signature meanings.
var meaningZH = map[mes.SignatureMeaning]string{
	mes.MeaningReviewed: "已审核", mes.MeaningReleased: "已放行", mes.MeaningRejected: "已拒收",
}

var dispositionZH = map[mes.NCDisposition]string{
	mes.DispositionScrap: "报废", mes.DispositionRework: "返工", mes.DispositionUseAsIs: "让步接收",
}

// WritePDF writes the record of production / certificate of conformity:
// a header with product, quantities, dates, UDI-DI and the lot's production
// identifier, and the lot's UDI as a GS1 DataMatrix (see GS1DataMatrix)
// with its element string when the product has a GTIN; per-characteristic measurement summary with Cp/Cpk;
// nonconformances and their dispositions; every signature with printed name,
// date-time and meaning; and an appendix with one line per bur. Labels are
// bilingual (English / 简体中文). Times are printed in the record's zone.
//
// Unlike the CSV and JSON writers, the PDF is assembled in memory before
// it is written (about 1 KB per bur).
func WritePDF(ctx context.Context, w io.Writer, rec *mes.TraceRecord, burs iter.Seq2[*mes.Bur, error]) error {
	p := &pdfDoc{rec: rec, loc: rec.Loc(), pdf: fpdf.New("P", "mm", "A4", ""), size: 8.5}
	f := p.pdf
	f.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	f.SetAutoPageBreak(false, pdfBottom) // rows break pages themselves: a row never splits
	f.AddUTF8FontFromBytes(pdfLatin, "", latinFont)
	f.AddUTF8FontFromBytes(pdfCJK, "", cjkFont)
	f.SetFont(pdfLatin, "", 8.5)
	f.SetTitle("Record of production "+rec.Batch.ID, true)
	f.SetSubject("Certificate of conformity / 合格证明", true)
	f.SetCreator("Pilotline", true)
	f.SetCreationDate(rec.GeneratedAt)
	f.SetModificationDate(rec.GeneratedAt)
	f.SetCatalogSort(true)
	f.AliasNbPages("{nb}")
	f.SetFooterFunc(func() {
		f.SetXY(pdfMargin, 297-12)
		p.size = 7
		f.SetTextColor(90, 90, 90)
		p.cell(0, 4, fmt.Sprintf("%s · %s · %s · %d/{nb}", rec.Batch.ID, rec.Product.ISO, p.when(rec.GeneratedAt), f.PageNo()), "", 0, false)
		f.SetTextColor(0, 0, 0)
	})

	// The summary needs every bur before the first page is final, and the
	// appendix lists them: collect the few fields the appendix prints.
	sum := mes.NewMeasurementSummary(&rec.Product)
	var lines [][4]string
	n := 0
	for b, err := range burs {
		if err != nil {
			return fmt.Errorf("write pdf: %w", err)
		}
		if n++; n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("write pdf: %w", err)
			}
		}
		sum.Add(b)
		machines := make([]string, 0, len(b.Operations))
		for _, op := range b.Operations {
			machines = append(machines, op.Machine)
		}
		lines = append(lines, [4]string{b.Serial, rec.UDI(b).PI(), strings.Join(machines, " "), string(b.Disposition)})
	}

	// The record counts the batch's audit entries (one per finished bur
	// among them) without holding them.
	for _, err := range rec.AuditSeq() {
		if err != nil {
			return fmt.Errorf("write pdf: %w", err)
		}
		p.auditEntries++
	}

	f.AddPage()
	p.title()
	p.header()
	p.summary(sum.Result())
	p.nonconformances()
	p.signatures()
	p.appendix(lines)
	if err := f.Error(); err != nil {
		return fmt.Errorf("write pdf: %w", err)
	}
	if err := f.Output(w); err != nil {
		return fmt.Errorf("write pdf: %w", err)
	}
	return nil
}

type pdfDoc struct {
	rec  *mes.TraceRecord
	loc  *time.Location
	pdf  *fpdf.Fpdf
	size float64 // font size, points

	auditEntries int // of the batch
}

// pdfRun is a stretch of text printed in one font.
type pdfRun struct{ font, text string }

// runs splits s by font: CJK and full-width forms in the CJK font,
// everything else in the Latin one.
func runs(s string) []pdfRun {
	var out []pdfRun
	start, cur := 0, ""
	for i, r := range s {
		font := pdfLatin
		if r >= 0x2E80 && r < 0xA000 || r >= 0xF900 && r < 0xFB00 || r >= 0xFE30 && r < 0xFFF0 {
			font = pdfCJK
		}
		if font != cur {
			if i > start {
				out = append(out, pdfRun{cur, s[start:i]})
			}
			start, cur = i, font
		}
	}
	if start < len(s) {
		out = append(out, pdfRun{cur, s[start:]})
	}
	return out
}

// width is the printed width of s at the current size, mm.
func (p *pdfDoc) width(s string) float64 {
	w := 0.0
	for _, r := range runs(s) {
		p.pdf.SetFont(r.font, "", p.size)
		w += p.pdf.GetStringWidth(r.text)
	}
	return w
}

// wrap breaks s into lines no wider than w, at spaces where it can.
func (p *pdfDoc) wrap(s string, w float64) []string {
	var lines []string
	var cur string
	for _, word := range strings.Split(s, " ") {
		next := word
		if cur != "" {
			next = cur + " " + word
		}
		if cur == "" || p.width(next) <= w {
			cur = next
			continue
		}
		lines = append(lines, cur)
		cur = word
	}
	lines = append(lines, cur)
	return lines
}

// breakIfNeeded starts a new page when a row of height h would not fit.
func (p *pdfDoc) breakIfNeeded(h float64) {
	if p.pdf.GetY()+h > 297-pdfBottom {
		p.pdf.AddPage()
	}
}

// cell prints s in a box of width w (0: to the right margin), clipped to
// the box; ln 1 moves to the next line, 0 to the right of the box.
func (p *pdfDoc) cell(w, h float64, s, border string, ln int, fill bool) {
	f := p.pdf
	x, y := f.GetXY()
	if w == 0 {
		w = 210 - pdfMargin - x
	}
	f.CellFormat(w, h, "", border, 0, "L", fill, 0, "")
	cm := f.GetCellMargin()
	f.SetCellMargin(0)
	f.SetXY(x+cm, y)
	avail := w - 2*cm
	for _, r := range runs(s) {
		f.SetFont(r.font, "", p.size)
		text := r.text
		for text != "" && f.GetStringWidth(text) > avail {
			_, n := utf8LastRune(text)
			text = text[:len(text)-n]
		}
		tw := f.GetStringWidth(text)
		f.CellFormat(tw, h, text, "", 0, "L", false, 0, "")
		if avail -= tw; text != r.text {
			break
		}
	}
	f.SetCellMargin(cm)
	if ln == 1 {
		f.SetXY(pdfMargin, y+h)
	} else {
		f.SetXY(x+w, y)
	}
}

func utf8LastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return []rune(s[i:])[0], len(s) - i
		}
	}
	return 0, 1
}

func (p *pdfDoc) when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(p.loc).Format("2006-01-02 15:04:05 MST")
}

func (p *pdfDoc) title() {
	p.size = 15
	p.cell(0, 8, "Record of Production / Certificate of Conformity", "", 1, false)
	p.size = 13
	p.cell(0, 7, "生产记录 / 合格证明", "", 1, false)
	p.pdf.Ln(2)
}

func (p *pdfDoc) section(en, zh string) {
	f := p.pdf
	p.breakIfNeeded(3 + 6.5 + 1 + 2*pdfLineH) // keep a heading with its first lines
	f.Ln(3)
	p.size = 11
	f.SetFillColor(225, 232, 240)
	p.cell(0, 6.5, en+" / "+zh, "", 1, true)
	p.size = 8.5
	f.Ln(1)
}

// kv prints one labelled field: English label, Chinese label, value.
func (p *pdfDoc) kv(en, zh, value string) {
	f := p.pdf
	lines := p.wrap(value, 210-2*pdfMargin-pdfLabelW-2)
	p.breakIfNeeded(float64(len(lines)) * pdfLineH)
	f.SetTextColor(70, 70, 70)
	p.cell(46, pdfLineH, en, "", 0, false)
	p.cell(pdfLabelW-46, pdfLineH, zh, "", 0, false)
	f.SetTextColor(0, 0, 0)
	for i, l := range lines {
		if i > 0 {
			f.SetX(pdfMargin + pdfLabelW)
		}
		p.cell(0, pdfLineH, l, "", 1, false)
	}
}

func (p *pdfDoc) header() {
	r := p.rec
	b, pr, q, d := r.Batch, r.Product, r.Quantities, r.Dates
	p.section("Batch and product", "批次与产品")
	name := pr.Name
	if pr.NameZH != "" {
		name += " / " + pr.NameZH
	}
	p.kv("Product", "产品", name)
	p.kv("ISO 6360 number", "ISO 6360 编号", pr.ISO)
	p.kv("Shank (ISO 1797)", "柄型", pr.ShankType)
	p.kv("Batch (lot)", "批号", b.ID)
	p.kv("Customer", "客户", b.Org)
	p.kv("Carbide blank lot", "硬质合金毛坯批号", b.BlankLot)
	p.kv("Batch state", "批次状态", string(b.State))

	p.section("Unique device identification (GS1)", "医疗器械唯一标识")
	di := r.UDIDI
	if di == "" {
		di = "— (no GTIN)"
	} else {
		di = "(01)" + di
	}
	p.kv("UDI-DI", "产品标识 DI", di)
	p.kv("Lot production identifier", "批次生产标识 PI", r.LotPI)
	p.kv("Bur production identifiers", "单件生产标识", "(11) date of manufacture (10) lot (21) serial — one per bur, see appendix / 见附录")
	p.carrier()

	p.section("Quantities", "数量")
	p.kv("Ordered", "订单数量", strconv.Itoa(q.Ordered))
	p.kv("Started", "投料数量", strconv.Itoa(q.Started))
	p.kv("Manufactured", "生产数量", strconv.Itoa(q.Made))
	p.kv("Good", "合格数量", strconv.Itoa(q.Good))
	p.kv("Scrap", "报废数量", strconv.Itoa(q.Scrap))
	p.kv("Rework", "返工数量", strconv.Itoa(q.Rework))
	p.kv("In process", "在制数量", strconv.Itoa(q.InProcess))
	p.kv("Released for distribution", "放行数量", strconv.Itoa(q.Released))

	p.section("Dates", "日期")
	p.kv("Batch created", "批次创建", p.when(d.Created))
	p.kv("Production start", "生产开始", p.when(d.ProductionStart))
	p.kv("Production end", "生产结束", p.when(d.ProductionEnd))
	p.kv("QA release", "质量放行", p.when(d.Released))
	if !d.Rejected.IsZero() {
		p.kv("QA rejection", "质量拒收", p.when(d.Rejected))
	}
	p.kv("Record generated", "记录生成", p.when(r.GeneratedAt))

	p.section("Record integrity", "记录完整性")
	p.kv("Record hash (SHA-256)", "记录哈希", orDash(r.RecordHash))
	p.kv("Audit chain head", "审计链头", fmt.Sprintf("seq %d  %s", r.AuditHead.Seq, orDash(r.AuditHead.Hash)))
	p.kv("Audit entries of batch", "批次审计条目", strconv.Itoa(p.auditEntries))
}

// Size of the printed lot UDI carrier.
const (
	pdfSymbolW     = 21.0 // mm, about: the symbol without its quiet zone
	pdfSymbolQuiet = 2    // modules of quiet zone on each side (GS1: at least 1)
)

// carrier prints the lot's UDI carrier: a GS1 DataMatrix of (01)(11)(10)
// with its element string under it, or a note saying why there is none.
// A lot the symbol cannot carry does not stop the record: the auditor
// still gets every other field, and the note names the problem.
func (p *pdfDoc) carrier() {
	data, err := p.rec.LotGS1Data()
	var dm *DataMatrix
	if err == nil && data != "" {
		dm, err = GS1DataMatrix(data)
	}
	switch {
	case err != nil:
		p.kv("UDI carrier", "标识载体", "none: "+mes.ErrorMessage(err)+" / 无法生成GS1 DataMatrix")
		return
	case data == "":
		p.kv("UDI carrier", "标识载体", "none: the product has no GTIN, no GS1 DataMatrix is printed / 无GTIN，不打印GS1 DataMatrix")
		return
	}
	p.kv("UDI carrier", "标识载体", "GS1 DataMatrix (ECC 200) + element string / GS1 DataMatrix 二维码 + 元素字符串")

	// Module size and origin lie on a quarter-point grid, so that the
	// edges fpdf rounds to 0.01 pt meet exactly: no hairline seams between
	// rows, no overlaps.
	const ptPerMM = 72 / 25.4
	grid := func(mm float64) float64 { return math.Round(mm*ptPerMM*4) / 4 / ptPerMM }
	f := p.pdf
	mod := grid(pdfSymbolW / float64(dm.Size()))
	quiet := pdfSymbolQuiet * mod
	side := float64(dm.Size())*mod + 2*quiet
	p.breakIfNeeded(side + pdfLineH + 1)
	x0 := grid(pdfMargin + pdfLabelW + quiet) // in the value column
	y0 := 297 - grid(297-f.GetY()-quiet)      // fpdf measures y from the page's bottom
	f.SetFillColor(0, 0, 0)
	dm.darkRuns(func(x, y, n int) {
		f.Rect(x0+float64(x)*mod, y0+float64(y)*mod, float64(n)*mod, mod, "F")
	})
	f.SetXY(pdfMargin+pdfLabelW, y0+float64(dm.Size())*mod+quiet)
	p.cell(0, pdfLineH, p.rec.LotElementString(), "", 1, false)
	f.Ln(1)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// table prints a header row and rows with the given column widths (mm).
func (p *pdfDoc) table(widths []float64, head []string, rows [][]string) {
	f := p.pdf
	row := func(cells []string, fill bool) {
		p.breakIfNeeded(pdfLineH)
		for i, c := range cells {
			p.cell(widths[i], pdfLineH, c, "1", 0, fill)
		}
		f.SetXY(pdfMargin, f.GetY()+pdfLineH)
	}
	f.SetFillColor(240, 240, 240)
	row(head, true)
	for _, r := range rows {
		row(r, false)
	}
}

func (p *pdfDoc) summary(chars []mes.CharSummary) {
	p.section("Measurements (Cp/Cpk: σ = MR̄/d2; Ppk: overall σ)", "测量汇总")
	var rows [][]string
	g := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	idx := func(ok bool, v float64) string {
		if !ok {
			return "—"
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	for _, c := range chars {
		mn, mx := "—", "—"
		if c.N > 0 {
			mn, mx = g(c.Min), g(c.Max)
		}
		rows = append(rows, []string{c.Characteristic, g(c.Tolerance.Nominal), g(c.Tolerance.Lower), g(c.Tolerance.Upper),
			strconv.Itoa(c.N), strconv.Itoa(c.Pass), strconv.Itoa(c.Fail), mn, mx,
			idx(c.Capability.Defined, c.Capability.Cp), idx(c.Capability.Defined, c.Capability.Cpk), idx(c.Capability.Overall, c.Capability.Ppk)})
	}
	p.table([]float64{30, 15, 15, 15, 12, 12, 12, 16, 16, 11, 11, 11},
		[]string{"Characteristic 特性", "Nom.", "LSL", "USL", "n", "Pass", "Fail", "Min", "Max", "Cp", "Cpk", "Ppk"}, rows)
}

func (p *pdfDoc) nonconformances() {
	ncs := p.rec.Nonconformances
	p.section(fmt.Sprintf("Nonconformances (%d)", len(ncs)), "不合格品记录")
	if len(ncs) == 0 {
		p.cell(0, pdfLineH, "None / 无", "", 1, false)
		return
	}
	for _, nc := range ncs {
		disp := "open / 未处置"
		if nc.State == mes.NCClosed {
			disp = string(nc.Disposition) + " / " + dispositionZH[nc.Disposition]
		}
		p.kv(nc.ID+"  "+nc.Serial, "处置: "+disp, nc.Description)
		if nc.State == mes.NCClosed {
			detail := fmt.Sprintf("Reason 原因: %s · by 处置人 %s · %s", nc.Reason, nc.ClosedBy, p.when(nc.ClosedAt))
			if nc.Concession != "" {
				detail += " · concession 让步 " + nc.Concession
			}
			p.kv("", "", detail)
		}
	}
}

func (p *pdfDoc) signatures() {
	sigs := p.rec.Signatures
	p.section(fmt.Sprintf("Electronic signatures (%d)", len(sigs)), "电子签名")
	if len(sigs) == 0 {
		p.cell(0, pdfLineH, "Not signed / 未签名", "", 1, false)
		return
	}
	for _, s := range sigs {
		p.kv("Signed by", "签名人", s.PrintedName+" ("+s.SignerID+")")
		p.kv("Meaning", "签名含义", string(s.Meaning)+" / "+meaningZH[s.Meaning])
		p.kv("Date and time", "签名时间", p.when(s.SignedAt))
		binding := s.RecordHash
		if p.rec.RecordHash != "" {
			if s.RecordHash == p.rec.RecordHash {
				binding += "  (matches this record / 与本记录一致)"
			} else {
				binding += "  (DOES NOT match this record / 与本记录不一致)"
			}
		}
		p.kv("Bound to record hash", "绑定记录哈希", binding)
		p.pdf.Ln(1.5)
	}
}

func (p *pdfDoc) appendix(lines [][4]string) {
	f := p.pdf
	f.AddPage()
	p.section(fmt.Sprintf("Appendix: burs (%d)", len(lines)), "附录：单件追溯")
	rows := make([][]string, len(lines))
	for i, l := range lines {
		rows[i] = l[:]
	}
	p.table([]float64{36, 70, 60, 20}, []string{"Serial 序列号", "UDI PI 生产标识", "Grinders 磨床", "Result 结果"}, rows)
}
