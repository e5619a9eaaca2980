package trace_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"image"
	"image/color"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes/trace"
)

var (
	pdfStreamRE = regexp.MustCompile(`(?s)stream\n(.*?)\nendstream`)
	pdfTjRE     = regexp.MustCompile(`\(((?:\\.|[^\\)])*)\)\s*Tj`)
)

// pdfText extracts the text shown by Tj operators in the PDF's content
// streams, one string per operator. Fonts are Identity-H with CIDs equal
// to Unicode code points (as fpdf writes UTF-8 fonts), so a shown string is
// UTF-16BE.
func pdfText(t *testing.T, pdf []byte) []string {
	t.Helper()
	var out []string
	for _, m := range pdfStreamRE.FindAllSubmatch(pdf, -1) {
		zr, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue // not a compressed stream
		}
		content, err := io.ReadAll(zr)
		if err != nil {
			continue // a font program or image
		}
		for _, tj := range pdfTjRE.FindAllSubmatch(content, -1) {
			raw := pdfUnescape(tj[1])
			if len(raw)%2 != 0 {
				continue
			}
			u := make([]uint16, len(raw)/2)
			for i := range u {
				u[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
			}
			out = append(out, string(utf16.Decode(u)))
		}
	}
	return out
}

func pdfUnescape(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
			switch b[i] {
			case 'r':
				out = append(out, '\r')
			case 'n':
				out = append(out, '\n')
			default:
				out = append(out, b[i])
			}
			continue
		}
		out = append(out, b[i])
	}
	return out
}

func TestWritePDF_KeyFields(t *testing.T) {
	rec, burs := fixtureRecord(t, 6)
	var out bytes.Buffer
	require.NoError(t, trace.WritePDF(context.Background(), &out, rec, slice(burs)))
	require.True(t, bytes.HasPrefix(out.Bytes(), []byte("%PDF-")))
	text := strings.Join(pdfText(t, out.Bytes()), "")
	require.NotEmpty(t, text)

	for _, want := range []string{
		"Record of Production / Certificate of Conformity", "生产记录 / 合格证明",
		"Round bur, tungsten carbide", "钨钢球钻", "500314001001014", // product, ISO 6360
		"Manufactured", "生产数量", "Released for distribution", "放行数量",
		"(01)04012345000016",                     // UDI-DI
		"(11)260302(10)B000001",                  // the lot's production identifier (plant zone)
		"(11)260302(10)B000001(21)B000001-00006", // a bur's production identifier
		"2026-03-02 08:01:00 CST",                // production start in the plant's zone
		"NC000001", "scrap", "报废", "head oversize, cannot be reworked",
		"Wang Fang 王芳", "reviewed", "已审核", "Li Na 李娜", "released", "已放行", "2026-03-02 11:22:10 CST",
		rec.RecordHash, "matches this record",
		"head_diameter", "Cpk",
	} {
		assert.Contains(t, text, want)
	}
	// Quantities: made 6, released 5, printed as values after their labels.
	assert.Regexp(t, `Manufactured生产数量6`, text)
	assert.Regexp(t, `Released for distribution放行数量5`, text)
	assert.Contains(t, text, "Characteristic 特性")
}

func TestWritePDF_FlagsABrokenBinding(t *testing.T) {
	rec, burs := fixtureRecord(t, 4)
	rec.Signatures[1].RecordHash = strings.Repeat("0", 64)
	var out bytes.Buffer
	require.NoError(t, trace.WritePDF(context.Background(), &out, rec, slice(burs)))
	assert.Contains(t, strings.Join(pdfText(t, out.Bytes()), ""), "DOES NOT match this record")
}

func TestWritePDF_Unsigned(t *testing.T) {
	rec, burs := fixtureRecord(t, 3)
	rec.Signatures, rec.Nonconformances, rec.Product.GTIN, rec.UDIDI = nil, nil, "", ""
	var out bytes.Buffer
	require.NoError(t, trace.WritePDF(context.Background(), &out, rec, slice(burs[:0])))
	text := strings.Join(pdfText(t, out.Bytes()), "")
	assert.Contains(t, text, "Not signed / 未签名")
	assert.Contains(t, text, "None / 无")
	assert.Contains(t, text, "— (no GTIN)")
}

var (
	pdfFillGrayRE = regexp.MustCompile(`^([\d.]+) g$`)
	pdfFillRGBRE  = regexp.MustCompile(`^([\d.]+) ([\d.]+) ([\d.]+) rg$`)
	pdfRectFillRE = regexp.MustCompile(`^(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re f\s*$`)
)

// pdfBlackRects returns the rectangles filled in black in the PDF's
// content streams, in points as [x0, y0, x1, y1] with y up. It reads
// fpdf's line-per-operator output: fill colours set outside text, and
// "x y w h re f"; text lines carry their own colour inside q … Q.
func pdfBlackRects(t *testing.T, pdf []byte) [][4]float64 {
	t.Helper()
	num := func(s []byte) float64 {
		v, err := strconv.ParseFloat(string(s), 64)
		require.NoError(t, err)
		return v
	}
	var out [][4]float64
	for _, m := range pdfStreamRE.FindAllSubmatch(pdf, -1) {
		zr, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue
		}
		content, err := io.ReadAll(zr)
		if err != nil {
			continue
		}
		black := false
		for _, line := range bytes.Split(content, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if g := pdfFillGrayRE.FindSubmatch(line); g != nil {
				black = num(g[1]) == 0
			} else if c := pdfFillRGBRE.FindSubmatch(line); c != nil {
				black = num(c[1]) == 0 && num(c[2]) == 0 && num(c[3]) == 0
			} else if r := pdfRectFillRE.FindSubmatch(line); r != nil && black {
				x, y, w, h := num(r[1]), num(r[2]), num(r[3]), num(r[4])
				out = append(out, [4]float64{min(x, x+w), min(y, y+h), max(x, x+w), max(y, y+h)})
			}
		}
	}
	return out
}

// rasterRects paints rects (points, y up) black on white at px pixels a
// point, with a white margin of pad pixels around their bounding box.
func rasterRects(t *testing.T, rects [][4]float64, px float64, pad int) (*image.Gray, [4]float64) {
	t.Helper()
	require.NotEmpty(t, rects)
	bb := rects[0]
	for _, r := range rects {
		bb = [4]float64{min(bb[0], r[0]), min(bb[1], r[1]), max(bb[2], r[2]), max(bb[3], r[3])}
	}
	pix := func(v float64) int { return int(math.Round(v * px)) }
	img := image.NewGray(image.Rect(0, 0, pix(bb[2]-bb[0])+2*pad, pix(bb[3]-bb[1])+2*pad))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for _, r := range rects {
		for y := pad + pix(bb[3]-r[3]); y < pad+pix(bb[3]-r[1]); y++ {
			for x := pad + pix(r[0]-bb[0]); x < pad+pix(r[2]-bb[0]); x++ {
				img.SetGray(x, y, color.Gray{})
			}
		}
	}
	return img, bb
}

// The record of a batch whose product has a GTIN carries the lot's UDI as
// a GS1 DataMatrix that a reader decodes from the page's own drawing.
func TestWritePDF_LotDataMatrix(t *testing.T) {
	rec, burs := fixtureRecord(t, 6)
	want, err := rec.LotGS1Data()
	require.NoError(t, err)
	require.Equal(t, "01040123450000161126030210B000001", want)

	var out bytes.Buffer
	require.NoError(t, trace.WritePDF(context.Background(), &out, rec, slice(burs)))
	text := strings.Join(pdfText(t, out.Bytes()), "")
	assert.Contains(t, text, "GS1 DataMatrix (ECC 200) + element string")
	assert.Contains(t, text, "GS1 DataMatrix 二维码")
	assert.Contains(t, text, "(01)04012345000016(11)260302(10)B000001")
	assert.NotContains(t, text, "no DataMatrix")

	rects := pdfBlackRects(t, out.Bytes())
	img, bb := rasterRects(t, rects, 8, 40)
	// 18×18 modules of 3.25 pt (21 mm / 18 to the nearest quarter point):
	// 20.6 mm.
	assert.InDelta(t, 18*3.25, bb[2]-bb[0], 0.001, "symbol width, pt")
	assert.InDelta(t, 18*3.25, bb[3]-bb[1], 0.001, "symbol height, pt")
	for _, r := range rects {
		for _, v := range r {
			assert.InDelta(t, 0, math.Remainder(v, 0.25), 1e-9, "edges on the quarter-point grid: %v", r)
		}
	}

	got, id := decodeDataMatrix(t, img)
	assert.Equal(t, "\x1d"+want, got)
	assert.Equal(t, "]d2", id)
}

func TestWritePDF_NoGTINNoDataMatrix(t *testing.T) {
	rec, burs := fixtureRecord(t, 3)
	rec.Product.GTIN, rec.UDIDI = "", ""
	var out bytes.Buffer
	require.NoError(t, trace.WritePDF(context.Background(), &out, rec, slice(burs)))
	text := strings.Join(pdfText(t, out.Bytes()), "")
	assert.Contains(t, text, "— (no GTIN)")
	assert.Contains(t, text, "none: the product has no GTIN, no GS1 DataMatrix is printed")
	assert.NotContains(t, text, "(01)")
	assert.Empty(t, pdfBlackRects(t, out.Bytes()), "no symbol drawn")
}

// A lot the symbol cannot carry leaves the record complete, with the
// reason where the symbol would be.
func TestWritePDF_LotNotEncodable(t *testing.T) {
	rec, burs := fixtureRecord(t, 3)
	rec.LotPI = "(11)260302(10)B 01" // a space is not in GS1 character set 82
	var out bytes.Buffer
	require.NoError(t, trace.WritePDF(context.Background(), &out, rec, slice(burs)))
	text := strings.Join(pdfText(t, out.Bytes()), "")
	assert.Contains(t, text, "none: lot udi: (10)")
	assert.Contains(t, text, "not in GS1 character set 82")
	assert.Contains(t, text, "Released for distribution")
	assert.Empty(t, pdfBlackRects(t, out.Bytes()), "no symbol drawn")
}
