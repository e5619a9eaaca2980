package ui

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// newFastLineServer is a test server whose line runs at --speed 3600 (an
// hour of line time per real second) against a fake wall clock.
func newFastLineServer(t *testing.T) (*Server, *clock) {
	t.Helper()
	s, _ := newAuthServer(t)
	wall := &clock{t: testNow}
	s.WallClock = mes.NewWallClock(wall.Now)
	s.LineClock = mes.NewLineClock(testNow, 3600, s.WallClock)
	return s, wall
}

func TestSession_LastsTwelveRealHoursAtSpeed3600(t *testing.T) {
	s, wall := newFastLineServer(t)
	mustUser(t, s, "li.wei", mes.RoleEngineer, "")
	rec := send(t, s, http.MethodPost, "/api/v1/login", `{"user":"li.wei","password":"`+testPassword+`"}`)
	requireStatus(t, http.StatusOK, rec)
	info := decode[SessionInfo](t, rec)
	assert.Equal(t, testNow.Add(DefaultSessionTTL), info.Expires.UTC(), "expires 12 h of wall time after sign-in")
	b := browser{cookies: rec.Result().Cookies(), csrf: info.CSRFToken}

	wall.Add(6 * time.Minute) // 6 real minutes: 360 h of line time
	require.True(t, s.LineClock.Now().Sub(testNow) >= 360*time.Hour)
	requireStatus(t, http.StatusOK, b.do(t, s, false, http.MethodGet, "/api/v1/me", ""))
	wall.Add(DefaultSessionTTL - 7*time.Minute)
	requireStatus(t, http.StatusOK, b.do(t, s, false, http.MethodGet, "/api/v1/me", ""))
	wall.Add(time.Minute)
	assertJSONError(t, b.do(t, s, false, http.MethodGet, "/api/v1/me", ""), http.StatusUnauthorized, mes.EUNAUTHORIZED, "")

	// The sign-in's audit entry is on wall time, with the login's own time.
	var found bool
	for e, err := range s.Audit.AuditEntries(context.Background(), mes.AuditFilter{}) {
		require.NoError(t, err)
		if e.Action == mes.AuditLogin && e.Actor == "li.wei" {
			found = true
			assert.Equal(t, mes.WallTime, e.TimeBase())
			assert.Equal(t, testNow, e.Time)
		}
	}
	assert.True(t, found, "the sign-in is audited")
}

func TestLoginLimit_OnWallTimeAtSpeed3600(t *testing.T) {
	s, wall := newFastLineServer(t)
	mustUser(t, s, "li.wei", mes.RoleEngineer, "")
	codes := map[int]int{}
	for range 30 { // 30 wrong passwords in 8 real seconds: 8 line hours
		wall.Add(8 * time.Second / 30)
		codes[send(t, s, http.MethodPost, "/api/v1/login", `{"user":"li.wei","password":"wrong password"}`).Code]++
	}
	assert.Equal(t, DefaultLoginAttempts, codes[http.StatusUnauthorized])
	assert.Equal(t, 30-DefaultLoginAttempts, codes[http.StatusTooManyRequests])
	wall.Add(DefaultLoginWindow)
	requireStatus(t, http.StatusOK, send(t, s, http.MethodPost, "/api/v1/login", `{"user":"li.wei","password":"`+testPassword+`"}`))
}

func TestAPIToken_ExpiresOnWallTimeAtSpeed3600(t *testing.T) {
	s, wall := newFastLineServer(t)
	mustUser(t, s, "li.wei", mes.RoleEngineer, "")
	b := login(t, s, "li.wei", testPassword)
	rec := b.do(t, s, true, http.MethodPost, "/api/v1/tokens", `{"name": "bridge", "expires_in_days": 1}`)
	requireStatus(t, http.StatusCreated, rec)
	nt := decode[NewToken](t, rec)
	assert.Equal(t, testNow.Add(24*time.Hour), nt.Token.Expires.UTC())

	wall.Add(23 * time.Hour) // 23 real hours: 9.4 years of line time
	requireStatus(t, http.StatusOK, send(t, s, http.MethodGet, "/api/v1/me", "", bearer(nt.Secret)...))
	wall.Add(time.Hour)
	assertJSONError(t, send(t, s, http.MethodGet, "/api/v1/me", "", bearer(nt.Secret)...), http.StatusUnauthorized, mes.EUNAUTHORIZED, "expired")
}

func TestESignaturePasswordLimit_OnWallTimeAtSpeed3600(t *testing.T) {
	f := newQAFixture(t)
	s, id := f.s, f.batch.ID
	wall := &clock{t: testNow}
	s.WallClock = mes.NewWallClock(wall.Now)
	s.LineClock = mes.NewLineClock(testNow, 3600, s.WallClock)
	codes := map[int]int{}
	for range 30 { // 30 wrong passwords in 8 real seconds: 8 line hours
		wall.Add(8 * time.Second / 30)
		codes[do(t, s, http.MethodPost, "/api/v1/batches/"+id+"/sign", `{"user":"qa1","password":"wrong password!","meaning":"reviewed"}`, bearer(f.qa)...).Code]++
	}
	assert.Equal(t, DefaultLoginAttempts, codes[http.StatusUnauthorized])
	assert.Equal(t, 30-DefaultLoginAttempts, codes[http.StatusTooManyRequests])
}
