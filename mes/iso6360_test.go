package mes_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseISO6360(t *testing.T) {
	tests := []struct {
		in      string
		want    mes.ISO6360
		shank   string
		wantErr string
	}{
		{in: "500314001001014", want: mes.ISO6360{Material: 500, Shank: 314, Shape: 1, Grit: 1, Size: 14}, shank: "FG"},
		{in: "806204141534016", want: mes.ISO6360{Material: 806, Shank: 204, Shape: 141, Grit: 534, Size: 16}, shank: "RA"},
		{in: "500103007001023", want: mes.ISO6360{Material: 500, Shank: 103, Shape: 7, Grit: 1, Size: 23}, shank: "HP"},
		{in: "50031400100101", wantErr: "15-digit"},
		{in: "5003140010010140", wantErr: "15-digit"},
		{in: "50031400100101x", wantErr: "15-digit"},
		{in: "500-14001001014", wantErr: "15-digit"},
		{in: "050314001001014", wantErr: "material group 050"},
		{in: "500514001001014", wantErr: "shank group 514"},
		{in: "500014001001014", wantErr: "shank group 014"},
		{in: "500314000001014", wantErr: "shape group"},
		{in: "500314001001000", wantErr: "size group"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := mes.ParseISO6360(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
				assert.Contains(t, mes.ErrorMessage(err), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.shank, got.ShankType())
			assert.Equal(t, tt.in, got.String())
			assert.InDelta(t, float64(tt.want.Size)/10, got.HeadDiameterMM(), 1e-9)
		})
	}
}

func TestProductValidate_ISOConsistency(t *testing.T) {
	c, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	base := c.Products[0]
	require.NoError(t, base.Validate())

	tests := []struct {
		name    string
		mutate  func(p *mes.Product)
		wantErr string
	}{
		{"shank type differs", func(p *mes.Product) { p.ShankType = "RA" }, "shank_type"},
		{"head diameter differs", func(p *mes.Product) {
			p.Tolerances = map[string]mes.Tolerance{mes.CharHeadDiameter: {Nominal: 1.6, Lower: 1.58, Upper: 1.62}}
		}, "does not match the ISO 6360 size 014"},
		{"bad shank group", func(p *mes.Product) { p.ISO = "500914001001014" }, "shank group"},
		{"empty shank type is fine", func(p *mes.Product) { p.ShankType = "" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			tt.mutate(&p)
			err := p.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
			assert.Contains(t, mes.ErrorMessage(err), tt.wantErr)
		})
	}
}

func ExampleParseISO6360() {
	n, err := mes.ParseISO6360("500314001001014")
	if err != nil {
		panic(err)
	}
	fmt.Println(n.Material, n.ShankType(), n.HeadDiameterMM())
	// Output: 500 FG 1.4
}
