package mes_test

import (
	"fmt"
	"testing"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
)

func testProduct() *mes.Product {
	return &mes.Product{
		ISO: "500314001001014", Name: "round bur", ShankType: "FG",
		Tolerances: map[string]mes.Tolerance{
			mes.CharHeadDiameter:  {Nominal: 1.4, Lower: 1.38, Upper: 1.42},
			mes.CharOverallLength: {Nominal: 19, Lower: 18.8, Upper: 19.2},
			mes.CharRadialRunout:  {Nominal: 0.005, Lower: 0, Upper: 0.02},
		},
		Route: []mes.Operation{{Number: 10, Name: "Shank", Group: "SHK", Program: "O1010", IdealCycleS: 780}},
	}
}

func TestEvaluate(t *testing.T) {
	p := testProduct()
	tests := []struct {
		name       string
		values     map[string]float64
		want       mes.BurDisposition
		wantReason []string
		wantPass   []bool // head, overall, runout
	}{
		{"all in", map[string]float64{"head_diameter": 1.401, "overall_length": 19.05, "radial_runout": 0.004}, mes.BurGood, nil, []bool{true, true, true}},
		{"limits are inclusive", map[string]float64{"head_diameter": 1.38, "overall_length": 19.2, "radial_runout": 0}, mes.BurGood, nil, []bool{true, true, true}},
		{"head too big", map[string]float64{"head_diameter": 1.45, "overall_length": 19, "radial_runout": 0.004}, mes.BurScrap,
			[]string{"head_diameter 1.45 mm > USL 1.42 mm"}, []bool{false, true, true}},
		{"two fail", map[string]float64{"head_diameter": 1.37, "overall_length": 19, "radial_runout": 0.03}, mes.BurScrap,
			[]string{"head_diameter 1.37 mm < LSL 1.38 mm", "radial_runout 0.03 mm > USL 0.02 mm"}, []bool{false, true, false}},
		{"missing value", map[string]float64{"head_diameter": 1.4, "radial_runout": 0.004, "shank_diameter": 1.595}, mes.BurScrap,
			[]string{"overall_length not measured"}, []bool{true, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results, disp, reason := mes.Evaluate(p, mes.Measurement{Values: tt.values})
			assert.Equal(t, tt.want, disp)
			if tt.wantReason == nil {
				assert.Empty(t, reason)
			}
			for _, r := range tt.wantReason {
				assert.Contains(t, reason, r)
			}
			var chars []string
			var pass []bool
			for _, r := range results {
				chars = append(chars, r.Characteristic)
				pass = append(pass, r.Pass)
			}
			assert.Equal(t, []string{"head_diameter", "overall_length", "radial_runout"}, chars, "results in report order, toleranced only")
			assert.Equal(t, tt.wantPass, pass)
		})
	}
}

func ExampleEvaluate() {
	p := &mes.Product{Tolerances: map[string]mes.Tolerance{mes.CharHeadDiameter: {Nominal: 1.4, Lower: 1.38, Upper: 1.42}}}
	_, disp, reason := mes.Evaluate(p, mes.Measurement{Values: map[string]float64{mes.CharHeadDiameter: 1.43}})
	fmt.Println(disp, reason)
	// Output: scrap out of tolerance: head_diameter 1.43 mm > USL 1.42 mm
}
