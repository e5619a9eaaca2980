package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// MustRunServe starts `pilotline serve` in-process on free ports with a
// fresh data directory and returns it once the web view listens.
func MustRunServe(tb testing.TB, args ...string) *ServeMain {
	tb.Helper()
	var out bytes.Buffer
	m := NewServeMain(&out, &bytes.Buffer{})
	all := append([]string{"--http", "127.0.0.1:0", "--data", tb.TempDir(), "--log-level", "warn",
		"--anonymous-viewer", "--admin-password-env", "PILOTLINE_TEST_ADMIN_PASSWORD"}, args...)
	os.Setenv("PILOTLINE_TEST_ADMIN_PASSWORD", testAdminPassword)
	// Later flags win, so callers may override --http and --data.
	require.NoError(tb, m.ParseFlags(context.Background(), all))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case <-m.Ready():
	case err := <-done:
		cancel()
		require.NoError(tb, err)
		tb.Fatal("serve stopped before it was ready")
	case <-time.After(60 * time.Second):
		cancel()
		tb.Fatal("serve did not become ready")
	}
	var once sync.Once
	var stopErr error
	m.stop = func() error {
		once.Do(func() {
			cancel()
			<-done
			stopErr = m.Close()
		})
		return stopErr
	}
	tb.Cleanup(func() { assert.NoError(tb, m.stop()) })
	return m
}

// testAdminPassword is the first admin's password in end-to-end tests.
const testAdminPassword = "grinding-wheel-dressing-42"

// login signs in as the admin and returns a client carrying the session.
func login(tb testing.TB, base string) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(tb, err)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	body := fmt.Sprintf(`{"user":"admin","password":%q}`, testAdminPassword)
	resp, err := c.Post(base+"api/v1/login", "application/json", strings.NewReader(body))
	require.NoError(tb, err)
	resp.Body.Close()
	require.Equal(tb, http.StatusOK, resp.StatusCode, "admin sign-in")
	return c
}

// getJSON fetches url into v with the default (anonymous) client.
func getJSON(tb testing.TB, url string, v any) int {
	tb.Helper()
	return getJSONWith(tb, http.DefaultClient, url, v)
}

// getJSONWith fetches url into v with c and returns the status code.
func getJSONWith(tb testing.TB, c *http.Client, url string, v any) int {
	tb.Helper()
	resp, err := c.Get(url)
	require.NoError(tb, err)
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		require.NoError(tb, json.NewDecoder(resp.Body).Decode(v))
	}
	return resp.StatusCode
}

// eventually polls f every 200 ms until it returns true or the wait ends.
func eventually(tb testing.TB, wait time.Duration, what string, f func() bool) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	tb.Fatalf("gave up waiting for %s after %v", what, wait)
}

type batchList struct {
	Batches []struct {
		ID        string `json:"id"`
		State     string `json:"state"`
		Quantity  int    `json:"quantity"`
		Completed int    `json:"completed"`
	} `json:"batches"`
}

// TestServe_LineProducesBurs runs the whole MES against the simulated line
// over OPC UA and checks that the demo batch makes good burs with a full
// genealogy, that the line view lists 25 grinders, and that KPIs fill.
func TestServe_LineProducesBurs(t *testing.T) {
	m := MustRunServe(t, "--speed", "400")
	base := m.URL()

	var line struct {
		Grinders []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"grinders"`
	}
	require.Equal(t, http.StatusOK, getJSON(t, base+"api/v1/line", &line))
	assert.Len(t, line.Grinders, 25)

	var batchID string
	eventually(t, 90*time.Second, "a good bur", func() bool {
		var bl batchList
		if getJSON(t, base+"api/v1/batches", &bl) != http.StatusOK || len(bl.Batches) == 0 {
			return false
		}
		batchID = bl.Batches[0].ID
		return bl.Batches[0].Completed > 0
	})

	var burs struct {
		Burs []struct {
			Serial      string `json:"serial"`
			Disposition string `json:"disposition"`
		} `json:"burs"`
	}
	staff := login(t, base)
	require.Equal(t, http.StatusUnauthorized, getJSON(t, base+"api/v1/batches/"+batchID+"/burs", nil), "genealogy is not for anonymous viewers")
	require.Equal(t, http.StatusOK, getJSONWith(t, staff, base+"api/v1/batches/"+batchID+"/burs", &burs))
	var good string
	for _, b := range burs.Burs {
		if b.Disposition == "good" {
			good = b.Serial
			break
		}
	}
	require.NotEmpty(t, good, "a good bur in the batch's list")

	var bur struct {
		Serial     string `json:"serial"`
		Operations []struct {
			Number  int     `json:"number"`
			Machine string  `json:"machine"`
			Program string  `json:"program"`
			CycleS  float64 `json:"cycle_s"`
		} `json:"operations"`
		Results []struct {
			Pass bool `json:"pass"`
		} `json:"results"`
	}
	// The measurement makes a bur good; the inspection operation's own
	// record closes a moment later, when the robot unloads the station.
	eventually(t, 30*time.Second, "the inspection operation of "+good, func() bool {
		return getJSONWith(t, staff, base+"api/v1/burs/"+good, &bur) == http.StatusOK && len(bur.Operations) == 5
	})
	require.Len(t, bur.Operations, 5, "one genealogy record per operation of the route")
	wantGroupRow := map[int][]string{10: {"G01", "G02", "G03", "G04", "G05"}, 20: {"G06", "G07", "G08", "G09", "G10"}, 40: {"G21", "G22", "G23", "G24", "G25"}, 50: {"QC1"}}
	for _, op := range bur.Operations {
		if want, ok := wantGroupRow[op.Number]; ok {
			assert.Contains(t, want, op.Machine, "operation %d ran on a machine of its group", op.Number)
		}
		assert.NotEmpty(t, op.Program)
		assert.Greater(t, op.CycleS, 0.0)
	}
	assert.Len(t, bur.Results, 5, "five measured characteristics")

	var kpi map[string]any
	require.Equal(t, http.StatusOK, getJSONWith(t, staff, fmt.Sprintf("%sapi/v1/kpi", base), &kpi))
	assert.Contains(t, kpi, "takt")
	assert.Contains(t, kpi, "oee")

	var health struct {
		Acquisition struct {
			Machines  int                 `json:"machines"`
			Connected int                 `json:"connected"`
			Lacks     map[string][]string `json:"lacks"`
		} `json:"acquisition"`
	}
	require.Equal(t, http.StatusOK, getJSON(t, base+"healthz", &health))
	assert.Empty(t, health.Acquisition.Lacks, "the simulated line serves every capability")
	eventually(t, 30*time.Second, "pilotline_acquisition_connected 1", func() bool {
		resp, err := staff.Get(base + "metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "\npilotline_acquisition_connected 1\n")
	})
}
