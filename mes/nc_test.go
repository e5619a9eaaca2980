package mes_test

import (
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ncOpen() mes.Nonconformance {
	return mes.Nonconformance{ID: "NC000001", Serial: "B000001-00007", Batch: "B000001", Characteristic: mes.CharHeadDiameter,
		Source: mes.NCSourceMeasurement, Description: "head_diameter 1.4300 mm outside 1.3800…1.4200 mm",
		OpenedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), OpenedBy: "system", State: mes.NCOpen}
}

func TestNonconformance_Close(t *testing.T) {
	at := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		d          mes.NCDisposition
		reason     string
		concession string
		by         string
		at         time.Time
		wantCode   string
	}{
		{"scrap", mes.DispositionScrap, "oversize head", "", "qa.li", at, ""},
		{"rework", mes.DispositionRework, "regrind head", "", "qa.li", at, ""},
		{"use as is with concession", mes.DispositionUseAsIs, "within functional limit", "CON-2026-004", "qa.li", at, ""},
		{"use as is without concession", mes.DispositionUseAsIs, "within functional limit", " ", "qa.li", at, mes.EINVALID},
		{"no reason", mes.DispositionScrap, "", "", "qa.li", at, mes.EINVALID},
		{"unknown disposition", "return", "x", "", "qa.li", at, mes.EINVALID},
		{"nobody", mes.DispositionScrap, "x", "", "", at, mes.EINVALID},
		{"closed before opened", mes.DispositionScrap, "x", "", "qa.li", at.Add(-48 * time.Hour), mes.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := ncOpen()
			require.NoError(t, nc.Validate())
			err := nc.Close(tt.d, tt.reason, tt.concession, tt.by, tt.at)
			assert.Equal(t, tt.wantCode, mes.ErrorCode(err))
			if tt.wantCode != "" {
				assert.Equal(t, mes.NCOpen, nc.State, "a refused closure changes nothing")
				assert.Empty(t, nc.Disposition)
				return
			}
			assert.Equal(t, mes.NCClosed, nc.State)
			assert.Equal(t, tt.d, nc.Disposition)
			assert.Equal(t, tt.by, nc.ClosedBy)
			require.NoError(t, nc.Validate())
			err = nc.Close(mes.DispositionScrap, "again", "", "qa.li", at)
			assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err), "closed records stay closed")
			assert.Equal(t, tt.d, nc.Disposition)
		})
	}
}

func TestNonconformance_Validate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*mes.Nonconformance)
	}{
		{"no serial", func(nc *mes.Nonconformance) { nc.Serial = "" }},
		{"no source", func(nc *mes.Nonconformance) { nc.Source = "" }},
		{"no description", func(nc *mes.Nonconformance) { nc.Description = "" }},
		{"no opener", func(nc *mes.Nonconformance) { nc.OpenedBy = "" }},
		{"unknown state", func(nc *mes.Nonconformance) { nc.State = "pending" }},
		{"open with disposition", func(nc *mes.Nonconformance) { nc.Disposition = mes.DispositionScrap }},
		{"closed without disposition", func(nc *mes.Nonconformance) { nc.State = mes.NCClosed }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := ncOpen()
			tt.mod(&nc)
			assert.Equal(t, mes.EINVALID, mes.ErrorCode(nc.Validate()))
		})
	}
}

func TestNonconformancesFor(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	b := &mes.Bur{Serial: "B000001-00003", Batch: "B000001",
		Operations:  []mes.OperationRecord{{Number: 10, Name: "Shank", Machine: "G01"}, {Number: 20, Name: "Flutes", Machine: "G02", Aborted: true}},
		Measurement: &mes.Measurement{Values: map[string]float64{mes.CharHeadDiameter: 1.45}},
		Results: []mes.CharResult{
			{Characteristic: mes.CharHeadDiameter, Value: 1.45, Nominal: 1.4, Lower: 1.38, Upper: 1.42},
			{Characteristic: mes.CharOverallLength, Nominal: 19, Lower: 18.8, Upper: 19.2},
			{Characteristic: mes.CharRadialRunout, Value: 0.004, Lower: 0, Upper: 0.02, Pass: true},
		}}
	got := mes.NonconformancesFor(b, "system", at)
	require.Len(t, got, 3)
	assert.Equal(t, mes.NCSourceAborted, got[0].Source)
	assert.Contains(t, got[0].Description, "G02")
	assert.Equal(t, mes.CharHeadDiameter, got[1].Characteristic)
	assert.Contains(t, got[1].Description, "1.4500 mm outside 1.3800…1.4200 mm")
	assert.Equal(t, "overall_length not measured", got[2].Description)
	for _, nc := range got {
		assert.Equal(t, mes.NCOpen, nc.State)
		assert.NoError(t, nc.Validate())
	}
	assert.Empty(t, mes.NonconformancesFor(&mes.Bur{Serial: "S", Batch: "B"}, "system", at))
}
