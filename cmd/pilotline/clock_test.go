package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type healthReport struct {
	Time     time.Time `json:"time"`
	LineTime time.Time `json:"line_time"`
}

type batchHistory struct {
	ID          string `json:"id"`
	Transitions []struct {
		To string    `json:"to"`
		At time.Time `json:"at"`
	} `json:"transitions"`
	Created time.Time `json:"created"`
}

// TestServe_LineTimeAcrossRestart runs the line at --speed 3600, where line
// time runs an hour per real second ahead of the wall clock, restarts it on
// the same data directory and checks that line time continues rather than
// falling back to the wall clock, that the demo batch's history reads in the
// order it happened, and that a quote is made after its booking and expires
// after it is made.
func TestServe_LineTimeAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	m := MustRunServe(t, "--speed", "3600", "--data", dir)
	base := m.URL()

	var h healthReport
	var b batchHistory
	eventually(t, 60*time.Second, "the demo batch running, line time an hour ahead", func() bool {
		var bl struct {
			Batches []batchHistory `json:"batches"`
		}
		if getJSON(t, base+"api/v1/batches", &bl) != http.StatusOK || len(bl.Batches) == 0 {
			return false
		}
		b = bl.Batches[0]
		return len(b.Transitions) >= 3 && getJSON(t, base+"healthz", &h) == http.StatusOK && h.LineTime.Sub(h.Time) > time.Hour
	})
	want := []string{"released", "running"}
	for i, tr := range b.Transitions {
		if i > 0 {
			assert.False(t, tr.At.Before(b.Transitions[i-1].At), "%s at %v is stamped before %s at %v", tr.To, tr.At, b.Transitions[i-1].To, b.Transitions[i-1].At)
		}
		if i >= 1 && i <= len(want) {
			assert.Equal(t, want[i-1], tr.To)
		}
	}
	assert.False(t, b.Transitions[0].At.Before(b.Created))

	// A quote made on the running line: after its booking, expiring after it is made.
	admin := login(t, base)
	u, err := url.Parse(base)
	require.NoError(t, err)
	var csrf string
	for _, c := range admin.Jar.Cookies(u) {
		if c.Name == "pilotline_csrf" {
			csrf = c.Value
		}
	}
	post := func(path, body string) (int, []byte) {
		req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewBufferString(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := admin.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, raw
	}
	code, raw := post("api/v1/orgs", `{"id":"acme","name":"ACME Dental"}`)
	require.Equal(t, http.StatusCreated, code, "%s", raw)
	start := h.LineTime.Add(72 * time.Hour).UTC().Truncate(time.Hour)
	body := fmt.Sprintf(`{"org":"acme","product":"500314001001014","quantity":50,"qa":{"characteristics":["head_diameter"],"sampling":{"mode":"per_lot","n":2,"lot":10}},"earliest_start":%q,"deadline":%q}`,
		start.Format(time.RFC3339), start.Add(60*24*time.Hour).Format(time.RFC3339))
	code, raw = post("api/v1/bookings", body)
	var bk struct {
		Created time.Time `json:"created"`
		Quote   *struct {
			Quoted  time.Time `json:"quoted"`
			Expires time.Time `json:"expires"`
		} `json:"quote"`
		QuoteError string `json:"quote_error"`
	}
	require.Equal(t, http.StatusCreated, code, "%s", raw)
	require.NoError(t, json.Unmarshal(raw, &bk))
	require.NotNil(t, bk.Quote, "quote error: %s", bk.QuoteError)
	assert.False(t, bk.Quote.Quoted.Before(bk.Created), "quoted at %v before the booking at %v", bk.Quote.Quoted, bk.Created)
	assert.True(t, bk.Quote.Expires.After(bk.Quote.Quoted), "expires at %v, not after it was made at %v", bk.Quote.Expires, bk.Quote.Quoted)
	assert.True(t, bk.Quote.Quoted.After(h.Time.Add(time.Hour)), "quoted on line time")

	var before healthReport
	require.Equal(t, http.StatusOK, getJSON(t, base+"healthz", &before))
	require.NoError(t, m.stop())

	m = MustRunServe(t, "--speed", "3600", "--data", dir)
	var after healthReport
	require.Equal(t, http.StatusOK, getJSON(t, m.URL()+"healthz", &after))
	assert.False(t, after.LineTime.Before(before.LineTime), "line time went back at the restart: %v, then %v", before.LineTime, after.LineTime)
	assert.True(t, after.LineTime.Sub(after.Time) > time.Hour, "line time continues ahead of the wall clock")
}
