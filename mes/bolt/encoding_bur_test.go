package bolt

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// burCase is a bur to round-trip; utc is true when every time in it is in
// UTC, so the decoded bur must equal it field for field.
type burCase struct {
	bur mes.Bur
	utc bool
}

func fullBur() mes.Bur {
	b := mes.Bur{Serial: "B000001-00012", Batch: "B000001", Product: "500314001001014", Seq: 12, BlankLot: "CB-2026-017",
		NextOp: 3, Machine: "G06", Disposition: mes.BurScrap, ScrapReason: "head_diameter 1.5 mm above 1.42 mm (USL)",
		Created: encT0, Finished: encT0.Add(40 * time.Minute)}
	for i := range 3 {
		st := encT0.Add(time.Duration(i) * 13 * time.Minute)
		b.Operations = append(b.Operations, mes.OperationRecord{Number: 10 * (i + 1), Name: "Shank 柄", Machine: "G0" + string(rune('1'+i)),
			CycleSeq: math.MaxUint64 - uint64(i), Program: "O1010", ProgramVersion: "3.1", ProgramHash: "sha256:9f2c1e7a", WheelID: "W-4471",
			WheelWearUM: 3.25, DressCount: math.MaxUint32, Start: st, End: st.Add(171500 * time.Millisecond), CycleS: 171.5,
			PeakSpindleLoad: 61.5, EnergyKWh: 0.21, Aborted: i == 2})
	}
	b.Measurement = &mes.Measurement{Seq: 99, Serial: b.Serial, Station: "QC1", GaugeID: "GA-7",
		CalibrationDue: encT0.Add(90 * 24 * time.Hour), Time: encT0.Add(39 * time.Minute),
		Values: map[string]float64{mes.CharHeadDiameter: 1.5, mes.CharWorkingLength: 1.3, mes.CharOverallLength: 19,
			mes.CharShankDiameter: 1.595, mes.CharRadialRunout: 0.006}}
	b.Results = []mes.CharResult{
		{Characteristic: mes.CharHeadDiameter, Value: 1.5, Nominal: 1.4, Lower: 1.38, Upper: 1.42},
		{Characteristic: mes.CharRadialRunout, Value: 0.006, Nominal: 0, Lower: -1e-300, Upper: 0.01, Pass: true},
	}
	return b
}

// burCases covers every field, nil and empty parts, zero values, extreme
// numbers, times in other zones and before 1970.
func burCases() map[string]burCase {
	cst := time.FixedZone("CST", 8*3600)
	india := time.FixedZone("", 5*3600+1800)
	zoned := fullBur()
	zoned.Created, zoned.Finished = encT0.In(cst), encT0.Add(time.Hour).In(india)
	zoned.Operations[0].Start, zoned.Operations[0].End = encT0.In(time.FixedZone("", -5*3600)), encT0.In(time.Local)
	zoned.Measurement.Time, zoned.Measurement.CalibrationDue = encT0.In(cst), time.Date(2027, 1, 1, 0, 0, 0, 0, india)

	inProcess := mes.Bur{Serial: "B000002-00001", Batch: "B000002", Product: "500314001001014", Seq: 1, BlankLot: "L",
		Disposition: mes.BurInProcess, Created: encT0, Operations: []mes.OperationRecord{}}
	emptyParts := fullBur()
	emptyParts.Results = []mes.CharResult{}
	emptyParts.Measurement.Values = map[string]float64{}
	nilValues := fullBur()
	nilValues.Measurement = &mes.Measurement{Seq: 1}
	negZero := fullBur()
	negZero.Operations[0].WheelWearUM = math.Copysign(0, -1)
	negZero.Results[0].Value = math.SmallestNonzeroFloat64
	negZero.Results[1].Upper = math.MaxFloat64
	odd := mes.Bur{Serial: "x", Disposition: "vendor_hold", Seq: -3, NextOp: math.MaxInt32,
		Created: time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC), Finished: time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)}
	return map[string]burCase{
		"full":                       {fullBur(), true},
		"zero":                       {mes.Bur{}, true},
		"in process, no operations":  {inProcess, true},
		"empty results and values":   {emptyParts, true},
		"measurement without values": {nilValues, true},
		"negative zero and extremes": {negZero, true},
		"literal disposition, before 1970 and after 2262": {odd, true},
		"times in other zones":                            {zoned, false},
	}
}

func TestBurEncoding_RoundTrip(t *testing.T) {
	for name, c := range burCases() {
		t.Run(name, func(t *testing.T) {
			b := c.bur
			enc, err := encodeBur(&b)
			require.NoError(t, err)
			require.Equal(t, byte(burEncodingV1), enc[0])
			got, err := decodeBurValue(enc)
			require.NoError(t, err)

			if c.utc {
				assert.Equal(t, b, *got, "reads back exactly")
			}
			assert.Equal(t, b.Operations == nil, got.Operations == nil, "nil operations stay nil, empty stay empty")
			assert.Equal(t, b.Results == nil, got.Results == nil, "nil results stay nil, empty stay empty")
			if b.Measurement != nil {
				assert.Equal(t, b.Measurement.Values == nil, got.Measurement.Values == nil)
			}
			wantJSON, err := json.Marshal(b)
			require.NoError(t, err)
			gotJSON, err := json.Marshal(got)
			require.NoError(t, err)
			assert.JSONEq(t, string(wantJSON), string(gotJSON), "same instants, offsets and numbers")
			assert.Equal(t, mes.BurRecordHash(&b, len(b.Operations)), mes.BurRecordHash(got, len(got.Operations)),
				"the record hash, and so its audit entry, survives re-encoding")

			again, err := encodeBur(got)
			require.NoError(t, err)
			assert.Equal(t, enc, again, "equal burs encode to equal bytes")

			var fromJSON mes.Bur
			require.NoError(t, json.Unmarshal(wantJSON, &fromJSON))
			old, err := decodeBurValue(wantJSON)
			require.NoError(t, err, "a value written before schema 5 still decodes")
			assert.Equal(t, fromJSON, *old)
		})
	}
}

func TestBurEncoding_ZonesKeepTheirOffset(t *testing.T) {
	b := burCases()["times in other zones"].bur
	enc, err := encodeBur(&b)
	require.NoError(t, err)
	got, err := decodeBurValue(enc)
	require.NoError(t, err)
	for name, pair := range map[string][2]time.Time{
		"created":         {b.Created, got.Created},
		"finished":        {b.Finished, got.Finished},
		"op start":        {b.Operations[0].Start, got.Operations[0].Start},
		"op end (Local)":  {b.Operations[0].End, got.Operations[0].End},
		"measured":        {b.Measurement.Time, got.Measurement.Time},
		"calibration due": {b.Measurement.CalibrationDue, got.Measurement.CalibrationDue},
	} {
		assert.True(t, pair[0].Equal(pair[1]), "%s: %v, got %v", name, pair[0], pair[1])
		_, want := pair[0].Zone()
		_, off := pair[1].Zone()
		assert.Equal(t, want, off, "%s keeps its offset", name)
	}
}

func TestBurEncoding_RejectsBadValues(t *testing.T) {
	for name, mutate := range map[string]func(b *mes.Bur){
		"NaN wheel wear":    func(b *mes.Bur) { b.Operations[1].WheelWearUM = math.NaN() },
		"Inf energy":        func(b *mes.Bur) { b.Operations[0].EnergyKWh = math.Inf(1) },
		"-Inf measured":     func(b *mes.Bur) { b.Measurement.Values[mes.CharHeadDiameter] = math.Inf(-1) },
		"NaN result bound":  func(b *mes.Bur) { b.Results[1].Lower = math.NaN() },
		"NaN cycle seconds": func(b *mes.Bur) { b.Operations[2].CycleS = math.NaN() },
	} {
		b := fullBur()
		mutate(&b)
		_, err := encodeBur(&b)
		assert.ErrorIs(t, err, errNotFinite, name)
	}

	// Every truncation of a valid value, trailing bytes and unknown
	// versions fail cleanly instead of decoding half a bur.
	for name, c := range burCases() {
		enc, err := encodeBur(&c.bur)
		require.NoError(t, err)
		for n := range len(enc) {
			_, err := decodeBurValue(enc[:n])
			assert.Error(t, err, "%s cut at %d of %d bytes", name, n, len(enc))
		}
		_, err = decodeBurValue(append(enc, 0))
		assert.Error(t, err, "%s with a trailing byte", name)
	}
	for name, v := range map[string][]byte{
		"unknown version":        {0x02, 0},
		"empty":                  {},
		"huge operation count":   {burEncodingV1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad measurement flag":   append(mustEncodeBur(t, &mes.Bur{})[:13], 7, 0),
		"broken JSON":            []byte(`{"serial":`),
		"time with unknown form": {burEncodingV1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9},
	} {
		_, err := decodeBurValue(v)
		assert.Error(t, err, name)
	}
}

func mustEncodeBur(t *testing.T, b *mes.Bur) []byte {
	t.Helper()
	enc, err := encodeBur(b)
	require.NoError(t, err)
	return enc
}

// BenchmarkBurDecode compares decoding one stored bur of the export
// benchmark's shape in the binary encoding and in the JSON of schema 4:
//
//	go test -run '^$' -bench BurDecode ./mes/bolt/
func BenchmarkBurDecode(b *testing.B) {
	bur := fullBur()
	for name, encode := range map[string]func() ([]byte, error){
		"binary": func() ([]byte, error) { return encodeBur(&bur) },
		"json":   func() ([]byte, error) { return json.Marshal(&bur) },
	} {
		b.Run(name, func(b *testing.B) {
			v, err := encode()
			require.NoError(b, err)
			b.SetBytes(int64(len(v)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeBurValue(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
