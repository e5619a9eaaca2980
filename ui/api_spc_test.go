package ui

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

func TestSPC_PerGrinderByFormingOperation(t *testing.T) {
	f := newQAFixture(t)
	s := f.s
	flutes := f.machine("FLT")

	// Working length is formed by the flutes operation: its points belong to
	// that grinder, across batches when no batch is named.
	rec := do(t, s, http.MethodGet, "/api/v1/spc?machine="+flutes+"&characteristic=working_length", "", bearer(f.qa)...)
	requireStatus(t, http.StatusOK, rec)
	r := decode[SPCResponse](t, rec)
	assert.Equal(t, 30, r.Operation)
	require.Len(t, r.Chart.Points, 4+2, "acme's four burs and globex's two")
	for i, pt := range r.Chart.Points {
		assert.Equal(t, flutes, pt.Machine)
		if i > 0 {
			assert.False(t, pt.Time.Before(r.Chart.Points[i-1].Time), "production order")
		}
	}
	require.NotNil(t, r.Study)
	assert.Equal(t, 6, r.Study.N, "capability over all points, not the baseline")
	assert.Equal(t, r.Capability.N, r.Study.N)
	assert.InDelta(t, r.Capability.Cpk, r.Study.Cpk.Value, 1e-12, "one figure: the chart's capability and the study agree")
	assert.Less(t, r.Study.Cpk.CI.Low, r.Study.Cpk.Value)

	// The inspection station formed nothing: no points are attributed to it.
	assertJSONError(t, do(t, s, http.MethodGet, "/api/v1/spc?machine=QC1&characteristic=working_length", "", bearer(f.qa)...), http.StatusConflict, mes.ECONFLICT, "no control chart")

	// Radial runout is bounded below: its study is one-sided.
	rec = do(t, s, http.MethodGet, "/api/v1/spc?characteristic=radial_runout&batch="+f.batch.ID, "", bearer(f.qa)...)
	requireStatus(t, http.StatusOK, rec)
	r = decode[SPCResponse](t, rec)
	require.NotNil(t, r.Study)
	assert.True(t, r.Study.OneSided)
	assert.Nil(t, r.Study.Cp)
	assert.Equal(t, f.machine("HEAD"), r.Chart.Points[0].Machine, "the product says head profiling forms runout")

	assertJSONError(t, do(t, s, http.MethodGet, "/api/v1/spc?characteristic=working_length", "", bearer(f.qa)...), http.StatusBadRequest, mes.EINVALID, "batch")
}
