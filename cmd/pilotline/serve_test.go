package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	all := append([]string{"--http", "127.0.0.1:0", "--data", tb.TempDir(), "--log-level", "warn"}, args...)
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
	tb.Cleanup(func() {
		cancel()
		<-done
		assert.NoError(tb, m.Close())
	})
	return m
}

// getJSON fetches url into v and returns the status code.
func getJSON(tb testing.TB, url string, v any) int {
	tb.Helper()
	resp, err := http.Get(url)
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
	require.Equal(t, http.StatusOK, getJSON(t, base+"api/v1/batches/"+batchID+"/burs", &burs))
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
	require.Equal(t, http.StatusOK, getJSON(t, base+"api/v1/burs/"+good, &bur))
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
	require.Equal(t, http.StatusOK, getJSON(t, fmt.Sprintf("%sapi/v1/kpi", base), &kpi))
	assert.Contains(t, kpi, "takt")
	assert.Contains(t, kpi, "oee")
}
