package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/kpi"
	"github.com/pilotline/pilotline/twin"
)

func TestProducts(t *testing.T) {
	line := MustLine(t)
	s, _ := newTestServer(t, line, openBackend(t, line))

	rec := do(t, s, http.MethodGet, "/api/v1/products", "")
	requireStatus(t, http.StatusOK, rec)
	assert.JSONEq(t, `{"products": []}`, rec.Body.String())

	rec = do(t, s, http.MethodPost, "/api/v1/products", demoProductJSON(t, line))
	requireStatus(t, http.StatusCreated, rec)
	assert.Equal(t, "/api/v1/products/500314001001014", rec.Header().Get("Location"))
	created := decode[mes.Product](t, rec)
	assert.Equal(t, line.Products[0], created)

	rec = do(t, s, http.MethodGet, "/api/v1/products/500314001001014", "")
	requireStatus(t, http.StatusOK, rec)
	assert.Equal(t, line.Products[0], decode[mes.Product](t, rec))

	rec = do(t, s, http.MethodGet, "/api/v1/products", "")
	requireStatus(t, http.StatusOK, rec)
	list := decode[productList](t, rec)
	require.Len(t, list.Products, 1)
	assert.Equal(t, "500314001001014", list.Products[0].ISO)

	// The same ISO number twice is a conflict.
	rec = do(t, s, http.MethodPost, "/api/v1/products", demoProductJSON(t, line))
	assertJSONError(t, rec, http.StatusConflict, mes.ECONFLICT, "")

	rec = do(t, s, http.MethodGet, "/api/v1/products/500314001001016", "")
	assertJSONError(t, rec, http.StatusNotFound, mes.ENOTFOUND, "")
}

func TestBatches(t *testing.T) {
	line := MustLine(t)
	be := openBackend(t, line)
	s, _ := newTestServer(t, line, be)
	seedProduct(t, s)
	mustOrg(t, s, "dental-works")

	b := seedBatch(t, s, `{"product": "500314001001014", "quantity": 12, "org": "dental-works", "blank_lot": "L-2026-031",
		"planned_start": "2026-03-02T06:00:00Z", "planned_end": "2026-03-02T14:00:00Z"}`)
	assert.NotEmpty(t, b.ID)
	assert.Equal(t, mes.BatchPlanned, b.State)
	assert.Equal(t, 12, b.Quantity)
	assert.Equal(t, "dental-works", b.Org)
	assert.Equal(t, time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC), b.PlannedStart.UTC())
	assert.Equal(t, Progress{Quantity: 12, Remaining: 12}, b.Progress)

	other := seedBatch(t, s, `{"product": "500314001001014", "quantity": 3, "state": "released"}`)
	assert.Equal(t, mes.BatchReleased, other.State)

	// The list: top-level "batches", each with id, state, quantity, completed.
	rec := do(t, s, http.MethodGet, "/api/v1/batches", "")
	requireStatus(t, http.StatusOK, rec)
	var raw struct {
		Batches []map[string]any `json:"batches"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	require.Len(t, raw.Batches, 2)
	for _, rb := range raw.Batches {
		for _, k := range []string{"id", "state", "quantity", "completed", "progress", "transitions"} {
			assert.Contains(t, rb, k)
		}
	}

	rec = do(t, s, http.MethodGet, "/api/v1/batches?state=released", "")
	requireStatus(t, http.StatusOK, rec)
	list := decode[struct {
		Batches []batchView `json:"batches"`
	}](t, rec)
	require.Len(t, list.Batches, 1)
	assert.Equal(t, other.ID, list.Batches[0].ID)

	rec = do(t, s, http.MethodGet, "/api/v1/batches?state=planned,released", "")
	requireStatus(t, http.StatusOK, rec)
	assert.Len(t, decode[batchList](t, rec).Batches, 2)

	// Walk the state machine: release, hold, resume, then an invalid move.
	// Each transition is recorded under the signed-in user.
	qa := bearer(mustToken(t, s, mustUser(t, s, "qa.li", mes.RoleQA, "")))
	steps := []struct {
		action string
		body   string
		as     []string
		want   mes.BatchState
	}{
		{"release", "", nil, mes.BatchReleased},
		{"hold", `{"reason": "wheel batch under investigation", "by": "qa.li"}`, qa, mes.BatchHeld},
		{"resume", `{}`, nil, mes.BatchReleased},
		{"cancel", `{"reason": "order withdrawn"}`, nil, mes.BatchCancelled},
	}
	for _, st := range steps {
		rec := do(t, s, http.MethodPost, "/api/v1/batches/"+b.ID+"/"+st.action, st.body, st.as...)
		requireStatus(t, http.StatusOK, rec)
		assert.Equal(t, st.want, decode[batchView](t, rec).State, st.action)
	}
	rec = do(t, s, http.MethodGet, "/api/v1/batches/"+b.ID, "")
	requireStatus(t, http.StatusOK, rec)
	got := decode[batchView](t, rec)
	// The store may record creation as a transition too; the last four are ours.
	require.GreaterOrEqual(t, len(got.Transitions), 4)
	ours := got.Transitions[len(got.Transitions)-4:]
	assert.Equal(t, mes.Transition{From: mes.BatchPlanned, To: mes.BatchReleased, By: testAdmin, At: testNow}, withUTC(ours[0]))
	assert.Equal(t, mes.Transition{From: mes.BatchReleased, To: mes.BatchHeld, By: "qa.li", At: testNow, Reason: "wheel batch under investigation"},
		withUTC(ours[1]))
	assert.Equal(t, mes.BatchReleased, ours[2].To)
	assert.Equal(t, mes.Transition{From: mes.BatchReleased, To: mes.BatchCancelled, By: testAdmin, At: testNow, Reason: "order withdrawn"}, withUTC(ours[3]))

	// Cancelled is terminal.
	for _, action := range []string{"release", "hold", "resume", "cancel", "qa-release", "reject"} {
		rec := do(t, s, http.MethodPost, "/api/v1/batches/"+b.ID+"/"+action, "")
		assertJSONError(t, rec, http.StatusConflict, mes.ECONFLICT, "")
	}

	// A running batch resumes to running.
	_, err := be.Burs.StartBur(context.Background(), other.ID, testNow)
	require.NoError(t, err)
	rec = do(t, s, http.MethodPost, "/api/v1/batches/"+other.ID+"/hold", "")
	requireStatus(t, http.StatusOK, rec)
	rec = do(t, s, http.MethodPost, "/api/v1/batches/"+other.ID+"/resume", "")
	requireStatus(t, http.StatusOK, rec)
	got = decode[batchView](t, rec)
	assert.Equal(t, mes.BatchRunning, got.State)
	assert.Equal(t, 1, got.Progress.Started)
	assert.Equal(t, 1, got.Progress.InProcess)

	rec = do(t, s, http.MethodGet, "/api/v1/batches/B999999", "")
	assertJSONError(t, rec, http.StatusNotFound, mes.ENOTFOUND, "")
	rec = do(t, s, http.MethodPost, "/api/v1/batches/B999999/release", "")
	assertJSONError(t, rec, http.StatusNotFound, mes.ENOTFOUND, "")

	// "by" may only name the signed-in user.
	rec = do(t, s, http.MethodPost, "/api/v1/batches/"+other.ID+"/hold", `{"by": "qa.li"}`)
	assertJSONError(t, rec, http.StatusBadRequest, mes.EINVALID, "signed-in user")
}

func withUTC(tr mes.Transition) mes.Transition {
	tr.At = tr.At.UTC()
	return tr
}

func TestBurs(t *testing.T) {
	line := MustLine(t)
	be := openBackend(t, line)
	s, _ := newTestServer(t, line, be)
	seedProduct(t, s)
	b := seedBatch(t, s, `{"product": "500314001001014", "quantity": 2, "state": "released", "blank_lot": "L7"}`)

	ctx := context.Background()
	bur, err := be.Burs.StartBur(ctx, b.ID, testNow)
	require.NoError(t, err)
	require.NoError(t, be.Burs.AssignBur(ctx, bur.Serial, "G01"))
	op := line.Products[0].Route[0]
	_, err = be.Burs.CompleteOperation(ctx, "G01", mes.Cycle{Seq: 7, Serial: bur.Serial, Program: op.Program, ProgramVersion: op.ProgramVersion,
		WheelID: "W-11", Start: testNow, End: testNow.Add(13 * time.Minute), EnergyKWh: 0.21, PeakSpindleLoad: 61})
	require.NoError(t, err)

	rec := do(t, s, http.MethodGet, "/api/v1/burs/"+bur.Serial, "")
	requireStatus(t, http.StatusOK, rec)
	got := decode[mes.Bur](t, rec)
	assert.Equal(t, bur.Serial, got.Serial)
	assert.Equal(t, b.ID, got.Batch)
	require.Len(t, got.Operations, 1)
	assert.Equal(t, "G01", got.Operations[0].Machine)
	assert.Equal(t, op.Program, got.Operations[0].Program)
	assert.Equal(t, uint64(7), got.Operations[0].CycleSeq)
	assert.InDelta(t, 780, got.Operations[0].CycleS, 0.001)
	assert.Equal(t, 1, got.NextOp)

	rec = do(t, s, http.MethodGet, "/api/v1/batches/"+b.ID+"/burs", "")
	requireStatus(t, http.StatusOK, rec)
	list := decode[burList](t, rec)
	assert.Equal(t, b.ID, list.Batch)
	require.Len(t, list.Burs, 1)
	assert.Equal(t, bur.Serial, list.Burs[0].Serial)

	// A batch without burs lists none, an unknown one is 404.
	empty := seedBatch(t, s, `{"product": "500314001001014", "quantity": 1}`)
	rec = do(t, s, http.MethodGet, "/api/v1/batches/"+empty.ID+"/burs", "")
	requireStatus(t, http.StatusOK, rec)
	assert.JSONEq(t, fmt.Sprintf(`{"batch": %q, "burs": []}`, empty.ID), rec.Body.String())
	rec = do(t, s, http.MethodGet, "/api/v1/batches/B999999/burs", "")
	assertJSONError(t, rec, http.StatusNotFound, mes.ENOTFOUND, "")
	rec = do(t, s, http.MethodGet, "/api/v1/burs/"+b.ID+"-99999", "")
	assertJSONError(t, rec, http.StatusNotFound, mes.ENOTFOUND, "")
}

// machineEvents returns n state events of machine, one a minute from start.
func machineEvents(machine string, start time.Time, n int) []mes.MachineEvent {
	states := []mes.MachineState{mes.StateIdle, mes.StateLoading, mes.StateGrinding, mes.StateUnloading}
	var out []mes.MachineEvent
	for i := range n {
		at := start.Add(time.Duration(i) * time.Minute)
		out = append(out, mes.MachineEvent{Machine: machine, Kind: mes.EventState, SourceTime: at, Received: at, State: states[i%len(states)]})
	}
	return out
}

func TestEvents(t *testing.T) {
	line := MustLine(t)
	be := openBackend(t, line)
	s, _ := newTestServer(t, line, be)
	ctx := context.Background()
	start := testNow.Add(-30 * time.Minute)
	require.NoError(t, be.Events.Publish(ctx, machineEvents("G01", start, 10)...))
	require.NoError(t, be.Events.Publish(ctx, machineEvents("G02", start, 5)...))
	require.NoError(t, be.Events.Publish(ctx, mes.MachineEvent{Machine: "G02", Kind: mes.EventAlarmRaised, SourceTime: start.Add(90 * time.Second),
		Alarm: &mes.Alarm{Seq: 1, Code: "E2103", Text: "Spindle overload", Severity: 700, Raised: start.Add(90 * time.Second)}}))

	// Defaults: the last hour, every machine and kind.
	rec := do(t, s, http.MethodGet, "/api/v1/events", "")
	requireStatus(t, http.StatusOK, rec)
	page := decode[eventPage](t, rec)
	assert.Len(t, page.Events, 16)
	assert.False(t, page.More)
	assert.Equal(t, testNow.Add(-time.Hour), page.From.UTC())
	assert.Equal(t, testNow, page.To.UTC())
	for i := 1; i < len(page.Events); i++ {
		assert.False(t, page.Events[i].SourceTime.Before(page.Events[i-1].SourceTime), "ordered by source time")
	}

	rec = do(t, s, http.MethodGet, "/api/v1/events?machine=G02&kind=alarm_raised", "")
	requireStatus(t, http.StatusOK, rec)
	page = decode[eventPage](t, rec)
	require.Len(t, page.Events, 1)
	assert.Equal(t, "E2103", page.Events[0].Alarm.Code)

	q := url.Values{"machine": {"G01"}, "limit": {"4"}, "from": {start.Format(time.RFC3339)}, "to": {testNow.Format(time.RFC3339)}}
	rec = do(t, s, http.MethodGet, "/api/v1/events?"+q.Encode(), "")
	requireStatus(t, http.StatusOK, rec)
	page = decode[eventPage](t, rec)
	require.Len(t, page.Events, 4)
	assert.True(t, page.More)
	require.NotNil(t, page.Next)
	assert.Equal(t, start.Add(4*time.Minute), page.Next.UTC())

	// Following Next reads the rest.
	q.Set("from", page.Next.Format(time.RFC3339Nano))
	q.Set("limit", "100")
	rec = do(t, s, http.MethodGet, "/api/v1/events?"+q.Encode(), "")
	requireStatus(t, http.StatusOK, rec)
	page = decode[eventPage](t, rec)
	assert.Len(t, page.Events, 6)
	assert.False(t, page.More)
	assert.Nil(t, page.Next)
}

func TestKPI(t *testing.T) {
	line := MustLine(t)
	s, _ := newTestServer(t, line, openBackend(t, line))
	var got []kpi.Query
	s.KPI = func(_ context.Context, q kpi.Query) (*kpi.Report, error) {
		got = append(got, q)
		return &kpi.Report{From: q.From, To: q.To, Machine: q.Machine, Takt: kpi.TaktReport{TargetS: 180, LastS: 176}}, nil
	}

	rec := do(t, s, http.MethodGet, "/api/v1/kpi", "")
	requireStatus(t, http.StatusOK, rec)
	rep := decode[kpi.Report](t, rec)
	assert.InDelta(t, 176, rep.Takt.LastS, 0)
	require.Len(t, got, 1)
	assert.Equal(t, kpi.Query{From: testNow.Add(-8 * time.Hour), To: testNow}, got[0], "default: the last 8 h")

	rec = do(t, s, http.MethodGet, "/api/v1/kpi?from=2026-03-01T06:00:00Z&to=2026-03-01T14:00:00%2B01:00&machine=G07&shift=A&last_n=20", "")
	requireStatus(t, http.StatusOK, rec)
	require.Len(t, got, 2)
	assert.True(t, got[1].From.Equal(time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)))
	assert.True(t, got[1].To.Equal(time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)))
	assert.Equal(t, "G07", got[1].Machine)
	assert.Equal(t, "A", got[1].Shift)
	assert.Equal(t, 20, got[1].LastN)

	rec = do(t, s, http.MethodGet, "/api/v1/kpi?group=FLT", "")
	requireStatus(t, http.StatusOK, rec)
	assert.Equal(t, "FLT", got[2].Group)
}

// TestKPI_Computed runs the real kpi.Compute behind the endpoint.
func TestKPI_Computed(t *testing.T) {
	line := MustLine(t)
	be := openBackend(t, line)
	s, _ := newTestServer(t, line, be)
	ctx := context.Background()
	start := testNow.Add(-2 * time.Hour)
	require.NoError(t, be.Events.Publish(ctx,
		mes.MachineEvent{Machine: "G01", Kind: mes.EventState, SourceTime: start, State: mes.StateGrinding},
		mes.MachineEvent{Machine: "G01", Kind: mes.EventState, SourceTime: start.Add(30 * time.Minute), State: mes.StateAlarm},
		mes.MachineEvent{Machine: "G01", Kind: mes.EventState, SourceTime: start.Add(60 * time.Minute), State: mes.StateGrinding},
	))
	q := url.Values{"from": {start.Format(time.RFC3339)}, "to": {testNow.Format(time.RFC3339)}, "machine": {"G01"}}
	rec := do(t, s, http.MethodGet, "/api/v1/kpi?"+q.Encode(), "")
	requireStatus(t, http.StatusOK, rec)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	for _, k := range []string{"takt", "cycle_time", "oee", "downtime", "energy"} {
		assert.Contains(t, raw, k)
	}
	rep := decode[kpi.Report](t, rec)
	assert.Equal(t, "G01", rep.Machine)
	assert.InDelta(t, 7200, rep.PeriodS, 0.001)
}

func TestLine(t *testing.T) {
	line := MustLine(t)
	s, _ := newTestServer(t, line, openBackend(t, line))
	seedProduct(t, s)
	running := seedBatch(t, s, `{"product": "500314001001014", "quantity": 5, "state": "released"}`)
	seedBatch(t, s, `{"product": "500314001001014", "quantity": 5}`) // planned: not on the line

	rec := do(t, s, http.MethodGet, "/api/v1/line", "")
	requireStatus(t, http.StatusOK, rec)
	var body struct {
		Grinders []map[string]any `json:"grinders"`
		Batches  []batchView      `json:"batches"`
		Takt     LineTakt         `json:"takt"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Len(t, body.Grinders, 25)
	for i, g := range body.Grinders {
		assert.Equal(t, fmt.Sprintf("G%02d", i+1), g["id"])
		assert.NotEmpty(t, g["state"])
	}
	require.Len(t, body.Batches, 1)
	assert.Equal(t, running.ID, body.Batches[0].ID)
	assert.InDelta(t, 180, body.Takt.TargetS, 0.001)
}

func TestBackup(t *testing.T) {
	line := MustLine(t)
	be := openBackend(t, line)
	s, _ := newTestServer(t, line, be)
	seedProduct(t, s)

	rec := do(t, s, http.MethodGet, "/api/v1/backup", "")
	requireStatus(t, http.StatusOK, rec)
	assert.Equal(t, "application/octet-stream", rec.Header().Get("Content-Type"))
	assert.Equal(t, `attachment; filename="pilotline-20260302T100000Z.db"`, rec.Header().Get("Content-Disposition"))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	require.NotEmpty(t, rec.Body.Bytes())
	assert.Equal(t, fmt.Sprint(rec.Body.Len()), rec.Result().Trailer.Get("X-Pilotline-Backup-Bytes"))
	checkBackup(t, rec.Body.Bytes(), line.Products[0].ISO)
}

func TestHealth(t *testing.T) {
	line := MustLine(t)
	mem := newMemStore(line)
	s, _ := newTestServer(t, line, backendOf(mem))
	rec := do(t, s, http.MethodGet, "/healthz", "")
	requireStatus(t, http.StatusOK, rec)
	var h struct {
		Status      string         `json:"status"`
		Store       map[string]any `json:"store"`
		Acquisition map[string]any `json:"acquisition"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &h))
	assert.Equal(t, HealthOK, h.Status)
	assert.Equal(t, HealthOK, h.Store["status"])
	assert.Equal(t, "unknown", h.Acquisition["status"])

	// the line's clock (simulated at --speed, say) runs ten hours ahead:
	// uptime is the process's, on the wall clock
	s.LineClock = mes.LineClockFrom(func() time.Time { return testNow.Add(10 * time.Hour) })
	rec = do(t, s, http.MethodGet, "/healthz", "")
	var up struct {
		Uptime   float64   `json:"uptime_s"`
		Time     time.Time `json:"time"`
		LineTime time.Time `json:"line_time"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &up))
	assert.Less(t, up.Uptime, 3600.0, "uptime on the wall clock")
	assert.Equal(t, testNow.UTC(), up.Time, "time is the wall clock's")
	assert.Equal(t, testNow.Add(10*time.Hour).UTC(), up.LineTime, "line time is the line's")

	s.Health = func(context.Context) map[string]any {
		return map[string]any{"acquisition": map[string]any{"status": "lost", "machines_ok": 20}, "status": "ok"}
	}
	rec = do(t, s, http.MethodGet, "/healthz", "")
	requireStatus(t, http.StatusOK, rec)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &h))
	assert.Equal(t, HealthDegraded, h.Status, "a component down degrades, and Health cannot override the verdict")
	assert.Equal(t, "lost", h.Acquisition["status"])
	assert.InDelta(t, 20, h.Acquisition["machines_ok"], 0)

	mem.fail = fmt.Errorf("bolt: database not open")
	rec = do(t, s, http.MethodGet, "/healthz", "")
	requireStatus(t, http.StatusServiceUnavailable, rec)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &h))
	assert.Equal(t, HealthDown, h.Status)
	assert.Equal(t, HealthDown, h.Store["status"])
	assert.NotContains(t, rec.Body.String(), "bolt", "internal details stay in the log")
}

func TestMetrics(t *testing.T) {
	line := MustLine(t)
	s, _ := newTestServer(t, line, openBackend(t, line))
	seedProduct(t, s)
	do(t, s, http.MethodGet, "/api/v1/batches/B000042", "")
	do(t, s, http.MethodGet, "/api/v1/nowhere/"+strings.Repeat("x", 20), "")
	require.NoError(t, s.Metrics.Publish(context.Background(), machineEvents("G01", testNow, 3)...))
	s.Metrics.EventsIngested(mes.EventCycle, 2)
	s.Metrics.BurCompleted(mes.BurGood)
	s.Metrics.BurCompleted(mes.BurScrap)
	s.Metrics.SetGrinderStates(map[mes.MachineState]int{mes.StateGrinding: 20, mes.StateIdle: 5})
	s.Metrics.SetGrinderStates(map[mes.MachineState]int{mes.StateGrinding: 24, mes.StateAlarm: 1})
	s.Metrics.SetAcquisitionConnected(true)

	rec := do(t, s, http.MethodGet, "/metrics", "")
	requireStatus(t, http.StatusOK, rec)
	body := rec.Body.String()
	for _, want := range []string{
		`pilotline_http_requests_total{method="POST",route="/api/v1/products",status="201"} 1`,
		`pilotline_http_requests_total{method="GET",route="/api/v1/batches/:id",status="404"} 1`,
		`pilotline_http_request_duration_seconds_count{method="POST",route="/api/v1/products"} 1`,
		`pilotline_events_ingested_total{kind="state"} 3`,
		`pilotline_events_ingested_total{kind="cycle"} 2`,
		`pilotline_burs_completed_total{disposition="good"} 1`,
		`pilotline_burs_completed_total{disposition="scrap"} 1`,
		`pilotline_grinders{state="grinding"} 24`,
		`pilotline_grinders{state="alarm"} 1`,
		`pilotline_acquisition_connected 1`,
		`go_goroutines`,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, `pilotline_grinders{state="idle"}`, "states no longer reported are dropped")
	assert.NotContains(t, body, "xxxxxxxx", "raw paths never become labels")
	assert.NotContains(t, body, "B000042", "ids never become labels")
}

// TestLine_Twin serves the live twin snapshot with takt and batches added.
func TestLine_Twin(t *testing.T) {
	line := MustLine(t)
	s, _ := newTestServer(t, line, openBackend(t, line))
	hub := twin.NewHub(line, twin.HubOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); hub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	s.Twin = hub
	seedProduct(t, s)
	b := seedBatch(t, s, `{"product": "500314001001014", "quantity": 5, "state": "released"}`)

	require.NoError(t, hub.Publish(ctx, mes.MachineEvent{Machine: "G05", Kind: mes.EventState, SourceTime: testNow, Received: testNow, State: mes.StateGrinding}))
	require.Eventually(t, func() bool {
		for _, g := range hub.Snapshot().Grinders {
			if g.ID == "G05" {
				return g.State == mes.StateGrinding
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "the hub folds the event")

	rec := do(t, s, http.MethodGet, "/api/v1/line", "")
	requireStatus(t, http.StatusOK, rec)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	for _, k := range []string{"grinders", "robots", "production", "takt", "batches"} {
		assert.Contains(t, raw, k)
	}
	var body struct {
		Grinders []struct {
			ID    string           `json:"id"`
			State mes.MachineState `json:"state"`
		} `json:"grinders"`
		Batches []batchView `json:"batches"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Len(t, body.Grinders, 25)
	assert.Equal(t, "G05", body.Grinders[4].ID)
	assert.Equal(t, mes.StateGrinding, body.Grinders[4].State)
	assert.Equal(t, mes.StateOffline, body.Grinders[0].State)
	require.Len(t, body.Batches, 1)
	assert.Equal(t, b.ID, body.Batches[0].ID)
}
