package trace_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"regexp"
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
