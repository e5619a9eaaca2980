package ui

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/ui/uitest"
)

// TestBrowser_Twin checks the twin's views on one live generated line.
func TestBrowser_Twin(t *testing.T) {
	ctx := uitest.MustChromium(t)
	l := startLiveLine(t, "127.0.0.1:0", 60, 7)
	t.Run("kiosk", func(t *testing.T) { twinKiosk(t, ctx, l) })
	t.Run("period", func(t *testing.T) { twinPeriod(t, ctx, l) })
}

// twinPeriod: the header's output, the OEE figures, every tile and the
// panel count the same period, the MES's shift, and say which.
func twinPeriod(t *testing.T, ctx context.Context, l *liveLine) {
	setSize(t, ctx, screenSize{1920, 1080})
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(l.srv.URL())))
	setLanguage(t, ctx, "zh")
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitUntil(t, ctx, "the shift in the header", `document.querySelector('#burs-period') && document.querySelector('#burs-period').textContent.startsWith('A 班')`)
	text := func(sel string) string {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+sel+`').textContent`))
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, "本班产量", text("#burs-title"))
	period := text("#burs-period")
	assert.Regexp(t, `^A 班，(\d\d-\d\d )?\d\d:\d\d 起$`, period)
	assert.Contains(t, text("#oee-period"), period, "the OEE figure names its window")
	metas, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#floor .tile .meta')].map((e) => e.textContent)`))
	require.NoError(t, err)
	require.Len(t, metas, 25)
	for _, m := range metas {
		assert.Regexp(t, `^本班 \d+`, m, "each tile counts the shift")
	}
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('.tile').dispatchEvent(new MouseEvent('click', {bubbles: true}))`))
	require.NoError(t, err)
	waitUntil(t, ctx, "the panel", `!document.querySelector('#panel').hidden`)
	assert.Contains(t, text("#panel-head"), period, "the grinder's OEE names its window")
	assert.NotContains(t, text("#panel-head"), "今日")
	assert.NotContains(t, text("#panel-head"), "Automatic", "the operation mode in Chinese")
	assert.Contains(t, text("#panel-head"), "自动")

	setLanguage(t, ctx, "en")
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitUntil(t, ctx, "English", `document.querySelector('#burs-title').textContent === 'Burs this shift'`)
	assert.Regexp(t, `^shift A since (\d\d-\d\d )?\d\d:\d\d$`, text("#burs-period"))
	setLanguage(t, ctx, "zh")
}

// twinKiosk: ?kiosk=1 on a 1920×1080 screen shows every grinder's state
// in text at least 24 px high, keeps the alarm banner's space whether or
// not alarms are active (the floor plan does not move when they come),
// and the grinder panel leaves the banner visible.
func twinKiosk(t *testing.T, ctx context.Context, l *liveLine) {
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
