package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/twin"
)

// tenants is a server with two customer organisations, each with a
// released batch that has started a bur, and a customer user each.
type tenants struct {
	s                  *Server
	acme, beta         *mes.Batch
	acmeBur, betaBur   *mes.Bur
	acmeUser, betaUser string // bearer tokens
	betaToken          string // id of a token of the beta customer
}

func newTenants(t *testing.T) *tenants {
	t.Helper()
	s, _ := newAuthServer(t)
	ctx := context.Background()
	seedProduct(t, s)
	tt := &tenants{s: s}
	for _, org := range []string{"acme", "beta"} {
		tok := mustToken(t, s, mustUser(t, s, "cust-"+org, mes.RoleCustomer, org))
		bv := seedBatch(t, s, `{"product": "500314001001014", "quantity": 3, "org": "`+org+`", "state": "released"}`)
		bur, err := s.Burs.StartBur(ctx, bv.ID, testNow)
		require.NoError(t, err)
		if org == "acme" {
			tt.acme, tt.acmeBur, tt.acmeUser = bv.Batch, bur, tok
		} else {
			tt.beta, tt.betaBur, tt.betaUser = bv.Batch, bur, tok
		}
	}
	ts, err := s.Tokens.ListTokens(ctx, "cust-beta")
	require.NoError(t, err)
	require.Len(t, ts, 1)
	tt.betaToken = ts[0].ID
	return tt
}

// TestTenantIsolation asks, as the acme customer, for each beta object on
// every endpoint that names one, and for an id that does not exist: the two
// answers must be identical but for the id itself.
func TestTenantIsolation(t *testing.T) {
	tt := newTenants(t)
	s := tt.s
	const missingBatch, missingSerial, missingToken = "B999999", "B999999-00001", "T000999"
	type endpoint struct {
		method, target, body string
	}
	endpoints := []struct {
		name             string
		foreign, missing endpoint
		foreignID        string
		missingID        string
	}{}
	add := func(name, method, pattern, body, foreignID, missingID string) {
		endpoints = append(endpoints, struct {
			name             string
			foreign, missing endpoint
			foreignID        string
			missingID        string
		}{name, endpoint{method, strings.ReplaceAll(pattern, "{}", url.PathEscape(foreignID)), body},
			endpoint{method, strings.ReplaceAll(pattern, "{}", url.PathEscape(missingID)), body}, foreignID, missingID})
	}
	add("get batch", "GET", "/api/v1/batches/{}", "", tt.beta.ID, missingBatch)
	add("list batch burs", "GET", "/api/v1/batches/{}/burs", "", tt.beta.ID, missingBatch)
	add("get bur", "GET", "/api/v1/burs/{}", "", tt.betaBur.Serial, missingSerial)
	for action := range batchActions {
		add("batch "+action, "POST", "/api/v1/batches/{}/"+action, `{"reason": "test"}`, tt.beta.ID, missingBatch)
	}
	add("twin of a batch", "GET", "/ws/twin?batch={}", "", tt.beta.ID, missingBatch)
	add("revoke token", "DELETE", "/api/v1/tokens/{}", "", tt.betaToken, missingToken)
	add("patch user", "PATCH", "/api/v1/users/{}", `{"disabled": true}`, "cust-beta", "cust-nobody")

	before := dump(t, backend{Products: s.Products, Batches: s.Batches, Burs: s.Burs, Events: s.Events})
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			foreign := send(t, s, ep.foreign.method, ep.foreign.target, ep.foreign.body, bearer(tt.acmeUser)...)
			missing := send(t, s, ep.missing.method, ep.missing.target, ep.missing.body, bearer(tt.acmeUser)...)
			assert.Contains(t, []int{http.StatusNotFound, http.StatusForbidden}, foreign.Code, foreign.Body.String())
			assert.Equal(t, missing.Code, foreign.Code)
			assert.Equal(t, strings.ReplaceAll(missing.Body.String(), ep.missingID, "ID"), strings.ReplaceAll(foreign.Body.String(), ep.foreignID, "ID"))
			assert.NotContains(t, foreign.Body.String(), "beta")
		})
	}
	assert.Equal(t, before, dump(t, backend{Products: s.Products, Batches: s.Batches, Burs: s.Burs, Events: s.Events}))
	_, err := s.Tokens.FindTokenByHash(context.Background(), mes.HashSecret(tt.betaUser))
	require.NoError(t, err, "beta's token still works")

	// The same objects are there for their own customer and for staff.
	for _, target := range []string{"/api/v1/batches/" + tt.beta.ID, "/api/v1/batches/" + tt.beta.ID + "/burs", "/api/v1/burs/" + url.PathEscape(tt.betaBur.Serial)} {
		requireStatus(t, http.StatusOK, send(t, s, "GET", target, "", bearer(tt.betaUser)...))
		requireStatus(t, http.StatusOK, do(t, s, "GET", target, ""))
	}

	// Lists filter: a customer sees its own organisation's batches only,
	// and asking for another organisation's gives an empty list.
	for _, target := range []string{"/api/v1/batches", "/api/v1/batches?org=beta", "/api/v1/batches?org=acme&state=released"} {
		rec := send(t, s, "GET", target, "", bearer(tt.acmeUser)...)
		requireStatus(t, http.StatusOK, rec)
		for _, b := range decode[batchList](t, rec).Batches {
			assert.Equal(t, "acme", b.Org, target)
		}
		assert.NotContains(t, rec.Body.String(), tt.beta.ID, target)
	}
	rec := send(t, s, "GET", "/api/v1/batches", "", bearer(tt.acmeUser)...)
	require.Len(t, decode[batchList](t, rec).Batches, 1)
	rec = send(t, s, "GET", "/api/v1/tokens", "", bearer(tt.acmeUser)...)
	requireStatus(t, http.StatusOK, rec)
	assert.NotContains(t, rec.Body.String(), "cust-beta")
}

// TestTwin_CustomerFiltered opens /ws/twin as each customer: the stream is
// forced onto their own batch, whatever they ask for.
func TestTwin_CustomerFiltered(t *testing.T) {
	tt := newTenants(t)
	s := tt.s
	s.echo = nil // rebuild the routes with the hub
	hub := twin.NewHub(s.Line, twin.HubOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); hub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	s.Twin = hub
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/twin"

	first := func(t *testing.T, query string, h http.Header) (twin.Snapshot, *http.Response, error) {
		t.Helper()
		conn, resp, err := websocket.DefaultDialer.Dial(wsURL+query, h)
		if err != nil {
			return twin.Snapshot{}, resp, err
		}
		defer conn.Close()
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		var snap twin.Snapshot
		require.NoError(t, conn.ReadJSON(&snap))
		return snap, resp, nil
	}
	auth := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

	for _, query := range []string{"", "?grinders=G01,G02", "?batch=" + tt.acme.ID} {
		snap, _, err := first(t, query, auth(tt.acmeUser))
		require.NoError(t, err, query)
		require.NotNil(t, snap.Filter, query)
		assert.Equal(t, tt.acme.ID, snap.Filter.Batch, query)
	}
	snap, _, err := first(t, "", auth(tt.betaUser))
	require.NoError(t, err)
	assert.Equal(t, tt.beta.ID, snap.Filter.Batch)

	_, resp, err := first(t, "?batch="+tt.beta.ID, auth(tt.acmeUser))
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Staff see the whole line unfiltered; anonymous callers nothing.
	snap, _, err = first(t, "", auth(adminToken(t, s)))
	require.NoError(t, err)
	assert.Nil(t, snap.Filter)
	_, resp, err = first(t, "", nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// A customer whose organisation has no batch yet gets 404, not the line.
	tok := mustToken(t, s, mustUser(t, s, "cust-gamma", mes.RoleCustomer, "gamma"))
	_, resp, err = first(t, "", auth(tok))
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func adminToken(tb testing.TB, s *Server) string {
	tb.Helper()
	tok, ok := adminTokens.Load(s)
	require.True(tb, ok)
	return tok.(string)
}

func TestAnonymousViewer(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[on], func(t *testing.T) {
			s, _ := newAuthServer(t, func(s *Server) { s.AnonymousViewer = on })
			seedProduct(t, s)
			mustOrg(t, s, "acme")
			b := seedBatch(t, s, `{"product": "500314001001014", "quantity": 3, "org": "acme", "state": "released"}`)

			view := map[bool]int{false: http.StatusUnauthorized, true: http.StatusOK}[on]
			for _, target := range []string{"/api/v1/line", "/api/v1/batches", "/app.js"} {
				assert.Equal(t, view, send(t, s, "GET", target, "").Code, target)
			}
			page := send(t, s, "GET", "/", "", "Accept", "text/html")
			if on {
				requireStatus(t, http.StatusOK, page)
				rec := send(t, s, "GET", "/api/v1/batches", "")
				assert.Contains(t, rec.Body.String(), b.ID)
				assert.NotContains(t, rec.Body.String(), "acme", "the customer stays behind sign-in")
				rec = send(t, s, "GET", "/api/v1/line", "")
				assert.NotContains(t, rec.Body.String(), `"org":"acme"`)
			} else {
				assert.Equal(t, http.StatusSeeOther, page.Code)
				assert.Equal(t, "/login.html?next=%2F", page.Header().Get("Location"))
			}

			// Always open: health and the sign-in page.
			requireStatus(t, http.StatusOK, send(t, s, "GET", "/healthz", ""))
			for _, f := range []string{"/login.html", "/login.js", "/login.css", "/lib/base.css", "/lib/i18n.js", "/lib/strings.json"} {
				requireStatus(t, http.StatusOK, send(t, s, "GET", f, ""))
			}
			// Never open: customer data, other reads, every write.
			for _, r := range [][2]string{
				{"GET", "/api/v1/batches/" + b.ID}, {"GET", "/api/v1/batches/" + b.ID + "/burs"}, {"GET", "/api/v1/burs/X-1"},
				{"GET", "/api/v1/kpi"}, {"GET", "/api/v1/events"}, {"GET", "/api/v1/products"}, {"GET", "/api/v1/backup"},
				{"GET", "/metrics"}, {"GET", "/api/v1/users"}, {"GET", "/api/v1/orgs"}, {"GET", "/api/v1/tokens"}, {"GET", "/api/v1/me"},
				{"POST", "/api/v1/batches"}, {"POST", "/api/v1/batches/" + b.ID + "/cancel"}, {"POST", "/api/v1/products"},
				{"HEAD", "/api/v1/kpi"}, {"GET", "/api/v1/widgets"},
			} {
				rec := send(t, s, r[0], r[1], `{}`)
				assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s %s", r[0], r[1])
			}
		})
	}
}

func TestAudit_AccessTrail(t *testing.T) {
	s, _ := newAuthServer(t)
	ctx := context.Background()
	mustUser(t, s, "li.wei", mes.RoleEngineer, "")
	login(t, s, "li.wei", testPassword)
	assert.Equal(t, http.StatusUnauthorized, send(t, s, "POST", "/api/v1/login", `{"user":"li.wei","password":"guess guess"}`).Code)
	assert.Equal(t, http.StatusUnauthorized, send(t, s, "POST", "/api/v1/login", `{"user":"mallory","password":"guess guess"}`).Code)
	eng := mustToken(t, s, &mes.User{ID: "li.wei"})
	assert.Equal(t, http.StatusForbidden, send(t, s, "GET", "/api/v1/backup", "", bearer(eng)...).Code)
	assert.Equal(t, http.StatusUnauthorized, send(t, s, "GET", "/api/v1/me", "", "Authorization", "Bearer plt_forged").Code)

	var entries []mes.AuditEntry
	for e, err := range s.Audit.AuditEntries(ctx, mes.AuditFilter{}) {
		require.NoError(t, err)
		entries = append(entries, e)
	}
	type got struct {
		Actor  string
		Action mes.AuditAction
		Object string
		Reason string
	}
	var trail []got
	for _, e := range entries {
		var v map[string]string
		_ = json.Unmarshal(e.New, &v)
		trail = append(trail, got{e.Actor, e.Action, e.ObjectType + " " + e.ObjectID, v["reason"]})
	}
	assert.Equal(t, []got{
		{"li.wei", mes.AuditLogin, "user li.wei", ""},
		{"anonymous", mes.AuditLoginFailed, "user li.wei", "wrong password"},
		{"anonymous", mes.AuditLoginFailed, "user mallory", "unknown user"},
		{"li.wei", mes.AuditDenied, "route GET /api/v1/backup", "role engineer"},
		{"anonymous", mes.AuditLoginFailed, "user (none)", "bearer token: API token unknown, expired or revoked"},
	}, trail)
	head, err := mes.VerifyChain(mes.AuditEntries(entries))
	require.NoError(t, err)
	stored, err := s.Audit.AuditHead(ctx)
	require.NoError(t, err)
	assert.Equal(t, stored, head)
	for _, e := range entries {
		assert.NotContains(t, string(e.New), "guess", "passwords never reach the trail")
	}
}

// TestAnonymousViewer_LineHidesCustomers: the twin's production figures on
// the anonymous line view carry no organisation.
func TestAnonymousViewer_LineHidesCustomers(t *testing.T) {
	s, _ := newAuthServer(t, func(s *Server) { s.AnonymousViewer = true })
	hub := twin.NewHub(s.Line, twin.HubOptions{})
	s.Twin = hub
	hub.SetProduction(twin.Production{Batches: []twin.BatchProgress{{ID: "B000001", Org: "acme", Quantity: 5}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); hub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return len(hub.Snapshot().Production.Batches) == 1 }, 10*time.Second, 5*time.Millisecond)

	rec := send(t, s, "GET", "/api/v1/line", "")
	requireStatus(t, http.StatusOK, rec)
	assert.Contains(t, rec.Body.String(), "B000001")
	assert.NotContains(t, rec.Body.String(), "acme")
	rec = do(t, s, "GET", "/api/v1/line", "")
	assert.Contains(t, rec.Body.String(), "acme", "staff see the customer")
}
