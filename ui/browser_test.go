package ui

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/twin"
	"github.com/pilotline/pilotline/twin/twintest"
	"github.com/pilotline/pilotline/ui/uitest"
)

// liveLine is a ui.Server with a twin hub fed by the twin's event
// generator at high speed: the line alive without OPC UA.
type liveLine struct {
	srv    *Server
	hub    *twin.Hub
	cancel context.CancelFunc
	done   chan struct{}
}

// startLiveLine serves a generated line on addr ("127.0.0.1:0" for a free
// port). speed is line seconds per real second. opts complete the server
// (accounts, stores) before it opens.
func startLiveLine(tb testing.TB, addr string, speed float64, seed uint64, opts ...func(*Server)) *liveLine {
	tb.Helper()
	line, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(tb, err)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	hub := twin.NewHub(line, twin.HubOptions{Logger: logger})
	ctx, cancel := context.WithCancel(context.Background())
	l := &liveLine{hub: hub, cancel: cancel, done: make(chan struct{})}
	start := time.Now().Add(-2 * time.Hour)
	gen := twintest.NewGenerator(line, seed, start)
	shift := twin.Period{Kind: twin.PeriodShift, Name: "A", From: start.Add(time.Hour).Truncate(time.Minute)}
	gen.AlarmEvery = 6 * time.Hour
	step := 100 * time.Millisecond
	gen.SampleEvery = time.Duration(float64(step) * speed)
	_ = hub.Publish(ctx, gen.Start()...)
	// Two line hours of history, so the timeline and the tray are not empty.
	for range 240 {
		_ = hub.Publish(ctx, gen.Step(30*time.Second)...)
	}
	go hub.Run(ctx)
	go func() {
		defer close(l.done)
		tick := time.NewTicker(step)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			_ = hub.Publish(ctx, gen.Step(time.Duration(float64(step)*speed))...)
			if i%10 == 0 {
				hub.SetProduction(syntheticProduction(hub.Snapshot(), i, shift))
			}
		}
	}()
	l.srv = &Server{Addr: addr, Logger: logger, Line: line, Twin: hub, AnonymousViewer: true}
	for _, o := range opts {
		o(l.srv)
	}
	require.NoError(tb, l.srv.Open())
	tb.Cleanup(l.stop)
	return l
}

// syntheticProduction is what the MES would report for the generated line
// during shift.
func syntheticProduction(s twin.Snapshot, i int, shift twin.Period) twin.Production {
	oee := map[string]twin.OEE{}
	for k, g := range s.Grinders {
		a := 0.86 + 0.01*float64(k%7)
		oee[g.ID] = twin.OEE{Availability: a, Performance: 0.93, Quality: 0.99, OEE: a * 0.93 * 0.99}
	}
	done := int(s.Output.Count)
	return twin.Production{
		Period:    shift,
		BursToday: done, GoodToday: done - done/100, EnergyPerBurKWh: 2.31, CarbonPerBurKg: 0.527,
		OEE:      &twin.OEE{Availability: 0.88, Performance: 0.93, Quality: 0.99, OEE: 0.81},
		Grinders: oee,
		Batches: []twin.BatchProgress{
			{ID: "B000001", Product: "500314001001014", ProductName: "Carbide round bur FG Ø1.4 mm", ProductNameZH: "硬质合金球形车针 FG Ø1.4 mm",
				Org: "Pilotline demo", State: mes.BatchRunning, Quantity: 500, Started: done + 25, Completed: done},
			{ID: "B000002", Product: "500314001001014", ProductName: "Carbide round bur FG Ø1.4 mm", ProductNameZH: "硬质合金球形车针 FG Ø1.4 mm",
				Org: "Dental Lab Shanghai", State: mes.BatchReleased, Quantity: 200},
		},
	}
}

func (l *liveLine) stop() {
	l.cancel() // the hub closes its viewers; Echo's shutdown does not
	<-l.done
	_ = l.srv.Close()
}

func evalInt(ctx context.Context, js string) (int, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[int](js))
}

func evalTrue(ctx context.Context, js string) error {
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	return err
}

func waitUntil(tb testing.TB, ctx context.Context, what, js string) {
	tb.Helper()
	uitest.WaitUntil(tb, ctx, what, js)
}

func screenshot(tb testing.TB, ctx context.Context, name string) []byte {
	tb.Helper()
	return uitest.Screenshot(tb, ctx, name)
}

// TestBrowser_TwinLive opens the twin in headless Chromium against a live
// generated line: 25 tiles, states changing, burs arriving, a grinder's
// panel charting, and recovery after the server restarts on the same port.
func TestBrowser_TwinLive(t *testing.T) {
	ctx := uitest.MustChromium(t)
	l := startLiveLine(t, "127.0.0.1:0", 60, 7)
	addr := l.srv.ln.Addr().String()

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(l.srv.URL())))
	waitUntil(t, ctx, "25 grinder tiles", `document.querySelectorAll('#floor .tile[data-state]').length === 25`)
	waitUntil(t, ctx, "a live connection", `document.querySelector('#conn').dataset.status === 'live'`)

	// A state change: remember every tile's state, wait for one to differ.
	require.NoError(t, evalTrue(ctx,
		`window.__states = Object.fromEntries([...document.querySelectorAll('.tile')].map(e => [e.dataset.id, e.dataset.state])); true`))
	waitUntil(t, ctx, "a grinder changing state",
		`[...document.querySelectorAll('.tile')].some(e => e.dataset.state !== window.__states[e.dataset.id])`)

	// A bur counter advance: the output tray.
	before, err := evalInt(ctx, `Number(document.querySelector('#tray-count').textContent)`)
	require.NoError(t, err)
	waitUntil(t, ctx, "the bur counter advancing", fmt.Sprintf(`Number(document.querySelector('#tray-count').textContent) > %d`, before))

	// Open a grinding grinder's panel and see its load chart receive points.
	waitUntil(t, ctx, "a grinding grinder", `!!document.querySelector('.tile[data-state=grinding]')`)
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.tile[data-state=grinding]').dataset.id`))
	require.NoError(t, err)
	// A synthetic click: tiles redraw several times a second, so a
	// node-id based click can lose its target between query and press.
	require.NoError(t, evalTrue(ctx, fmt.Sprintf(
		`document.querySelector('.tile[data-id=%q]').dispatchEvent(new MouseEvent('click', {bubbles: true})); true`, id)))
	waitUntil(t, ctx, "the side panel", `!document.querySelector('#panel').hidden`)
	ident, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#panel .ident').textContent`))
	require.NoError(t, err)
	assert.Equal(t, id, ident)
	pts, err := evalInt(ctx, `Number(document.querySelector('#chart-load').dataset.points || 0)`)
	require.NoError(t, err)
	waitUntil(t, ctx, "the load chart receiving points",
		fmt.Sprintf(`Number(document.querySelector('#chart-load').dataset.points || 0) >= %d`, pts+3))
	time.Sleep(1500 * time.Millisecond) // let the timeline strip catch up for the picture
	png := screenshot(t, ctx, "twin.png")
	if os.Getenv("PILOTLINE_SCREENSHOT") == "1" {
		require.NoError(t, os.WriteFile(filepath.Join("..", "docs", "twin.png"), png, 0o644))
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#panel-close`))))

	// English is one click away.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#lang`))))
	waitUntil(t, ctx, "English labels", `document.querySelector('#kpi-burs h2').textContent === 'Burs this shift'`)
	screenshot(t, ctx, "twin-en.png")

	// Restart the server on the same port: the page marks the data stale,
	// reconnects by itself and resumes from a fresh snapshot.
	l.stop()
	waitUntil(t, ctx, "the connection marked lost", `document.querySelector('#conn').dataset.status === 'reconnecting' && !document.querySelector('#banner').hidden`)
	screenshot(t, ctx, "twin-offline.png")
	var l2 *liveLine
	for i := 0; ; i++ {
		// The old socket may linger for a moment; retry the bind briefly.
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			l2 = startLiveLine(t, addr, 60, 8)
			break
		}
		require.Less(t, i, 50, "port %s never came free: %v", addr, err)
		time.Sleep(100 * time.Millisecond)
	}
	waitUntil(t, ctx, "the page live again", `document.querySelector('#conn').dataset.status === 'live'`)
	waitUntil(t, ctx, "25 tiles after the restart", `document.querySelectorAll('#floor .tile[data-state]').length === 25`)
	require.NoError(t, evalTrue(ctx,
		`window.__states = Object.fromEntries([...document.querySelectorAll('.tile')].map(e => [e.dataset.id, e.dataset.state])); true`))
	waitUntil(t, ctx, "deltas flowing after the restart",
		`[...document.querySelectorAll('.tile')].some(e => e.dataset.state !== window.__states[e.dataset.id])`)
	assert.Positive(t, l2.hub.Viewers(), "the page is a viewer of the new server")
}
