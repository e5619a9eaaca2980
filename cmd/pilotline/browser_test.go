package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/ui/uitest"
)

// TestBrowser_ServeTwin opens the twin of a real `pilotline serve` (the
// simulated line over OPC UA, acquisition, store, dispatcher) in headless
// Chromium: 25 tiles, a state change, the bur counter advancing, a grinder
// panel whose chart receives points, and recovery after the server is
// stopped and started again on the same port and data.
func TestBrowser_ServeTwin(t *testing.T) {
	ctx := uitest.MustChromium(t)
	data := t.TempDir()
	args := []string{"--speed", "300", "--data", data}
	m := MustRunServe(t, args...)
	base := m.URL()
	addr := strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base)))
	uitest.WaitUntil(t, ctx, "25 grinder tiles", `document.querySelectorAll('#floor .tile[data-state]').length === 25`)
	uitest.WaitUntil(t, ctx, "a live connection", `document.querySelector('#conn').dataset.status === 'live'`)

	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`window.__states = Object.fromEntries([...document.querySelectorAll('.tile')].map(e => [e.dataset.id, e.dataset.state])); true`))
	require.NoError(t, err)
	uitest.WaitUntil(t, ctx, "a grinder changing state",
		`[...document.querySelectorAll('.tile')].some(e => e.dataset.state !== window.__states[e.dataset.id])`)

	before, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Number(document.querySelector('#tray-count').textContent) || 0`))
	require.NoError(t, err)
	uitest.WaitUntil(t, ctx, "the bur counter advancing",
		fmt.Sprintf(`Number(document.querySelector('#tray-count').textContent) > %d`, before))

	uitest.WaitUntil(t, ctx, "a grinding grinder", `!!document.querySelector('.tile[data-state=grinding]')`)
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.tile[data-state=grinding]').dataset.id`))
	require.NoError(t, err)
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
		`document.querySelector('.tile[data-id=%q]').dispatchEvent(new MouseEvent('click', {bubbles: true})); true`, id)))
	require.NoError(t, err)
	uitest.WaitUntil(t, ctx, "the side panel", `!document.querySelector('#panel').hidden`)
	pts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Number(document.querySelector('#chart-load').dataset.points || 0)`))
	require.NoError(t, err)
	uitest.WaitUntil(t, ctx, "the load chart receiving points",
		fmt.Sprintf(`Number(document.querySelector('#chart-load').dataset.points || 0) >= %d`, pts+3))
	uitest.WaitUntil(t, ctx, "line OEE from the MES", `/\d/.test(document.querySelector('#kpi-oee').textContent)`)
	png := uitest.Screenshot(t, ctx, "serve-twin.png")
	if os.Getenv("PILOTLINE_SCREENSHOT") == "1" {
		require.NoError(t, os.WriteFile(filepath.Join("..", "..", "docs", "twin.png"), png, 0o644))
	}

	// Stop the whole MES, start it again on the same port and data: the
	// page reconnects by itself and resumes from a fresh snapshot.
	require.NoError(t, m.stop())
	uitest.WaitUntil(t, ctx, "the connection marked lost", `document.querySelector('#conn').dataset.status !== 'live'`)
	for i := 0; ; i++ {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			break
		}
		require.Less(t, i, 50, "port %s never came free: %v", addr, err)
		time.Sleep(100 * time.Millisecond)
	}
	m2 := MustRunServe(t, append(args, "--http", addr)...)
	assert.Equal(t, base, m2.URL())
	uitest.WaitUntil(t, ctx, "the page live again", `document.querySelector('#conn').dataset.status === 'live'`)
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](
		`window.__states = Object.fromEntries([...document.querySelectorAll('.tile')].map(e => [e.dataset.id, e.dataset.state])); true`))
	require.NoError(t, err)
	uitest.WaitUntil(t, ctx, "deltas flowing after the restart",
		`[...document.querySelectorAll('.tile')].some(e => e.dataset.state !== window.__states[e.dataset.id])`)
}
