package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// deniedEntries returns the audit trail's permission denials.
func deniedEntries(t *testing.T, s *Server) []mes.AuditEntry {
	t.Helper()
	var out []mes.AuditEntry
	for e, err := range s.Audit.AuditEntries(context.Background(), mes.AuditFilter{}) {
		require.NoError(t, err)
		if e.Action == mes.AuditDenied {
			out = append(out, e)
		}
	}
	return out
}

// TestDenials_AuditRateLimited: 50 forbidden requests by a customer are all
// refused with 403, but the permanent trail records the first few and one
// entry saying the rest go unrecorded, per window of wall time.
func TestDenials_AuditRateLimited(t *testing.T) {
	s, clk := newAuthServer(t)
	acme := mustToken(t, s, mustUser(t, s, "buyer", mes.RoleCustomer, "acme"))
	other := mustToken(t, s, mustUser(t, s, "buyer2", mes.RoleCustomer, "acme"))
	for range 50 {
		assert.Equal(t, http.StatusForbidden, send(t, s, http.MethodGet, "/api/v1/users", "", bearer(acme)...).Code)
	}
	entries := deniedEntries(t, s)
	require.Len(t, entries, DefaultLoginAttempts+1)
	var last map[string]string
	require.NoError(t, json.Unmarshal(entries[len(entries)-1].New, &last))
	assert.Contains(t, last["limited"], "not recorded")

	// Another user's denials have their own allowance.
	assert.Equal(t, http.StatusForbidden, send(t, s, http.MethodGet, "/api/v1/users", "", bearer(other)...).Code)
	assert.Len(t, deniedEntries(t, s), DefaultLoginAttempts+2)

	// A window later the customer's denials are recorded again.
	clk.Add(DefaultLoginWindow + time.Second)
	assert.Equal(t, http.StatusForbidden, send(t, s, http.MethodGet, "/api/v1/users", "", bearer(acme)...).Code)
	assert.Len(t, deniedEntries(t, s), DefaultLoginAttempts+3)
}

// TestLogin_OverALiveSession: the login page sends no CSRF header; signing
// in as someone else while a session is live switches accounts, and the old
// session is gone. Writes on a session still need the token.
func TestLogin_OverALiveSession(t *testing.T) {
	s, _ := newAuthServer(t)
	mustUser(t, s, "li.wei", mes.RoleEngineer, "")
	mustUser(t, s, "chen", mes.RoleQA, "")
	old := login(t, s, "li.wei", testPassword)

	rec := old.do(t, s, false, http.MethodPost, "/api/v1/login", `{"user":"chen","password":"`+testPassword+`"}`)
	requireStatus(t, http.StatusOK, rec)
	info := decode[SessionInfo](t, rec)
	assert.Equal(t, "chen", info.User.ID)
	chen := browser{cookies: rec.Result().Cookies(), csrf: info.CSRFToken}
	rec = chen.do(t, s, false, http.MethodGet, "/api/v1/me", "")
	requireStatus(t, http.StatusOK, rec)
	assert.Equal(t, "chen", decode[SessionInfo](t, rec).User.ID)
	assertJSONError(t, old.do(t, s, false, http.MethodGet, "/api/v1/me", ""), http.StatusUnauthorized, mes.EUNAUTHORIZED, "")

	// CSRF still guards every other write of a session.
	assertJSONError(t, chen.do(t, s, false, http.MethodPost, "/api/v1/logout", ""), http.StatusForbidden, mes.EFORBIDDEN, "CSRF")

	// A sign-in posted from another site is refused, session or not.
	for _, h := range [][]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}} {
		rec := chen.do(t, s, false, http.MethodPost, "/api/v1/login", `{"user":"li.wei","password":"`+testPassword+`"}`, h...)
		assertJSONError(t, rec, http.StatusForbidden, mes.EFORBIDDEN, "another site")
		rec = send(t, s, http.MethodPost, "/api/v1/login", `{"user":"li.wei","password":"`+testPassword+`"}`, h...)
		assertJSONError(t, rec, http.StatusForbidden, mes.EFORBIDDEN, "another site")
	}
	// The same site's Origin signs in.
	requireStatus(t, http.StatusOK, send(t, s, http.MethodPost, "/api/v1/login", `{"user":"li.wei","password":"`+testPassword+`"}`,
		"Origin", "http://example.com", "Sec-Fetch-Site", "same-origin"))
}
