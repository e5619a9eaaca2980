package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// TestServe_APIProductIsMade creates a bur type through the API, which the
// line configuration does not know, releases a batch of it and waits for
// the simulated line to make good burs of it over OPC UA.
func TestServe_APIProductIsMade(t *testing.T) {
	m := MustRunServe(t, "--speed", "400", "--no-demo")
	base := m.URL()

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
	require.Equal(t, http.StatusOK, resp.StatusCode)
	post := func(path string, v any) *http.Response {
		t.Helper()
		body, err := json.Marshal(v)
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", session.CSRF)
		resp, err := c.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	p := m.line.Products[0]
	p.ISO, p.Name, p.NameZH, p.GTIN = "500314001002014", "Round bur, API-made", "", ""
	_, inConfig := m.line.Product(p.ISO)
	require.False(t, inConfig, "the product is not in the line configuration")
	require.Equal(t, http.StatusCreated, post("api/v1/products", p).StatusCode)
	resp = post("api/v1/batches", map[string]any{"product": p.ISO, "quantity": 3, "state": "released"})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var b mes.Batch
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&b))

	eventually(t, 90*time.Second, "a good bur of the API-made product", func() bool {
		got, err := m.batches.FindBatch(context.Background(), b.ID)
		return err == nil && got.Completed > 0
	})
}
