package ui

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/report"
)

func TestReport_FormatsAndAccess(t *testing.T) {
	f := newQAFixture(t)
	s, id := f.s, f.batch.ID
	url := func(q string) string { return "/api/v1/batches/" + id + "/report" + q }

	rec := do(t, s, http.MethodGet, url(""), "", bearer(f.qa)...)
	requireStatus(t, http.StatusOK, rec)
	r := decode[report.Report](t, rec)
	assert.Equal(t, id, r.Batch)
	assert.Equal(t, "acme", r.Org)
	require.Len(t, r.Capability, len(mes.Characteristics))
	for _, c := range r.Capability {
		require.Len(t, c.Points, 4, "%s: the batch's four measured burs", c.Name)
		if c.Name == mes.CharOverallLength {
			// The fixture measures every bur at the same overall length.
			assert.Nil(t, c.Study)
			assert.Contains(t, strings.Join(r.Notes, "\n"), "capability of overall_length: capability: no variation")
		} else {
			require.NotNil(t, c.Study, c.Name)
		}
		assert.Equal(t, f.machine(c.FormedBy), c.Points[0].Machine, "%s is charted against its forming grinder", c.Name)
	}
	assert.Equal(t, 3, r.Takt.Good, "bur 2 failed inspection")
	assert.NotEmpty(t, r.Verdict.Checks)
	assert.Nil(t, r.Prescription, "no machine events stored: nothing to simulate")
	assert.NotEmpty(t, r.Notes)

	rec = do(t, s, http.MethodGet, url("?format=html"), "", bearer(f.qa)...)
	requireStatus(t, http.StatusOK, rec)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, report.HTMLContentSecurityPolicy, rec.Header().Get("Content-Security-Policy"))
	assert.Contains(t, rec.Body.String(), "中试体检报告与药方")
	assert.Contains(t, rec.Body.String(), "Pilot-run report")

	rec = do(t, s, http.MethodGet, url("?format=pdf"), "", bearer(f.qa)...)
	requireStatus(t, http.StatusOK, rec)
	assert.Equal(t, "application/pdf", rec.Header().Get("Content-Type"))
	assert.Equal(t, `attachment; filename="`+id+`-report.pdf"`, rec.Header().Get("Content-Disposition"))
	assert.True(t, strings.HasPrefix(rec.Body.String(), "%PDF-"))

	assertJSONError(t, do(t, s, http.MethodGet, url("?format=docx"), "", bearer(f.qa)...), http.StatusBadRequest, mes.EINVALID, "format")
	assertJSONError(t, do(t, s, http.MethodGet, url("?volume=lots"), "", bearer(f.qa)...), http.StatusBadRequest, mes.EINVALID, "volume")
	assertJSONError(t, do(t, s, http.MethodGet, url("?batch=x"), "", bearer(f.qa)...), http.StatusBadRequest, mes.EINVALID, "batch")
	assertJSONError(t, do(t, s, http.MethodGet, "/api/v1/batches/B000099/report", "", bearer(f.qa)...), http.StatusNotFound, mes.ENOTFOUND, "")
	assertJSONError(t, do(t, s, http.MethodGet, "/api/v1/bookings/K000001/report", "", bearer(f.qa)...), http.StatusServiceUnavailable, CodeUnavailable, "bookings")

	// Customers: never another organisation's, their own once QA released it.
	assertJSONError(t, do(t, s, http.MethodGet, url(""), "", bearer(f.acme)...), http.StatusNotFound, mes.ENOTFOUND, "")
	assertJSONError(t, do(t, s, http.MethodGet, url(""), "", bearer(f.globex)...), http.StatusNotFound, mes.ENOTFOUND, "")
	f.closeNCs(t)
	requireStatus(t, http.StatusCreated, do(t, s, http.MethodPost, "/api/v1/batches/"+id+"/sign", `{"user":"qa1","password":"`+testPassword+`","meaning":"released"}`, bearer(f.qa)...))
	requireStatus(t, http.StatusOK, do(t, s, http.MethodGet, url(""), "", bearer(f.acme)...))
	assertJSONError(t, do(t, s, http.MethodGet, url(""), "", bearer(f.globex)...), http.StatusNotFound, mes.ENOTFOUND, "")
	assertJSONError(t, send(t, s, http.MethodGet, url(""), ""), http.StatusUnauthorized, mes.EUNAUTHORIZED, "")
}
