package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReportFromStoreFile(t *testing.T) {
	dir := signedStore(t)
	out := t.TempDir()
	for _, f := range []struct{ format, starts string }{
		{"json", "{"}, {"html", "<!DOCTYPE html>"}, {"pdf", "%PDF-"},
	} {
		path := filepath.Join(out, "report."+f.format)
		code, stdout, stderr := runCLI("report", "--data", dir, "--batch", "B000001", "--format", f.format, "-o", path)
		require.Equal(t, 0, code, "%s %s", stdout, stderr)
		assert.Contains(t, stdout, "report of B000001 written")
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(data, []byte(f.starts)), "%s starts %q", f.format, data[:min(len(data), 20)])
		if f.format == "json" {
			var r struct {
				Batch   string `json:"batch"`
				Verdict struct {
					Checks []json.RawMessage `json:"checks"`
				} `json:"verdict"`
			}
			require.NoError(t, json.Unmarshal(data, &r))
			assert.Equal(t, "B000001", r.Batch)
			assert.NotEmpty(t, r.Verdict.Checks)
		}
	}

	code, _, stderr := runCLI("report", "--data", dir, "--batch", "B000099", "-o", filepath.Join(out, "x.pdf"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "B000099")
	_, err := os.Stat(filepath.Join(out, "x.pdf"))
	assert.True(t, os.IsNotExist(err), "no file left behind")

	code, _, stderr = runCLI("report", "--data", dir, "--batch", "B000001", "--format", "docx", "-o", filepath.Join(out, "x"))
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--format")
	code, _, stderr = runCLI("report", "--batch", "B000001", "-o", filepath.Join(out, "x"), "--url", "http://127.0.0.1:1")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--token")
}

func TestReportFromAPI(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Header().Set("Content-Type", "application/pdf")
		_, _ = w.Write([]byte("%PDF-1.3 report"))
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "r.pdf")
	code, stdout, stderr := runCLI("report", "--url", srv.URL, "--token", "tok", "--batch", "B000001", "--volume", "500000", "-o", path)
	require.Equal(t, 0, code, "%s %s", stdout, stderr)
	require.NotNil(t, got)
	assert.Equal(t, "/api/v1/batches/B000001/report", got.URL.Path)
	assert.Equal(t, "pdf", got.URL.Query().Get("format"))
	assert.Equal(t, "500000", got.URL.Query().Get("volume"))
	assert.Equal(t, "Bearer tok", got.Header.Get("Authorization"))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "%PDF-1.3 report", string(data))
}
