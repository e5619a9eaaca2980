package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"iter"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mes/quality"
	"github.com/pilotline/pilotline/mes/trace"
)

// qaFixture is a test server on one real store with a finished batch of
// acme's, one of whose burs failed inspection.
type qaFixture struct {
	s       *Server
	db      *bolt.DB
	line    *mes.LineConfig
	product mes.Product
	batch   *mes.Batch // B000001, acme's, completed, bur 2 failed
	foreign *mes.Batch // B000002, globex's
	qa      string     // bearer token of qa1
	acme    string     // bearer token of a customer of acme
	globex  string     // bearer token of a customer of globex
	ncs     *bolt.NCService
	now     func() time.Time
	runs    uint64 // batches made: each gets its own machine and station sequence numbers
}

func newQAFixture(t *testing.T) *qaFixture {
	t.Helper()
	return newQAFixtureAt(t, func() time.Time { return testNow })
}

// newQAFixtureAt is newQAFixture on the clock now: the browser tests run on
// the real one, since Chromium checks cookie expiry against it.
func newQAFixtureAt(t *testing.T, now func() time.Time) *qaFixture {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "pilotline.db"), bolt.Options{Line: mes.LineClockFrom(now), Wall: mes.NewWallClock(now), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	line := MustLine(t)
	burs := bolt.NewBurService(db)
	s := &Server{
		Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), Line: line,
		Products: bolt.NewProductService(db), Batches: bolt.NewBatchService(db), Burs: burs, Events: bolt.NewEventStore(db),
		Users: bolt.NewUserService(db), Orgs: bolt.NewOrgService(db), Sessions: bolt.NewSessionService(db),
		Tokens: bolt.NewTokenService(db), Audit: bolt.NewAuditService(db),
		PasswordParams: testPasswordParams, LineClock: mes.LineClockFrom(now), WallClock: mes.NewWallClock(now),
	}
	sigs := bolt.NewSignatureService(db)
	f := &qaFixture{s: s, db: db, line: line, product: line.Products[0], ncs: bolt.NewNCService(db), now: now}
	s.SetQA(QA{NCs: f.ncs, Signatures: sigs, Signer: sigs, Burs: burs})
	adminTokens.Store(s, mustToken(t, s, mustUser(t, s, testAdmin, mes.RoleAdmin, "")))
	u := mustUser(t, s, "qa1", mes.RoleQA, "")
	u, err = s.Users.UpdateUser(context.Background(), u.ID, func(u *mes.User) error { u.Name = "Li Wei"; return nil })
	require.NoError(t, err)
	f.qa = mustToken(t, s, u)
	f.acme = mustToken(t, s, mustUser(t, s, "buyer", mes.RoleCustomer, "acme"))
	f.globex = mustToken(t, s, mustUser(t, s, "rival", mes.RoleCustomer, "globex"))

	ctx := context.Background()
	require.NoError(t, s.Products.CreateProduct(ctx, &f.product))
	f.batch = f.makeBatch(t, "acme", 4, 2)
	f.foreign = f.makeBatch(t, "globex", 2)
	return f
}

// makeBatch runs n burs of a new batch of org through the route and
// inspection; the burs whose seq is in bad fail.
func (f *qaFixture) makeBatch(t *testing.T, org string, n int, bad ...int) *mes.Batch {
	t.Helper()
	ctx := context.Background()
	b := &mes.Batch{Product: f.product.ISO, Quantity: n, Org: org, BlankLot: "LOT-7", State: mes.BatchReleased}
	require.NoError(t, f.s.Batches.CreateBatch(ctx, b))
	t0 := f.now().Add(-48 * time.Hour)
	base := f.runs * 100000
	f.runs++
	for i := 1; i <= n; i++ {
		bur, err := f.s.Burs.StartBur(ctx, b.ID, t0)
		require.NoError(t, err)
		for j, op := range f.product.Route {
			m := f.machine(op.Group)
			start := t0.Add(time.Duration(i*10+j) * time.Minute)
			_, err := f.s.Burs.CompleteOperation(ctx, m, mes.Cycle{Seq: base + uint64(i*100+j), Serial: bur.Serial, Program: op.Program,
				ProgramVersion: op.ProgramVersion, Start: start, End: start.Add(time.Minute)})
			require.NoError(t, err)
		}
		v := map[string]float64{}
		k := 0
		for _, ch := range mes.Characteristics {
			if tol, ok := f.product.Tolerances[ch]; ok {
				k++
				v[ch] = tol.Nominal + float64((i*k)%3-1)*(tol.Upper-tol.Nominal)/10
				if len(bad) > 0 && bad[0] == i && k == 1 {
					v[ch] = tol.Upper * 2
				}
			}
		}
		_, err = f.s.Burs.RecordMeasurement(ctx, mes.Measurement{Seq: base + uint64(i), Serial: bur.Serial, Station: "QC1-" + org,
			GaugeID: "GA-1", CalibrationDue: f.now().Add(90 * 24 * time.Hour), Time: t0.Add(time.Duration(i) * time.Hour), Values: v})
		require.NoError(t, err)
	}
	got, err := f.s.Batches.FindBatch(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, mes.BatchCompleted, got.State)
	return got
}

func (f *qaFixture) machine(group string) string {
	for _, m := range f.line.Machines {
		if m.Group == group {
			return m.ID
		}
	}
	return "X-" + group
}

func (f *qaFixture) closeNCs(t *testing.T) {
	t.Helper()
	ncs, err := f.ncs.ListNCs(context.Background(), f.batch.ID)
	require.NoError(t, err)
	for _, nc := range ncs {
		rec := do(t, f.s, http.MethodPost, "/api/v1/ncs/"+nc.ID+"/disposition", `{"disposition":"scrap","reason":"oversize"}`, bearer(f.qa)...)
		requireStatus(t, http.StatusOK, rec)
	}
}

func TestQA_SignReleaseFlow(t *testing.T) {
	f := newQAFixture(t)
	s, id := f.s, f.batch.ID
	sign := func(body string, hdr ...string) *httpResult {
		return &httpResult{do(t, s, http.MethodPost, "/api/v1/batches/"+id+"/sign", body, hdr...)}
	}

	// The plain actions no longer release or reject.
	for _, action := range []string{"qa-release", "reject"} {
		assertJSONError(t, do(t, s, http.MethodPost, "/api/v1/batches/"+id+"/"+action, "", bearer(f.qa)...), http.StatusConflict, mes.ECONFLICT, "sign with POST")
	}
	// Engineers and customers may not sign.
	eng := mustToken(t, s, mustUser(t, s, "eng1", mes.RoleEngineer, ""))
	assertJSONError(t, sign(`{"user":"qa1","password":"`+testPassword+`","meaning":"released"}`, bearer(eng)...).ResponseRecorder, http.StatusForbidden, mes.EFORBIDDEN, "")
	assertJSONError(t, sign(`{"user":"qa1","password":"`+testPassword+`","meaning":"released"}`, bearer(f.acme)...).ResponseRecorder, http.StatusForbidden, mes.EFORBIDDEN, "")

	// Bad input is refused before anything else.
	for _, body := range []string{`{"user":"qa1","password":"x","meaning":"approved"}`, `{"user":"qa1","meaning":"released"}`, `{"user":"qa1","password":"x","meaning":"rejected"}`, `{"user":"qa1","password":"x","meaning":"released","extra":1}`, `{"password":"` + testPassword + `","meaning":"released"}`} {
		assertJSONError(t, sign(body, bearer(f.qa)...).ResponseRecorder, http.StatusBadRequest, mes.EINVALID, "")
	}

	// The open NC of the failed bur blocks release.
	rec := sign(`{"user":"qa1","password":"`+testPassword+`","meaning":"released"}`, bearer(f.qa)...)
	assertJSONError(t, rec.ResponseRecorder, http.StatusConflict, mes.ECONFLICT, "open nonconformance")

	// A wrong password signs nothing and is audited.
	rec = sign(`{"user":"qa1","password":"wrong password!","meaning":"reviewed"}`, bearer(f.qa)...)
	assertJSONError(t, rec.ResponseRecorder, http.StatusUnauthorized, mes.EUNAUTHORIZED, "user id or password wrong")
	// Both components count: the right password under another user id signs nothing either.
	rec = sign(`{"user":"buyer","password":"`+testPassword+`","meaning":"reviewed"}`, bearer(f.qa)...)
	assertJSONError(t, rec.ResponseRecorder, http.StatusUnauthorized, mes.EUNAUTHORIZED, "user id or password wrong")
	failed := 0
	for e, err := range s.Audit.AuditEntries(context.Background(), mes.AuditFilter{ObjectType: mes.AuditObjectUser, ObjectID: "qa1"}) {
		require.NoError(t, err)
		if e.Action == mes.AuditLoginFailed && strings.Contains(string(e.New), "e-signature") {
			failed++
		}
	}
	assert.Equal(t, 2, failed)

	// NC list and disposition.
	rec = &httpResult{do(t, s, http.MethodGet, "/api/v1/batches/"+id+"/ncs", "", bearer(f.qa)...)}
	requireStatus(t, http.StatusOK, rec.ResponseRecorder)
	list := decode[ncList](t, rec.ResponseRecorder)
	require.Len(t, list.NCs, 1)
	assert.Equal(t, id+"-00002", list.NCs[0].Serial)
	assertJSONError(t, do(t, s, http.MethodPost, "/api/v1/ncs/"+list.NCs[0].ID+"/disposition", `{"disposition":"use_as_is","reason":"ok"}`, bearer(f.qa)...), http.StatusBadRequest, mes.EINVALID, "concession")
	assertJSONError(t, do(t, s, http.MethodPost, "/api/v1/ncs/NC000999/disposition", `{"disposition":"scrap","reason":"x"}`, bearer(f.qa)...), http.StatusNotFound, mes.ENOTFOUND, "")
	assertJSONError(t, do(t, s, http.MethodPost, "/api/v1/ncs/"+list.NCs[0].ID+"/disposition", `{"disposition":"scrap","reason":"x"}`, bearer(eng)...), http.StatusForbidden, mes.EFORBIDDEN, "")
	f.closeNCs(t)

	// Release with the password: signature with printed name and hash.
	rec = sign(`{"user":"qa1","password":"`+testPassword+`","meaning":"released","reason":"record complete"}`, bearer(f.qa)...)
	requireStatus(t, http.StatusCreated, rec.ResponseRecorder)
	got := decode[SignResponse](t, rec.ResponseRecorder)
	assert.Equal(t, mes.BatchQAReleased, got.Batch.State)
	assert.Equal(t, "Li Wei", got.Signature.PrintedName)
	assert.Equal(t, "qa1", got.Signature.SignerID)
	assert.Equal(t, mes.MeaningReleased, got.Signature.Meaning)
	assert.Equal(t, mes.AuthPassword, got.Signature.AuthMethod)
	assert.True(t, got.Signature.SignedAt.Equal(testNow))
	assert.Len(t, got.Signature.RecordHash, 64)

	// Signed twice: the batch is closed.
	assertJSONError(t, sign(`{"user":"qa1","password":"`+testPassword+`","meaning":"rejected","reason":"no"}`, bearer(f.qa)...).ResponseRecorder, http.StatusConflict, mes.ECONFLICT, "")

	// The bundle verifies, and its record hash is the signed one.
	rec = &httpResult{do(t, s, http.MethodGet, "/api/v1/batches/"+id+"/trace?format=bundle", "", bearer(f.acme)...)}
	requireStatus(t, http.StatusOK, rec.ResponseRecorder)
	data := rec.Body.Bytes()
	rep, err := trace.VerifyBundle(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	assert.Equal(t, got.Signature.RecordHash, rep.RecordHash)
	assert.Equal(t, 1, rep.Signatures)
}

func TestQA_TraceFormatsAndAccess(t *testing.T) {
	f := newQAFixture(t)
	s, id := f.s, f.batch.ID
	url := func(format string) string { return "/api/v1/batches/" + id + "/trace?format=" + format }

	tests := []struct {
		format, ctype, file, starts string
	}{
		{"csv", "text/csv; charset=utf-8", id + "-operations.csv", "batch,serial,udi_pi,operation,"},
		{"measurements.csv", "text/csv; charset=utf-8", id + "-measurements.csv", "batch,serial,characteristic,value_mm,"},
		{"json", "application/json", id + "-record.json", `{"schema":"pilotline.trace-record/v1"`},
		{"pdf", "application/pdf", id + "-record.pdf", "%PDF-"},
		{"bundle", "application/zip", id + "-trace.zip", "PK"},
	}
	reads := &countingAudit{AuditService: s.Audit}
	s.Audit = reads
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			before := reads.entries.Load()
			rec := do(t, s, http.MethodGet, url(tt.format), "", bearer(f.qa)...)
			requireStatus(t, http.StatusOK, rec)
			// the CSVs are bur rows only: the batch's audit entries (one per
			// finished bur) are not read, so they stream in constant memory
			assert.Equal(t, !strings.HasSuffix(tt.file, ".csv"), reads.entries.Load() > before, "audit entries read for %s", tt.format)
			assert.Equal(t, tt.ctype, rec.Header().Get("Content-Type"))
			assert.Equal(t, `attachment; filename="`+tt.file+`"`, rec.Header().Get("Content-Disposition"))
			assert.True(t, strings.HasPrefix(rec.Body.String(), tt.starts), "starts %q", truncate(rec.Body.String(), 60))
		})
	}
	rec := do(t, s, http.MethodGet, url("csv"), "", bearer(f.qa)...)
	assert.Equal(t, 1+4*len(f.product.Route), strings.Count(rec.Body.String(), "\r\n"), "header and one row per bur × operation")
	assertJSONError(t, do(t, s, http.MethodGet, url("xml"), "", bearer(f.qa)...), http.StatusBadRequest, mes.EINVALID, "format")
	assertJSONError(t, do(t, s, http.MethodGet, "/api/v1/batches/B000099/trace", "", bearer(f.qa)...), http.StatusNotFound, mes.ENOTFOUND, "")

	// Customers: never another organisation's, and their own only after release.
	for _, path := range []string{"/trace?format=csv", "/ncs", "/review"} {
		assertJSONError(t, do(t, s, http.MethodGet, "/api/v1/batches/"+f.foreign.ID+path, "", bearer(f.acme)...), http.StatusNotFound, mes.ENOTFOUND, "")
		assertJSONError(t, do(t, s, http.MethodGet, "/api/v1/batches/"+id+path, "", bearer(f.acme)...), http.StatusNotFound, mes.ENOTFOUND, "")
		assertJSONError(t, do(t, s, http.MethodGet, "/api/v1/batches/"+id+path, "", bearer(f.globex)...), http.StatusNotFound, mes.ENOTFOUND, "")
	}
	f.closeNCs(t)
	requireStatus(t, http.StatusCreated, do(t, s, http.MethodPost, "/api/v1/batches/"+id+"/sign", `{"user":"qa1","password":"`+testPassword+`","meaning":"released"}`, bearer(f.qa)...))
	for _, path := range []string{"/trace?format=csv", "/ncs", "/review"} {
		requireStatus(t, http.StatusOK, do(t, s, http.MethodGet, "/api/v1/batches/"+id+path, "", bearer(f.acme)...))
		assertJSONError(t, do(t, s, http.MethodGet, "/api/v1/batches/"+id+path, "", bearer(f.globex)...), http.StatusNotFound, mes.ENOTFOUND, "")
	}
	// Exports are audited.
	exports := 0
	for e, err := range s.Audit.AuditEntries(context.Background(), mes.AuditFilter{ObjectType: mes.AuditObjectBatch, ObjectID: id}) {
		require.NoError(t, err)
		if e.Action == mes.AuditExport {
			exports++
		}
	}
	assert.Equal(t, len(tests)+2, exports, "every download, none of the refused ones")
}

func TestQA_ReviewAndSPC(t *testing.T) {
	f := newQAFixture(t)
	s, id := f.s, f.batch.ID
	rec := do(t, s, http.MethodGet, "/api/v1/batches/"+id+"/review", "", bearer(f.qa)...)
	requireStatus(t, http.StatusOK, rec)
	r := decode[quality.BatchReview](t, rec)
	assert.False(t, r.CanRelease)
	assert.Equal(t, 1, r.OpenNCs)
	require.NotEmpty(t, r.Blockers)
	assert.Contains(t, r.Blockers[0], "open nonconformance")
	assert.Len(t, r.RecordHash, 64)
	assert.NotEmpty(t, r.Machines)
	assert.NotEmpty(t, r.Capability)

	f.closeNCs(t)
	r = decode[quality.BatchReview](t, do(t, s, http.MethodGet, "/api/v1/batches/"+id+"/review", "", bearer(f.qa)...))
	assert.True(t, r.CanRelease, "blockers: %v", r.Blockers)

	var ch string
	for _, c := range mes.Characteristics {
		if _, ok := f.product.Tolerances[c]; ok {
			ch = c
			break
		}
	}
	rec = do(t, s, http.MethodGet, "/api/v1/spc?characteristic="+ch+"&batch="+id, "", bearer(f.qa)...)
	requireStatus(t, http.StatusOK, rec)
	var spc SPCResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &spc))
	assert.Equal(t, mes.ChartIMR, spc.Chart.Kind)
	assert.Len(t, spc.Chart.Values, 4)
	assert.Greater(t, spc.Chart.X.UCL, spc.Chart.X.Center)
	assert.Equal(t, f.product.Tolerances[ch], spc.Tolerance)
	assert.Equal(t, f.product.Tolerances[ch].Upper*2, spc.Chart.Values[1], "the failed bur is charted in production order")
	assert.True(t, spc.Capability.Defined)

	assertJSONError(t, do(t, s, http.MethodGet, "/api/v1/spc?characteristic=colour&batch="+id, "", bearer(f.qa)...), http.StatusBadRequest, mes.EINVALID, "characteristic")
	assertJSONError(t, do(t, s, http.MethodGet, "/api/v1/spc?characteristic="+ch+"&batch="+id, "", bearer(f.acme)...), http.StatusForbidden, mes.EFORBIDDEN, "")
}

func TestQA_PageServed(t *testing.T) {
	f := newQAFixture(t)
	for _, p := range []string{"/qa/review.html", "/qa/qa.js", "/qa/qa.css"} {
		rec := do(t, f.s, http.MethodGet, p, "", bearer(f.qa)...)
		requireStatus(t, http.StatusOK, rec)
	}
	rec := do(t, f.s, http.MethodGet, "/qa/review.html", "", bearer(f.qa)...)
	assert.Contains(t, rec.Body.String(), "质量审核")
	assert.Contains(t, rec.Body.String(), `id="password"`)
}

// countingAudit counts the reads of audit entries.
type countingAudit struct {
	mes.AuditService
	entries atomic.Int64
}

func (a *countingAudit) AuditEntries(ctx context.Context, f mes.AuditFilter) iter.Seq2[mes.AuditEntry, error] {
	a.entries.Add(1)
	return a.AuditService.AuditEntries(ctx, f)
}
