package ui

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

func TestBootstrapAndSetup(t *testing.T) {
	ctx := context.Background()

	// From the environment: the admin "admin" exists, no setup token.
	acc := openAccess(t, func() time.Time { return testNow })
	_, err := Bootstrap(ctx, acc.Users, acc.Audit, "short")
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err), "the password policy applies")
	tok, err := Bootstrap(ctx, acc.Users, acc.Audit, "a long admin password")
	require.NoError(t, err)
	assert.Empty(t, tok)
	u, err := acc.Users.FindUser(ctx, BootstrapAdmin)
	require.NoError(t, err)
	assert.Equal(t, mes.RoleAdmin, u.Role)
	ok, err := VerifyPassword(ctx, u.PasswordHash, "a long admin password")
	require.NoError(t, err)
	assert.True(t, ok)
	tok, err = Bootstrap(ctx, acc.Users, acc.Audit, "another long password")
	require.NoError(t, err)
	assert.Empty(t, tok, "an admin exists: nothing to do")
	head, err := acc.Audit.AuditHead(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), head.Seq, "the first admin's creation is on the trail")

	// Without a password: a one-time setup token.
	s, _ := newAuthServer(t)
	fresh := openAccess(t, func() time.Time { return testNow })
	s.Users, s.Audit = fresh.Users, fresh.Audit
	tok, err = Bootstrap(ctx, fresh.Users, fresh.Audit, "")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(tok, "setup_"))
	s.SetupToken = tok

	body := func(token, user, pw string) string {
		return `{"token":"` + token + `","user":"` + user + `","name":"Wang Fang","password":"` + pw + `"}`
	}
	assertJSONError(t, send(t, s, "POST", "/api/v1/setup", body(tok, "wang", "short")), 400, mes.EINVALID, "password")
	assertJSONError(t, send(t, s, "POST", "/api/v1/setup", body("setup_wrong", "wang", testPassword)), 401, mes.EUNAUTHORIZED, "")
	users, err := fresh.Users.ListUsers(ctx, mes.UserFilter{})
	require.NoError(t, err)
	assert.Empty(t, users, "nothing stored by refused setups")

	rec := send(t, s, "POST", "/api/v1/setup", body(tok, "wang", testPassword))
	requireStatus(t, http.StatusCreated, rec)
	assert.Equal(t, mes.RoleAdmin, decode[mes.User](t, rec).Role)
	login(t, s, "wang", testPassword)
	// Once only.
	assertJSONError(t, send(t, s, "POST", "/api/v1/setup", body(tok, "eve", testPassword)), 401, mes.EUNAUTHORIZED, "")
}

func TestUsersAndOrgsAPI(t *testing.T) {
	s, _ := newAuthServer(t)
	ctx := context.Background()
	requireStatus(t, http.StatusCreated, do(t, s, "POST", "/api/v1/orgs", `{"id": "acme-dental", "name": "Acme Dental", "name_zh": "艾克美牙科"}`))
	assertJSONError(t, do(t, s, "POST", "/api/v1/orgs", `{"id": "acme-dental", "name": "Again"}`), 409, mes.ECONFLICT, "")
	assertJSONError(t, do(t, s, "POST", "/api/v1/orgs", `{"id": "Acme Dental", "name": "x"}`), 400, mes.EINVALID, "slug")
	rec := do(t, s, "GET", "/api/v1/orgs", "")
	requireStatus(t, http.StatusOK, rec)
	assert.Len(t, decode[orgList](t, rec).Orgs, 1)

	bad := []string{
		`{"id": "zhang", "name": "Zhang", "role": "customer", "password": "` + testPassword + `"}`,                      // no org
		`{"id": "zhang", "name": "Zhang", "role": "customer", "org": "nobody", "password": "` + testPassword + `"}`,     // unknown org
		`{"id": "zhang", "name": "Zhang", "role": "customer", "org": "acme-dental", "password": "short"}`,               // password
		`{"id": "zhang", "name": "Zhang", "role": "root", "password": "` + testPassword + `"}`,                          // role
		`{"id": "zhang", "name": "Zhang", "role": "qa", "email": "not an address", "password": "` + testPassword + `"}`, // email
		`{"id": "zhang", "name": "Zhang", "role": "qa", "password": "` + testPassword + `", "password_hash": "x"}`,      // unknown field
		`{"id": "../etc", "name": "Zhang", "role": "qa", "password": "` + testPassword + `"}`,                           // id
	}
	for _, b := range bad {
		rec := do(t, s, "POST", "/api/v1/users", b)
		assert.Equal(t, http.StatusBadRequest, rec.Code, "%s: %s", b, rec.Body.String())
	}
	users, err := s.Users.ListUsers(ctx, mes.UserFilter{})
	require.NoError(t, err)
	assert.Len(t, users, 1, "only the test admin")

	rec = do(t, s, "POST", "/api/v1/users", `{"id": "zhang", "name": "张伟", "email": "zhang@acme.example", "role": "customer", "org": "acme-dental", "password": "`+testPassword+`"}`)
	requireStatus(t, http.StatusCreated, rec)
	assert.NotContains(t, rec.Body.String(), "argon2")
	login(t, s, "zhang", testPassword)

	rec = do(t, s, "GET", "/api/v1/users?org=acme-dental", "")
	requireStatus(t, http.StatusOK, rec)
	assert.Len(t, decode[userList](t, rec).Users, 1)
	assert.NotContains(t, rec.Body.String(), "argon2")

	// Patches: validated whole, nothing stored on a bad one.
	for _, b := range []string{`{}`, `{"reason": "x"}`, `{"role": "root"}`, `{"role": "engineer"}`, `{"password": "short"}`, `{"org": "nobody"}`} {
		rec := do(t, s, "PATCH", "/api/v1/users/zhang", b)
		assert.Equal(t, http.StatusBadRequest, rec.Code, "%s: %s", b, rec.Body.String())
	}
	got, err := s.Users.FindUser(ctx, "zhang")
	require.NoError(t, err)
	assert.Equal(t, mes.RoleCustomer, got.Role)
	assertJSONError(t, do(t, s, "PATCH", "/api/v1/users/nobody", `{"disabled": true}`), 404, mes.ENOTFOUND, "")
	assertJSONError(t, do(t, s, "PATCH", "/api/v1/users/"+testAdmin, `{"disabled": true}`), 409, mes.ECONFLICT, "themselves")

	rec = do(t, s, "PATCH", "/api/v1/users/zhang", `{"role": "engineer", "org": "", "reason": "joined the plant"}`)
	requireStatus(t, http.StatusOK, rec)
	assert.Equal(t, mes.RoleEngineer, decode[mes.User](t, rec).Role)
	var last mes.AuditEntry
	for e, err := range s.Audit.AuditEntries(ctx, mes.AuditFilter{ObjectType: mes.AuditObjectUser, ObjectID: "zhang"}) {
		require.NoError(t, err)
		last = e
	}
	assert.Equal(t, mes.AuditChange, last.Action)
	assert.Equal(t, "joined the plant", last.Reason)
	assert.Contains(t, string(last.Old), `"customer"`)
}

// TestTLS serves HTTPS from a certificate file; the session cookie is Secure.
func TestTLS(t *testing.T) {
	certFile, keyFile := writeTestCert(t)
	s, _ := newAuthServer(t, func(s *Server) { s.TLSCert, s.TLSKey = certFile, keyFile })
	mustUser(t, s, "li.wei", mes.RoleEngineer, "")
	require.NoError(t, s.Open())
	t.Cleanup(func() { s.Close() })
	require.True(t, strings.HasPrefix(s.URL(), "https://127.0.0.1:"), s.URL())

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the test's own certificate
	resp, err := client.Get(s.URL() + "healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = client.Post(s.URL()+"api/v1/login", "application/json", strings.NewReader(`{"user":"li.wei","password":"`+testPassword+`"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, resp.Cookies())
	for _, c := range resp.Cookies() {
		assert.True(t, c.Secure, c.Name)
	}

	bad := &Server{Addr: "127.0.0.1:0", TLSCert: certFile}
	assert.Error(t, bad.Open(), "a certificate without its key")
}

func writeTestCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pilotline test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile
}
