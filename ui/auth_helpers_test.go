package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// testPasswordParams make test sign-ins cheap; DefaultPasswordParams are
// measured by BenchmarkPasswordHash.
var testPasswordParams = PasswordParams{Time: 1, MemoryK: 64, Threads: 1}

// testPassword is every test user's password.
const testPassword = "correct horse battery"

// mustOrg stores the organisation id unless it exists.
func mustOrg(tb testing.TB, s *Server, id string) {
	tb.Helper()
	ctx := context.Background()
	if _, err := s.Orgs.FindOrg(ctx, id); mes.ErrorCode(err) == mes.ENOTFOUND {
		require.NoError(tb, s.Orgs.CreateOrg(ctx, &mes.Org{ID: id, Name: strings.ToUpper(id)}))
	}
}

// mustUser stores a user with testPassword directly in the account store.
func mustUser(tb testing.TB, s *Server, id string, role mes.Role, org string) *mes.User {
	tb.Helper()
	ctx := context.Background()
	if org != "" {
		mustOrg(tb, s, org)
	}
	hash, err := HashPassword(ctx, testPassword, s.PasswordParams)
	require.NoError(tb, err)
	u := &mes.User{ID: id, Name: id, Role: role, Org: org, PasswordHash: hash}
	require.NoError(tb, s.Users.CreateUser(ctx, u))
	return u
}

// mustToken returns a new bearer token of u.
func mustToken(tb testing.TB, s *Server, u *mes.User) string {
	tb.Helper()
	secret := mes.NewSecret(mes.TokenPrefix)
	require.NoError(tb, s.Tokens.CreateToken(context.Background(), &mes.APIToken{User: u.ID, Name: "test", Hash: mes.HashSecret(secret)}))
	return secret
}

// asAdmin signs req in as the test server's admin.
func asAdmin(tb testing.TB, s *Server, req *http.Request) {
	tb.Helper()
	tok, ok := adminTokens.Load(s)
	require.True(tb, ok, "not a newTestServer")
	req.Header.Set("Authorization", "Bearer "+tok.(string))
}

// bearer is the header pair for a token.
func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// browser is a signed-in browser session: its cookies and CSRF token.
type browser struct {
	cookies []*http.Cookie
	csrf    string
}

// login signs in through the API and returns the browser.
func login(tb testing.TB, s *Server, user, password string) browser {
	tb.Helper()
	rec := send(tb, s, http.MethodPost, "/api/v1/login", `{"user":"`+user+`","password":"`+password+`"}`)
	requireStatus(tb, http.StatusOK, rec)
	info := decode[SessionInfo](tb, rec)
	require.NotEmpty(tb, info.CSRFToken)
	return browser{cookies: rec.Result().Cookies(), csrf: info.CSRFToken}
}

// cookieHeader is the Cookie header the browser sends.
func (b browser) cookieHeader() string {
	var parts []string
	for _, c := range b.cookies {
		if c.MaxAge >= 0 && c.Value != "" {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	return strings.Join(parts, "; ")
}

// do sends a request as the browser: cookies, and the CSRF header when withCSRF.
func (b browser) do(tb testing.TB, s *Server, withCSRF bool, method, target, body string, header ...string) *httptest.ResponseRecorder {
	tb.Helper()
	h := append([]string{"Cookie", b.cookieHeader()}, header...)
	if withCSRF {
		h = append(h, CSRFHeader, b.csrf)
	}
	return send(tb, s, method, target, body, h...)
}

// httpResult is a recorded response.
type httpResult struct{ *httptest.ResponseRecorder }

// newRequest builds a request with a JSON body (if any).
func newRequest(method, target, body string) *http.Request {
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, target, nil)
	} else {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// serve runs req through s.
func serve(s *Server, req *http.Request) *httpResult {
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return &httpResult{rec}
}
