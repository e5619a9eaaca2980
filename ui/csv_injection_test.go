package ui

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// TestTraceCSV_FormulaCellsNeutralised exports a batch of a product whose
// operation name, program and version start with formula characters: no
// text cell of any CSV export may start with one of = + - @ tab CR.
func TestTraceCSV_FormulaCellsNeutralised(t *testing.T) {
	f := newQAFixture(t)
	p := f.product
	p.ISO, p.Name = "500314001002014", "Formula bur"
	p.Route = append([]mes.Operation(nil), p.Route...)
	evil := []string{`=HYPERLINK("http://evil.example","x")`, "+SUM(1)", "-2+3", "@cmd", "=1+1"}
	for i := range p.Route {
		p.Route[i].Name = evil[i%len(evil)]
	}
	body, err := json.Marshal(p)
	require.NoError(t, err)
	requireStatus(t, http.StatusCreated, do(t, f.s, http.MethodPost, "/api/v1/products", string(body)))
	f.product = p
	b := f.makeBatch(t, "acme", 2)

	check := func(name string, data []byte) {
		t.Helper()
		rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		require.NoError(t, err, name)
		require.Greater(t, len(rows), 1, "%s: %q", name, data)
		names := 0
		for _, row := range rows[1:] {
			for i, cell := range row {
				if cell == "" || strings.HasPrefix(cell, "-") && isNumber(cell) {
					continue // a negative number is a number, not a formula
				}
				assert.NotContains(t, "=+-@\t\r", cell[:1], "%s: row %v column %d", name, row, i)
			}
			if name == "operations" {
				assert.True(t, strings.HasPrefix(row[4], "'"), "operation_name %q", row[4])
				assert.Contains(t, evil, strings.TrimPrefix(row[4], "'"), "the name itself is kept after the apostrophe")
				names++
			}
		}
		if name == "operations" {
			assert.Equal(t, 2*len(p.Route), names)
		}
	}
	url := "/api/v1/batches/" + b.ID + "/trace?format="
	for name, format := range map[string]string{"operations": "csv", "measurements": "measurements.csv"} {
		rec := do(t, f.s, http.MethodGet, url+format, "")
		requireStatus(t, http.StatusOK, rec)
		check(name, rec.Body.Bytes())
	}
	rec := do(t, f.s, http.MethodGet, url+"bundle", "")
	requireStatus(t, http.StatusOK, rec)
	zr, err := zip.NewReader(bytes.NewReader(rec.Body.Bytes()), int64(rec.Body.Len()))
	require.NoError(t, err)
	for _, zf := range zr.File {
		if !strings.HasSuffix(zf.Name, ".csv") {
			continue
		}
		r, err := zf.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(r)
		require.NoError(t, err)
		check(strings.TrimSuffix(zf.Name, ".csv"), data)
	}
}

func isNumber(s string) bool {
	var f float64
	return json.Unmarshal([]byte(s), &f) == nil
}
