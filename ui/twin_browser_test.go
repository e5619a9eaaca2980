package ui

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
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

// withAccounts gives a live line's server a store of accounts, sessions
// and the audit trail, and the users named (id, role).
func withAccounts(tb testing.TB, users ...[2]string) (func(*Server), *bolt.DB) {
	db, err := bolt.Open(filepath.Join(tb.TempDir(), "pilotline.db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = db.Close() })
	return func(s *Server) {
		s.Users, s.Orgs, s.Sessions = bolt.NewUserService(db), bolt.NewOrgService(db), bolt.NewSessionService(db)
		s.Tokens, s.Audit, s.PasswordParams = bolt.NewTokenService(db), bolt.NewAuditService(db), testPasswordParams
		for _, u := range users {
			mustUser(tb, s, u[0], mes.Role(u[1]), "")
		}
	}, db
}

// TestBrowser_TwinAlarmAck: an engineer acknowledges an alarm in the twin;
// the server records who and when in the audit trail and every viewer —
// another browser that is not signed in included — sees it, also after
// a reload (nothing is kept in one browser's storage). The twin names the
// signed-in engineer and signs out.
func TestBrowser_TwinAlarmAck(t *testing.T) {
	ctx := uitest.MustChromium(t)
	accounts, _ := withAccounts(t, [2]string{"wang.gong", string(mes.RoleEngineer)})
	l := startLiveLine(t, "127.0.0.1:0", 20, 7, accounts)
	base := l.srv.URL()
	setSize(t, ctx, screenSize{1920, 1080})

	// An andon screen in a browser of its own, not signed in.
	andon, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(andon, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(base)))
	waitUntil(t, andon, "the andon twin", `document.querySelectorAll('#floor .tile[data-state]').length === 25`)

	signInAs(t, ctx, base, "wang.gong", "/")
	waitUntil(t, ctx, "the twin", `document.querySelectorAll('#floor .tile[data-state]').length === 25 && !document.querySelector('#logout').hidden`)

	// An alarm the generator does not know, so only the test clears it.
	now := l.hub.Snapshot().Time
	alarm := mes.Alarm{Seq: 900001, Code: "E9001", Text: "Coolant pressure low", TextZH: "冷却液压力低", Severity: 700, Raised: now}
	require.NoError(t, l.hub.Publish(context.Background(), mes.MachineEvent{Machine: "G07", Kind: mes.EventAlarmRaised, SourceTime: now, Alarm: &alarm}))
	row := `#banner .alarm[data-machine="G07"][data-seq="900001"]`
	waitUntil(t, ctx, "the alarm in the banner", `!!document.querySelector('`+row+` button.ack')`)
	waitUntil(t, andon, "the alarm on the andon", `!!document.querySelector('`+row+`')`)
	n, err := chromedp.Run(andon, chromedp.Evaluate[int](`document.querySelectorAll('#banner button.ack').length`))
	require.NoError(t, err)
	assert.Zero(t, n, "a viewer who is not signed in cannot acknowledge")

	// A synthetic click: the banner redraws with every delta, so a node-id
	// based click can lose its target between query and press.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('`+row+` button.ack').dispatchEvent(new MouseEvent('click', {bubbles: true}))`))
	require.NoError(t, err)
	waitUntil(t, ctx, "the acknowledgement", `!!document.querySelector('`+row+`.is-acked')`)
	by := `document.querySelector('` + row + ` .ack-by').textContent`
	mine, err := chromedp.Run(ctx, chromedp.Evaluate[string](by))
	require.NoError(t, err)
	assert.Contains(t, mine, "wang.gong")
	waitUntil(t, andon, "the acknowledgement on the andon", `!!document.querySelector('`+row+`.is-acked')`)
	theirs, err := chromedp.Run(andon, chromedp.Evaluate[string](by))
	require.NoError(t, err)
	assert.Equal(t, mine, theirs, "every viewer sees who acknowledged it and when")

	// On the server: the twin holds it and the audit trail recorded it.
	_, ack, ok := l.hub.FindAlarm("G07", 900001)
	require.True(t, ok)
	require.NotNil(t, ack)
	assert.Equal(t, "wang.gong", ack.By)
	var found *mes.AuditEntry
	for e, err := range l.srv.Audit.AuditEntries(context.Background(), mes.AuditFilter{ObjectType: AuditObjectAlarm}) {
		require.NoError(t, err)
		found = &e
	}
	require.NotNil(t, found, "the acknowledgement is in the audit trail")
	assert.Equal(t, "G07/900001", found.ObjectID)
	assert.Equal(t, "wang.gong", found.Actor)
	assert.Contains(t, string(found.New), "E9001")

	// A fresh page (no local storage) still shows it.
	require.NoError(t, chromedp.Do(andon, chromedp.Evaluate[chromedp.Void](`localStorage.clear()`), chromedp.Reload()))
	waitUntil(t, andon, "the acknowledgement after a reload", `!!document.querySelector('`+row+`.is-acked')`)
	screenshot(t, ctx, "twin-alarm-acked.png")

	// The signed-in engineer is named, and signs out from the twin.
	who, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#who').textContent`))
	require.NoError(t, err)
	assert.Contains(t, who, "wang.gong")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#logout`))))
	waitUntil(t, ctx, "the sign-in page", `location.pathname === '/login.html'`)
}
