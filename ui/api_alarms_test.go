package ui

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/twin"
)

// TestAPI_AckAlarm: staff acknowledge an active alarm once; the twin shows
// who and when, the audit trail records it, a second acknowledgement
// answers with the first, and bad requests change nothing.
func TestAPI_AckAlarm(t *testing.T) {
	line := MustLine(t)
	s, _ := newTestServer(t, line, backend{})
	hub := twin.NewHub(line, twin.HubOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go hub.Run(ctx)
	s.Twin = hub
	eng := mustToken(t, s, mustUser(t, s, "wang.gong", mes.RoleEngineer, ""))
	buyer := mustToken(t, s, mustUser(t, s, "buyer", mes.RoleCustomer, "acme"))

	alarm := mes.Alarm{Seq: 7, Code: "E2103", Text: "Spindle overload", Severity: 700, Raised: testNow}
	require.NoError(t, hub.Publish(ctx, mes.MachineEvent{Machine: "G03", Kind: mes.EventAlarmRaised, SourceTime: testNow, Alarm: &alarm}))
	require.Eventually(t, func() bool { _, _, ok := hub.FindAlarm("G03", 7); return ok }, 5*time.Second, 5*time.Millisecond)

	for _, tc := range []struct {
		name, tok, body string
		want            int
	}{
		{"customer", buyer, `{"machine":"G03","seq":7}`, http.StatusForbidden},
		{"anonymous", "", `{"machine":"G03","seq":7}`, http.StatusUnauthorized},
		{"not active", eng, `{"machine":"G03","seq":8}`, http.StatusNotFound},
		{"unknown machine", eng, `{"machine":"G99","seq":7}`, http.StatusNotFound},
		{"bad id", eng, `{"machine":"../x","seq":7}`, http.StatusBadRequest},
		{"no seq", eng, `{"machine":"G03"}`, http.StatusBadRequest},
		{"unknown field", eng, `{"machine":"G03","seq":7,"by":"someone"}`, http.StatusBadRequest},
	} {
		h := []string{"Content-Type", "application/json"}
		if tc.tok != "" {
			h = append(h, bearer(tc.tok)...)
		}
		rec := send(t, s, "POST", "/api/v1/alarms/ack", tc.body, h...)
		assert.Equal(t, tc.want, rec.Code, "%s: %s", tc.name, rec.Body.String())
	}
	_, ack, _ := hub.FindAlarm("G03", 7)
	assert.Nil(t, ack, "refused requests acknowledge nothing")

	rec := send(t, s, "POST", "/api/v1/alarms/ack", `{"machine":"G03","seq":7}`, append(bearer(eng), "Content-Type", "application/json")...)
	requireStatus(t, http.StatusOK, rec)
	got := decode[ackAnswer](t, rec)
	assert.False(t, got.Already)
	assert.Equal(t, "wang.gong", got.Ack.By)
	assert.Equal(t, testNow.UTC(), got.Ack.At)
	require.Eventually(t, func() bool { _, a, _ := hub.FindAlarm("G03", 7); return a != nil }, 5*time.Second, 5*time.Millisecond)
	g := hub.Snapshot().Grinders[2]
	require.Equal(t, "G03", g.ID)
	require.Len(t, g.Acks, 1, "every viewer's snapshot carries it")
	assert.Equal(t, "wang.gong", g.Acks[0].By)

	again := decode[ackAnswer](t, send(t, s, "POST", "/api/v1/alarms/ack", `{"machine":"G03","seq":7}`, append(bearer(eng), "Content-Type", "application/json")...))
	assert.True(t, again.Already)
	assert.Equal(t, got.Ack, again.Ack, "the first acknowledgement stands")

	n := 0
	for e, err := range s.Audit.AuditEntries(ctx, mes.AuditFilter{ObjectType: AuditObjectAlarm}) {
		require.NoError(t, err)
		n++
		assert.Equal(t, "G03/7", e.ObjectID)
		assert.Equal(t, "wang.gong", e.Actor)
		assert.Equal(t, mes.AuditCreate, e.Action)
	}
	assert.Equal(t, 1, n, "one audit entry, for the first acknowledgement")
}
