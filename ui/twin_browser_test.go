package ui

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/ui/uitest"
)

// TestBrowser_TwinKiosk: ?kiosk=1 on a 1920×1080 screen shows every
// grinder's state in text at least 24 px high, keeps the alarm banner's
// space whether or not alarms are active (the floor plan does not move
// when they come), and the grinder panel leaves the banner visible.
func TestBrowser_TwinKiosk(t *testing.T) {
	ctx := uitest.MustChromium(t)
	l := startLiveLine(t, "127.0.0.1:0", 60, 7)
	setSize(t, ctx, screenSize{1920, 1080})
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(l.srv.URL()+"?kiosk=1")))
	waitUntil(t, ctx, "25 grinder tiles", `document.querySelectorAll('#floor .tile[data-state]').length === 25`)

	// The state text as rendered: font size times the floor plan's scale.
	px, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll('#floor .tile .st')].map((e) =>
		parseFloat(getComputedStyle(e).fontSize) * document.querySelector('#floor').getScreenCTM().a)`))
	require.NoError(t, err)
	require.Len(t, px, 25)
	for i, v := range px {
		assert.GreaterOrEqual(t, v, 24.0, "tile %d state text", i)
	}
	// Every state label fits its tile.
	over, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#floor .tile')].filter((g) => {
		const bg = g.querySelector('.bg').getBoundingClientRect(), st = g.querySelector('.st').getBoundingClientRect();
		return st.right > bg.right + 1 || st.left < bg.left - 1; }).map((g) => g.dataset.id)`))
	require.NoError(t, err)
	assert.Empty(t, over, "state text running over its tile")

	// The banner's space is there with no alarm, and alarms do not move the floor.
	top := `document.querySelector('main').getBoundingClientRect().top`
	before, err := chromedp.Run(ctx, chromedp.Evaluate[float64](top))
	require.NoError(t, err)
	h, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector('#banner').getBoundingClientRect().height`))
	require.NoError(t, err)
	assert.Greater(t, h, 40.0, "banner space reserved")
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const b = document.querySelector('#banner');
		b.hidden = false; for (let i = 0; i < 4; i++) { const d = document.createElement('div'); d.className = 'alarm'; d.textContent = 'G0' + i + ' E' + i + ' spindle overload'; b.append(d); }
		return true; })()`))
	require.NoError(t, err)
	after, err := chromedp.Run(ctx, chromedp.Evaluate[float64](top))
	require.NoError(t, err)
	assert.InDelta(t, before, after, 0.5, "the floor plan stays put when alarms arrive")

	// The panel opens below the banner.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('.tile').dispatchEvent(new MouseEvent('click', {bubbles: true}))`))
	require.NoError(t, err)
	waitUntil(t, ctx, "the panel", `!document.querySelector('#panel').hidden`)
	covered, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const r = document.querySelector('#banner').getBoundingClientRect();
		return [0.25, 0.5, 0.9].some((f) => !document.querySelector('#banner').contains(document.elementFromPoint(r.left + r.width * f, r.top + r.height / 2))); })()`))
	require.NoError(t, err)
	assert.False(t, covered, "the panel covers the banner")
	screenshot(t, ctx, "twin-kiosk.png")
}
