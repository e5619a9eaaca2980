package ui

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

func TestPasswordHash(t *testing.T) {
	ctx := context.Background()
	h1, err := HashPassword(ctx, testPassword, testPasswordParams)
	require.NoError(t, err)
	h2, err := HashPassword(ctx, testPassword, testPasswordParams)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h1, "$argon2id$v=19$m=64,t=1,p=1$"), h1)
	assert.NotEqual(t, h1, h2, "a fresh salt each time")

	ok, err := VerifyPassword(ctx, h1, testPassword)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = VerifyPassword(ctx, h1, testPassword+"!")
	require.NoError(t, err)
	assert.False(t, ok)

	// The default parameters are recorded in the hash they make.
	hd, err := HashPassword(ctx, "x", DefaultPasswordParams)
	require.NoError(t, err)
	assert.Contains(t, hd, "$m=47104,t=2,p=1$")

	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		strings.Replace(h1, "t=1", "t=0", 1), h1[:len(h1)-10] + "!!!!"} {
		ok, err := VerifyPassword(ctx, bad, testPassword)
		assert.Error(t, err, bad)
		assert.False(t, ok)
	}
	_, err = HashPassword(ctx, "x", PasswordParams{})
	assert.Error(t, err)
}

// newAuthServer is a test server with a settable clock and its audit store.
func newAuthServer(t *testing.T, opts ...func(*Server)) (*Server, *clock) {
	t.Helper()
	line := MustLine(t)
	s, _ := newTestServer(t, line, openBackend(t, line))
	clk := &clock{t: testNow}
	s.LineClock, s.WallClock = mes.LineClockFrom(clk.Now), mes.NewWallClock(clk.Now)
	for _, o := range opts {
		o(s)
	}
	return s, clk
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestLogin_SessionCookiesCSRFLogout(t *testing.T) {
	s, _ := newAuthServer(t)
	mustUser(t, s, "li.wei", mes.RoleEngineer, "")

	// Wrong password and unknown user answer alike.
	wrong := send(t, s, http.MethodPost, "/api/v1/login", `{"user":"li.wei","password":"wrong password!"}`)
	unknown := send(t, s, http.MethodPost, "/api/v1/login", `{"user":"nobody","password":"wrong password!"}`)
	assertJSONError(t, wrong, http.StatusUnauthorized, mes.EUNAUTHORIZED, "wrong user or password")
	assert.Equal(t, wrong.Body.String(), unknown.Body.String())
	assert.Empty(t, wrong.Result().Cookies())

	// Bad requests.
	assertJSONError(t, send(t, s, http.MethodPost, "/api/v1/login", `{"user":"li.wei"}`), 400, mes.EINVALID, "required")
	assertJSONError(t, send(t, s, http.MethodPost, "/api/v1/login", `{"user":"li.wei","password":"x","remember":true}`), 400, mes.EINVALID, "unknown field")

	rec := send(t, s, http.MethodPost, "/api/v1/login", `{"user":"li.wei","password":"`+testPassword+`"}`)
	requireStatus(t, http.StatusOK, rec)
	info := decode[SessionInfo](t, rec)
	assert.Equal(t, "li.wei", info.User.ID)
	assert.NotContains(t, rec.Body.String(), "argon2id", "the hash never leaves the server")
	cookies := map[string]*http.Cookie{}
	for _, c := range rec.Result().Cookies() {
		cookies[c.Name] = c
	}
	sc, cc := cookies[SessionCookie], cookies[CSRFCookie]
	require.NotNil(t, sc)
	require.NotNil(t, cc)
	assert.True(t, sc.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, sc.SameSite)
	assert.False(t, sc.Secure, "plain HTTP: Secure would lose the cookie")
	assert.Len(t, sc.Value, 43, "256 random bits")
	assert.False(t, cc.HttpOnly, "the page's scripts read it")
	assert.Equal(t, http.SameSiteStrictMode, cc.SameSite)
	assert.Equal(t, info.CSRFToken, cc.Value)
	b := browser{cookies: rec.Result().Cookies(), csrf: info.CSRFToken}

	// The store keeps only the hash of the session id.
	_, err := s.Sessions.FindSession(context.Background(), sc.Value, testNow)
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))

	rec = b.do(t, s, false, http.MethodGet, "/api/v1/me", "")
	requireStatus(t, http.StatusOK, rec)
	assert.Equal(t, "li.wei", decode[SessionInfo](t, rec).User.ID)
	assert.Equal(t, info.CSRFToken, decode[SessionInfo](t, rec).CSRFToken)

	// A cookie-authenticated write needs the CSRF header: missing or wrong → 403, nothing stored.
	body := `{"product": "500314001001014", "quantity": 2}`
	seedProduct(t, s)
	assertJSONError(t, b.do(t, s, false, http.MethodPost, "/api/v1/batches", body), http.StatusForbidden, mes.EFORBIDDEN, "CSRF")
	assertJSONError(t, b.do(t, s, false, http.MethodPost, "/api/v1/batches", body, CSRFHeader, "forged"), http.StatusForbidden, mes.EFORBIDDEN, "CSRF")
	list, err := s.Batches.ListBatches(context.Background(), mes.BatchFilter{})
	require.NoError(t, err)
	assert.Empty(t, list)
	requireStatus(t, http.StatusCreated, b.do(t, s, true, http.MethodPost, "/api/v1/batches", body))

	// Logout needs the CSRF header too (it changes state), then the session is gone.
	assertJSONError(t, b.do(t, s, false, http.MethodPost, "/api/v1/logout", ""), http.StatusForbidden, mes.EFORBIDDEN, "CSRF")
	rec = b.do(t, s, true, http.MethodPost, "/api/v1/logout", "")
	requireStatus(t, http.StatusNoContent, rec)
	for _, c := range rec.Result().Cookies() {
		assert.Negative(t, c.MaxAge, "%s cleared", c.Name)
	}
	assertJSONError(t, b.do(t, s, false, http.MethodGet, "/api/v1/me", ""), http.StatusUnauthorized, mes.EUNAUTHORIZED, "sign in")
	requireStatus(t, http.StatusNoContent, send(t, s, http.MethodPost, "/api/v1/logout", ""))
}

func TestSession_Expiry(t *testing.T) {
	s, clk := newAuthServer(t, func(s *Server) { s.SessionTTL = time.Hour })
	mustUser(t, s, "li.wei", mes.RoleEngineer, "")
	b := login(t, s, "li.wei", testPassword)
	clk.Add(59 * time.Minute)
	requireStatus(t, http.StatusOK, b.do(t, s, false, http.MethodGet, "/api/v1/me", ""))
	clk.Add(time.Minute)
	assertJSONError(t, b.do(t, s, false, http.MethodGet, "/api/v1/me", ""), http.StatusUnauthorized, mes.EUNAUTHORIZED, "")
}

func TestSession_EndsWhenDisabledOrReset(t *testing.T) {
	s, _ := newAuthServer(t)
	mustUser(t, s, "li.wei", mes.RoleEngineer, "")
	mustUser(t, s, "chen", mes.RoleQA, "")
	b := login(t, s, "li.wei", testPassword)
	other := login(t, s, "chen", testPassword)
	tok := mustToken(t, s, &mes.User{ID: "li.wei"})

	rec := do(t, s, http.MethodPatch, "/api/v1/users/chen", `{"password": "a new long password", "reason": "forgotten"}`)
	requireStatus(t, http.StatusOK, rec)
	assertJSONError(t, other.do(t, s, false, http.MethodGet, "/api/v1/me", ""), http.StatusUnauthorized, mes.EUNAUTHORIZED, "")
	login(t, s, "chen", "a new long password")

	requireStatus(t, http.StatusOK, do(t, s, http.MethodPatch, "/api/v1/users/li.wei", `{"disabled": true}`))
	assertJSONError(t, b.do(t, s, false, http.MethodGet, "/api/v1/me", ""), http.StatusUnauthorized, mes.EUNAUTHORIZED, "")
	assertJSONError(t, send(t, s, http.MethodGet, "/api/v1/me", "", bearer(tok)...), http.StatusUnauthorized, mes.EUNAUTHORIZED, "")
	assertJSONError(t, send(t, s, http.MethodPost, "/api/v1/login", `{"user":"li.wei","password":"`+testPassword+`"}`),
		http.StatusUnauthorized, mes.EUNAUTHORIZED, "wrong user or password")
}

func TestBearerTokens(t *testing.T) {
	s, _ := newAuthServer(t)
	mustUser(t, s, "li.wei", mes.RoleEngineer, "")
	mustUser(t, s, "chen", mes.RoleEngineer, "")
	b := login(t, s, "li.wei", testPassword)

	rec := b.do(t, s, true, http.MethodPost, "/api/v1/tokens", `{"name": "MES bridge", "expires_in_days": 30}`)
	requireStatus(t, http.StatusCreated, rec)
	nt := decode[NewToken](t, rec)
	assert.True(t, strings.HasPrefix(nt.Secret, "plt_"))
	assert.Equal(t, "li.wei", nt.Token.User)
	assert.Equal(t, testNow.Add(30*24*time.Hour), nt.Token.Expires.UTC())
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))

	// Use it: no cookie, no CSRF header needed.
	rec = send(t, s, http.MethodGet, "/api/v1/me", "", bearer(nt.Secret)...)
	requireStatus(t, http.StatusOK, rec)
	assert.Equal(t, "li.wei", decode[SessionInfo](t, rec).User.ID)
	assert.Empty(t, decode[SessionInfo](t, rec).CSRFToken)
	requireStatus(t, http.StatusCreated, send(t, s, http.MethodPost, "/api/v1/products", demoProductJSON(t, s.Line), bearer(nt.Secret)...))

	// The list never shows the secret or its hash.
	rec = send(t, s, http.MethodGet, "/api/v1/tokens", "", bearer(nt.Secret)...)
	requireStatus(t, http.StatusOK, rec)
	assert.NotContains(t, rec.Body.String(), nt.Secret)
	assert.NotContains(t, rec.Body.String(), mes.HashSecret(nt.Secret))
	require.Len(t, decode[tokenList](t, rec).Tokens, 1)

	// Someone else's token is not found, exactly like a token that does not exist.
	chen := mustToken(t, s, &mes.User{ID: "chen"})
	foreign := send(t, s, http.MethodDelete, "/api/v1/tokens/T000003", "", bearer(nt.Secret)...) // chen's (admin has T000001)
	missing := send(t, s, http.MethodDelete, "/api/v1/tokens/T000099", "", bearer(nt.Secret)...)
	assert.Equal(t, http.StatusNotFound, foreign.Code)
	assert.Equal(t, strings.ReplaceAll(missing.Body.String(), "T000099", "ID"), strings.ReplaceAll(foreign.Body.String(), "T000003", "ID"))
	requireStatus(t, http.StatusOK, send(t, s, http.MethodGet, "/api/v1/me", "", bearer(chen)...))

	// Revoke: it stops working at once.
	rec = send(t, s, http.MethodDelete, "/api/v1/tokens/"+nt.Token.ID, "", bearer(nt.Secret)...)
	requireStatus(t, http.StatusOK, rec)
	assert.False(t, decode[mes.APIToken](t, rec).Revoked.IsZero())
	rec = send(t, s, http.MethodGet, "/api/v1/me", "", bearer(nt.Secret)...)
	assertJSONError(t, rec, http.StatusUnauthorized, mes.EUNAUTHORIZED, "revoked")
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")

	for _, h := range []string{"Bearer nope", "Basic YWRtaW46YWRtaW4=", "Bearer plt_" + strings.Repeat("A", 43)} {
		assertJSONError(t, send(t, s, http.MethodGet, "/api/v1/me", "", "Authorization", h), http.StatusUnauthorized, mes.EUNAUTHORIZED, "")
	}

	// Expiry.
	tok := mes.NewSecret(mes.TokenPrefix)
	require.NoError(t, s.Tokens.CreateToken(context.Background(), &mes.APIToken{User: "chen", Hash: mes.HashSecret(tok), Expires: testNow}))
	assertJSONError(t, send(t, s, http.MethodGet, "/api/v1/me", "", bearer(tok)...), http.StatusUnauthorized, mes.EUNAUTHORIZED, "expired")

	// Bad requests store nothing.
	for _, body := range []string{`{}`, `{"name": "x", "expires_in_days": -1}`, `{"name": "x", "expires_in_days": 99999}`, `{"name": "x", "scope": "all"}`} {
		assertJSONError(t, send(t, s, http.MethodPost, "/api/v1/tokens", body, bearer(chen)...), http.StatusBadRequest, mes.EINVALID, "")
	}
	ts, err := s.Tokens.ListTokens(context.Background(), "chen")
	require.NoError(t, err)
	assert.Len(t, ts, 2, "chen's helper token and the expired one")
}

func TestLoginRateLimit(t *testing.T) {
	s, clk := newAuthServer(t)
	mustUser(t, s, "li.wei", mes.RoleEngineer, "")
	mustUser(t, s, "chen", mes.RoleEngineer, "")
	attempt := func(user, pw, ip string) *httpResult {
		req := newRequest(http.MethodPost, "/api/v1/login", `{"user":"`+user+`","password":"`+pw+`"}`)
		req.RemoteAddr = ip + ":40000"
		return serve(s, req)
	}
	for i := range DefaultLoginAttempts {
		r := attempt("li.wei", "wrong password", "192.0.2.1")
		require.Equal(t, http.StatusUnauthorized, r.Code, "attempt %d", i+1)
	}
	r := attempt("li.wei", testPassword, "192.0.2.9") // right password, other address: the user is locked for now
	assertJSONError(t, r.ResponseRecorder, http.StatusTooManyRequests, CodeTooManyRequests, "too many")
	assert.Equal(t, "60", r.Header().Get("Retry-After"))
	// The address is limited too, whatever the name.
	assert.Equal(t, http.StatusTooManyRequests, attempt("chen", testPassword, "192.0.2.1").Code)
	// Others are not.
	assert.Equal(t, http.StatusOK, attempt("chen", testPassword, "192.0.2.2").Code)

	clk.Add(DefaultLoginWindow)
	assert.Equal(t, http.StatusOK, attempt("li.wei", testPassword, "192.0.2.1").Code)
	// Successful sign-ins do not count: a shift signing in behind one address.
	for range 2 * DefaultLoginAttempts {
		assert.Equal(t, http.StatusOK, attempt("chen", testPassword, "192.0.2.3").Code)
	}
}

func TestRoleMatrix(t *testing.T) {
	s, _ := newAuthServer(t)
	seedProduct(t, s)
	mustUser(t, s, "cust", mes.RoleCustomer, "acme")
	b := seedBatch(t, s, `{"product": "500314001001014", "quantity": 2, "org": "acme"}`)
	tokens := map[mes.Role]string{}
	for _, r := range everyone {
		tokens[r] = mustToken(t, s, mustUser(t, s, "u-"+string(r), r, map[bool]string{true: "acme"}[r == mes.RoleCustomer]))
	}
	const A, E, Q, C = 1, 2, 4, 8 // roles admitted
	routes := []struct {
		method, target, body string
		allowed              int
	}{
		{"GET", "/api/v1/me", "", A | E | Q | C},
		{"GET", "/api/v1/line", "", A | E | Q},
		{"GET", "/api/v1/products", "", A | E | Q | C},
		{"POST", "/api/v1/products", `{}`, A | E},
		{"GET", "/api/v1/batches", "", A | E | Q | C},
		{"POST", "/api/v1/batches", `{}`, A | E},
		{"GET", "/api/v1/batches/" + b.ID, "", A | E | Q | C},
		{"POST", "/api/v1/batches/" + b.ID + "/release", `{"by": "nobody"}`, A | E},
		{"POST", "/api/v1/batches/" + b.ID + "/hold", `{"by": "nobody"}`, A | E | Q},
		{"POST", "/api/v1/batches/" + b.ID + "/qa-release", `{"by": "nobody"}`, A | Q},
		{"POST", "/api/v1/batches/" + b.ID + "/reject", `{"by": "nobody"}`, A | Q},
		{"GET", "/api/v1/kpi", "", A | E | Q},
		{"GET", "/api/v1/events", "", A | E | Q},
		{"GET", "/api/v1/backup?x=1", "", A},
		{"GET", "/metrics", "", A | E | Q},
		{"GET", "/api/v1/orgs", "", A},
		{"POST", "/api/v1/orgs", `{}`, A},
		{"GET", "/api/v1/users", "", A},
		{"POST", "/api/v1/users", `{}`, A},
		{"PATCH", "/api/v1/users/cust", `{}`, A},
		{"GET", "/api/v1/tokens", "", A | E | Q | C},
		{"POST", "/api/v1/tokens", `{}`, A | E | Q | C},
	}
	bit := map[mes.Role]int{mes.RoleAdmin: A, mes.RoleEngineer: E, mes.RoleQA: Q, mes.RoleCustomer: C}
	before := dump(t, backend{Products: s.Products, Batches: s.Batches, Burs: s.Burs, Events: s.Events})
	for _, rt := range routes {
		for _, role := range everyone {
			rec := send(t, s, rt.method, rt.target, rt.body, bearer(tokens[role])...)
			if rt.allowed&bit[role] != 0 {
				assert.NotContains(t, []int{401, 403}, rec.Code, "%s %s as %s: %s", rt.method, rt.target, role, rec.Body.String())
			} else {
				assert.Equal(t, http.StatusForbidden, rec.Code, "%s %s as %s: %s", rt.method, rt.target, role, rec.Body.String())
			}
			// Anonymous: always 401.
			assert.Equal(t, http.StatusUnauthorized, send(t, s, rt.method, rt.target, rt.body).Code, "%s %s anonymous", rt.method, rt.target)
		}
	}
	assert.Equal(t, before, dump(t, backend{Products: s.Products, Batches: s.Batches, Burs: s.Burs, Events: s.Events}),
		"the writes above were all refused or invalid")
}
