package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes/bolt"
)

// adminAPIToken signs in to a running server as the admin and returns a
// new bearer token.
func adminAPIToken(t *testing.T, base string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Post(base+"api/v1/login", "application/json", strings.NewReader(`{"user":"admin","password":"`+testAdminPassword+`"}`))
	require.NoError(t, err)
	var session struct {
		CSRF string `json:"csrf_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&session))
	resp.Body.Close()
	req, err := http.NewRequest(http.MethodPost, base+"api/v1/tokens", strings.NewReader(`{"name":"cli"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", session.CSRF)
	resp, err = c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var tok struct {
		Secret string `json:"secret"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	require.NotEmpty(t, tok.Secret)
	return tok.Secret
}

// TestCLI_AgainstRunningServer: backup and verify reach a running server
// with --token or $PILOTLINE_TOKEN, and the locked store is "could not
// open" (exit 3), never "altered" (exit 1).
func TestCLI_AgainstRunningServer(t *testing.T) {
	m := MustRunServe(t, "--speed", "400")
	base := m.URL()
	tok := adminAPIToken(t, base)

	// Backup with --token, then with $PILOTLINE_TOKEN.
	out := filepath.Join(t.TempDir(), "copy.db")
	code, stdout, stderr := runCLI("backup", "--url", base, "--token", tok, "-o", out)
	require.Equal(t, exitOK, code, "%s %s", stdout, stderr)
	assert.Contains(t, stdout, "backup written: "+out)
	cp, err := bolt.Open(out, bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	ps, err := bolt.NewProductService(cp).ListProducts(context.Background())
	require.NoError(t, err)
	assert.NotEmpty(t, ps, "the copy holds the demo product")
	require.NoError(t, cp.Close())

	t.Setenv("PILOTLINE_TOKEN", tok)
	out2 := filepath.Join(t.TempDir(), "copy2.db")
	code, stdout, stderr = runCLI("backup", "--url", base, "-o", out2)
	require.Equal(t, exitOK, code, "%s %s", stdout, stderr)

	// A wrong token is refused and leaves no file.
	out3 := filepath.Join(t.TempDir(), "copy3.db")
	code, _, stderr = runCLI("backup", "--url", base, "--token", "plt_wrong", "-o", out3)
	assert.Equal(t, exitFailed, code, stderr)
	assert.Contains(t, stderr, "401")
	_, err = os.Stat(out3)
	assert.True(t, os.IsNotExist(err))

	// The server verifies its own store.
	code, stdout, stderr = runCLI("verify", "--url", base, "--token", tok)
	require.Equal(t, exitOK, code, "%s %s", stdout, stderr)
	assert.Contains(t, stdout, "store "+base+": ")
	assert.Contains(t, stdout, "OK: no alteration found")
	code, _, stderr = runCLI("verify", "--url", base, "--token", "plt_wrong")
	assert.Equal(t, exitCannotOpen, code, stderr)

	// The store file is locked by the server: could not open, not altered.
	code, stdout, stderr = runCLI("verify", "--data", m.DataDir)
	assert.Equal(t, exitCannotOpen, code, "%s %s", stdout, stderr)
	assert.Contains(t, stderr, "could not open the store")
	assert.NotContains(t, stdout, "ALTERED")

	// Nothing listens: could not open.
	t.Setenv("PILOTLINE_TOKEN", "")
	code, _, stderr = runCLI("verify", "--url", "http://127.0.0.1:1", "--token", tok)
	assert.Equal(t, exitCannotOpen, code, stderr)
	code, _, _ = runCLI("backup", "--url", base, "-o", out3)
	assert.Equal(t, exitUsage, code, "--url without a token")
	code, _, _ = runCLI("verify", "--url", base, "--data", m.DataDir, "--token", tok)
	assert.Equal(t, exitUsage, code)
}
