package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// writeConfig writes the default line configuration changed by f.
func writeConfig(t *testing.T, f func(m map[string]any)) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(fixtures.LineJSON, &m))
	f(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "line.json")
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

func TestRun_Usage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no command", nil, 2, "", "Usage:"},
		{"help", []string{"help"}, 0, "Commands:", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"serve help", []string{"serve", "--help"}, 0, "", "--http"},
		{"sim help", []string{"sim", "--help"}, 0, "", "--autorun"},
		{"unknown flag", []string{"serve", "--nope"}, 2, "", "flag provided but not defined: -nope"},
		{"bad speed", []string{"serve", "--speed", "-1"}, 2, "", "--speed"},
		{"bad mode", []string{"serve", "--mode", "push"}, 2, "", "--mode"},
		{"missing config", []string{"serve", "--config", "/nonexistent/line.json"}, 2, "", "line config"},
		{"backup without -o", []string{"backup"}, 2, "", "-o: output file required"},
		{"version", []string{"version"}, 0, "pilotline", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(tt.args...)
			assert.Equal(t, tt.wantCode, code, "stderr: %s", errs)
			assert.Contains(t, out, tt.wantOut)
			assert.Contains(t, errs, tt.wantErr)
		})
	}
}

// TestRun_BadConfig checks that a bad configuration stops the start with one
// line naming the field, and nothing is started or written.
func TestRun_BadConfig(t *testing.T) {
	machine := func(m map[string]any, i int) map[string]any { return m["machines"].([]any)[i].(map[string]any) }
	tests := []struct {
		name string
		f    func(m map[string]any)
		want string
	}{
		{"unknown field", func(m map[string]any) { m["grinderz"] = 25 }, `unknown field "grinderz"`},
		{"duplicate machine id", func(m map[string]any) { machine(m, 2)["id"] = "G02" }, `machines[2].id: duplicate id "G02"`},
		{"bad endpoint URL", func(m map[string]any) {
			m["endpoints"] = []any{map[string]any{"id": "E1", "url": "opc.tcp://nohost"}}
		}, "endpoints[0].url"},
		{"missing route", func(m map[string]any) { delete(m["products"].([]any)[0].(map[string]any), "route") }, "route: missing"},
		{"empty map target", func(m map[string]any) { machine(m, 0)["map"] = map[string]any{"program.state": ""} }, "machines[0].map.program.state: empty browse path or node id"},
		{"duplicate model", func(m map[string]any) {
			m["models"] = []any{map[string]any{"id": "TG", "map": map[string]any{}}, map[string]any{"id": "TG", "map": map[string]any{}}}
		}, `models[1].id: duplicate model "TG"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			code, out, errs := runCLI("serve", "--config", writeConfig(t, tt.f), "--data", data, "--http", "127.0.0.1:0")
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(errs), "\n")+1, "one line on stderr: %q", errs)
			assert.Contains(t, errs, tt.want)
			entries, err := os.ReadDir(data)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing written to the data directory")
		})
	}
}

func TestProbe_Usage(t *testing.T) {
	code, out, errs := runCLI("probe")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Contains(t, errs, "--url: required")
	code, _, errs = runCLI("probe", "--url", "http://127.0.0.1:1", "--data", t.TempDir())
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "--url")
}

// TestSim_PrintsEndpoints runs `pilotline sim` and reads the endpoint lines.
func TestSim_PrintsEndpoints(t *testing.T) {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"sim", "--port-base", "0", "--log-level", "error"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var urls []string
	for len(urls) < 27 && sc.Scan() {
		urls = append(urls, sc.Text())
	}
	cancel()
	go io.Copy(io.Discard, pr)
	assert.Equal(t, 0, <-done)
	require.Len(t, urls, 27, "25 grinders, the inspection station and the robot cell, each its own endpoint")
	seen := map[string]bool{}
	for _, u := range urls {
		assert.True(t, strings.HasPrefix(u, "opc.tcp://127.0.0.1:"), u)
		assert.False(t, seen[u], "endpoint %s printed twice", u)
		seen[u] = true
	}
}
