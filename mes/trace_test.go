package mes_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateGTIN(t *testing.T) {
	tests := []struct {
		gtin string
		ok   bool
	}{
		{"4006381333931", true},   // EAN-13, check digit 1
		{"04006381333931", true},  // the same as GTIN-14
		{"4006381333932", false},  // wrong check digit
		{"96385074", true},        // GTIN-8
		{"036000291452", true},    // GTIN-12 (UPC-A)
		{"04012345000016", true},  // fixture GTIN
		{"04012345000017", false}, // wrong check digit
		{"400638133393", false},   // 12 digits, wrong check digit for UPC
		{"40063813339", false},    // 11 digits
		{"40063813339a1", false},  // not digits
		{"", false},
	}
	for _, tt := range tests {
		err := mes.ValidateGTIN(tt.gtin)
		if tt.ok {
			assert.NoError(t, err, tt.gtin)
		} else {
			assert.Equal(t, mes.EINVALID, mes.ErrorCode(err), tt.gtin)
		}
	}
	assert.Equal(t, byte('1'), mes.GTINCheckDigit("400638133393"))
	assert.Equal(t, "04006381333931", mes.GTIN14("4006381333931"))
	assert.Equal(t, "00000096385074", mes.GTIN14("96385074"))
}

func TestBurUDI(t *testing.T) {
	p := &mes.Product{GTIN: "4006381333931"}
	cst := time.FixedZone("CST", 8*3600)
	// Finished 2026-03-02 18:30 UTC is already 3 March in the plant's zone.
	b := &mes.Bur{Serial: "B000001-00042", Batch: "B000001", Finished: time.Date(2026, 3, 2, 18, 30, 0, 0, time.UTC)}
	u := mes.BurUDI(p, b, cst)
	require.NoError(t, u.Validate())
	assert.Equal(t, "(01)04006381333931(11)260303(10)B000001(21)B000001-00042", u.ElementString())
	assert.Equal(t, "(01)04006381333931", u.DI())
	assert.Equal(t, "(11)260303(10)B000001(21)B000001-00042", u.PI())
	assert.Equal(t, "01040063813339311126030310B000001\x1d21B000001-00042", u.GS1Data())
	assert.Equal(t, "(11)260302(10)B000001(21)B000001-00042", mes.BurUDI(p, b, nil).PI(), "nil zone is UTC")

	unfinished := &mes.Bur{Serial: "S1", Batch: "B1", Created: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		Operations: []mes.OperationRecord{{End: time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC)}}}
	assert.Equal(t, "(11)260106(10)B1(21)S1", mes.BurUDI(p, unfinished, nil).PI())

	bad := []mes.UDI{
		{GTIN: "4006381333932", Manufactured: time.Now(), Lot: "B1", Serial: "S1"},
		{GTIN: "4006381333931", Lot: "B1", Serial: "S1"},
		{GTIN: "4006381333931", Manufactured: time.Now(), Lot: "", Serial: "S1"},
		{GTIN: "4006381333931", Manufactured: time.Now(), Lot: "B1", Serial: "S1-THAT-IS-FAR-TOO-LONG-1"},
		{GTIN: "4006381333931", Manufactured: time.Now(), Lot: "B1", Serial: "S 1"},
		{GTIN: "4006381333931", Manufactured: time.Now(), Lot: "B1", Serial: "S#1"},
	}
	for _, u := range bad {
		assert.Equal(t, mes.EINVALID, mes.ErrorCode(u.Validate()), "%+v", u)
	}
}

func TestNewTraceRecord(t *testing.T) {
	b, p, _ := sigFixture()
	t0 := b.Created
	b.State = mes.BatchQAReleased
	b.Started, b.Completed, b.Scrap, b.Rework = 5, 3, 1, 0
	b.Transitions = []mes.Transition{
		{From: mes.BatchPlanned, To: mes.BatchReleased, At: t0.Add(time.Hour)},
		{From: mes.BatchReleased, To: mes.BatchRunning, At: t0.Add(2 * time.Hour)},
		{From: mes.BatchRunning, To: mes.BatchHeld, At: t0.Add(3 * time.Hour)},
		{From: mes.BatchHeld, To: mes.BatchRunning, At: t0.Add(4 * time.Hour)},
		{From: mes.BatchRunning, To: mes.BatchCompleted, At: t0.Add(20 * time.Hour)},
		{From: mes.BatchCompleted, To: mes.BatchQAReleased, At: t0.Add(30 * time.Hour)},
	}
	r := mes.NewTraceRecord(b, p, nil, nil, nil, mes.ChainHead{}, time.FixedZone("CST", 8*3600), t0.Add(31*time.Hour))
	assert.Equal(t, mes.TraceRecordSchema, r.Schema)
	assert.Equal(t, mes.TraceQuantities{Ordered: 3, Started: 5, Made: 4, Good: 3, Scrap: 1, InProcess: 1, Released: 3}, r.Quantities)
	assert.Equal(t, t0.Add(2*time.Hour), r.Dates.ProductionStart, "the first start, not the restart after a hold")
	assert.Equal(t, t0.Add(20*time.Hour), r.Dates.ProductionEnd)
	assert.Equal(t, t0.Add(30*time.Hour), r.Dates.Released)
	assert.Equal(t, "04012345000016", r.UDIDI)
	assert.Equal(t, "(11)260303(10)B000001", r.LotPI, "completed 2026-03-03 04:00 in the plant's zone")
	assert.NotNil(t, r.Nonconformances)
	assert.NotNil(t, r.Signatures)
	assert.Equal(t, "CST", r.TimeZone)

	b.State = mes.BatchCompleted
	r = mes.NewTraceRecord(b, p, nil, nil, nil, mes.ChainHead{}, nil, t0)
	assert.Zero(t, r.Quantities.Released, "nothing is released before QA release")
	assert.Equal(t, time.UTC, r.Loc())
}

func TestMeasurementSummary(t *testing.T) {
	p := &mes.Product{Tolerances: map[string]mes.Tolerance{
		mes.CharRadialRunout:  {Nominal: 0.005, Lower: 0, Upper: 0.02},
		mes.CharHeadDiameter:  {Nominal: 12, Lower: 8, Upper: 16},
		mes.CharShankDiameter: {Nominal: 1.6, Lower: 1.59, Upper: 1.6},
	}}
	s := mes.NewMeasurementSummary(p)
	for _, v := range []float64{10, 12, 11, 13, 17} {
		s.Add(&mes.Bur{Measurement: &mes.Measurement{Values: map[string]float64{mes.CharHeadDiameter: v, mes.CharRadialRunout: 0.001}}})
	}
	s.Add(&mes.Bur{})
	got := s.Result()
	require.Len(t, got, 3)
	assert.Equal(t, []string{mes.CharHeadDiameter, mes.CharShankDiameter, mes.CharRadialRunout},
		[]string{got[0].Characteristic, got[1].Characteristic, got[2].Characteristic}, "report order")
	head := got[0]
	assert.Equal(t, 5, head.N)
	assert.Equal(t, 4, head.Pass)
	assert.Equal(t, 1, head.Fail)
	assert.Equal(t, 10.0, head.Min)
	assert.Equal(t, 17.0, head.Max)
	assert.Equal(t, mes.Capability([]float64{10, 12, 11, 13, 17}, p.Tolerances[mes.CharHeadDiameter]), head.Capability)
	assert.Zero(t, got[1].N)
	assert.False(t, got[2].Capability.Defined, "constant values: no Cpk")
}

func ExampleUDI_ElementString() {
	p := &mes.Product{GTIN: "4006381333931"}
	b := &mes.Bur{Serial: "B000001-00042", Batch: "B000001", Finished: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	fmt.Println(mes.BurUDI(p, b, nil).ElementString())
	// Output: (01)04006381333931(11)260302(10)B000001(21)B000001-00042
}

func ExampleCapability() {
	// Moving ranges 0.002 0.003 0.004 0.002: σ = 0.00275/1.128; the mean sits on nominal.
	pc := mes.Capability([]float64{1.401, 1.399, 1.402, 1.398, 1.400}, mes.Tolerance{Nominal: 1.4, Lower: 1.38, Upper: 1.42})
	fmt.Printf("Cp %.2f Cpk %.2f (σ %s)\n", pc.Cp, pc.Cpk, pc.SigmaMethod)
	// Output: Cp 2.73 Cpk 2.73 (σ MR/d2)
}
