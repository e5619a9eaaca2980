package ui

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/ui/uitest"
)

// portalLogin signs in through the login page and waits for the portal
// view it was sent on to.
func portalLogin(t *testing.T, ctx context.Context, base, user, view string) {
	t.Helper()
	next := url.QueryEscape("/portal/booking.html#" + view)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"login.html?next="+next)))
	waitUntil(t, ctx, "the login form", `!!document.querySelector('#login-form')`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#user"), user),
		chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
	))
	waitUntil(t, ctx, "the portal", `location.pathname === '/portal/booking.html' && document.querySelector('#who').textContent.includes('`+user+`')`)
}

// TestBrowser_PortalBooking: a customer signs in, requests a run, sees
// its quote and accepts it; an engineer confirms it from the queue; a
// customer of another organisation sees neither the run nor whose it is.
func TestBrowser_PortalBooking(t *testing.T) {
	ctx := uitest.MustChromium(t)
	p := newPortal(t)
	p.clock.Add(time.Until(testNow) * -1) // real time: the browser checks cookie expiry
	for _, u := range []struct {
		id   string
		role mes.Role
		org  string
	}{{"li.na", mes.RoleCustomer, "acme"}, {"chen.yu", mes.RoleEngineer, ""}, {"zhou.bo", mes.RoleCustomer, "beta"}} {
		mustUser(t, p.s, u.id, u.role, u.org)
	}
	require.NoError(t, p.s.Open())
	t.Cleanup(func() { _ = p.s.Close() })
	base := p.s.URL()

	// The customer requests 1,000 burs and sees the quote before accepting.
	portalLogin(t, ctx, base, "li.na", "book")
	waitUntil(t, ctx, "the product list", `document.querySelectorAll('#f-product option').length > 0`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#f-quantity"), "1000"),
		chromedp.SetValue(chromedp.CSS("#f-notes"), "首件检验 first article"),
		chromedp.Click(chromedp.CSS("#f-submit")),
	))
	waitUntil(t, ctx, "the quote", `!document.querySelector('#quote').hidden && !document.querySelector('#quote-accept').hidden`)
	quoteText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#quote-body').textContent`))
	require.NoError(t, err)
	assert.Contains(t, quoteText, "标称值", "the quote says it is nominal (Chinese first)")
	assert.Regexp(t, `\d{4}-\d{2}-\d{2} \d{2}:\d{2}Z`, quoteText, "ISO dates")
	screenshot(t, ctx, "portal-quote.png")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#quote-accept"))))
	waitUntil(t, ctx, "the acceptance", `document.querySelector('#quote-accept').hidden && document.querySelector('#quote-msg').textContent.includes('等待工程师确认')`)

	bs := p.allBookings(t)
	require.Len(t, bs, 1)
	b := bs[0]
	assert.Equal(t, mes.BookingAccepted, b.State)
	assert.Equal(t, "acme", b.Org)
	assert.Equal(t, 1000, b.Quantity)
	assert.Equal(t, "首件检验 first article", b.Notes)

	// The engineer confirms it from the queue, with a reason.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#logout"))))
	waitUntil(t, ctx, "the login page", `location.pathname === '/login.html'`)
	portalLogin(t, ctx, base, "chen.yu", "queue")
	row := `#queue .run[data-id="` + b.ID + `"]`
	waitUntil(t, ctx, "the accepted booking in the queue", `!!document.querySelector('`+row+`[data-state=accepted]')`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(row+` input.reason`), "fits week 11"),
		chromedp.Click(chromedp.CSS(row+` button.confirm`)),
	))
	waitUntil(t, ctx, "the booking to leave the queue", `!document.querySelector('`+row+`')`)
	got, err := p.bookings.FindBooking(context.Background(), b.ID)
	require.NoError(t, err)
	assert.Equal(t, mes.BookingConfirmed, got.State)
	last := got.Transitions[len(got.Transitions)-1]
	assert.Equal(t, "chen.yu", last.By)
	assert.Equal(t, "fits week 11", last.Reason)

	// The other customer sees no run, and a busy block without a name.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#logout"))))
	waitUntil(t, ctx, "the login page", `location.pathname === '/login.html'`)
	portalLogin(t, ctx, base, "zhou.bo", "runs")
	waitUntil(t, ctx, "the empty run list", `!!document.querySelector('#runs .note')`)
	n, err := evalInt(ctx, `document.querySelectorAll('#runs .run').length`)
	require.NoError(t, err)
	assert.Zero(t, n)
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('/api/v1/bookings/`+b.ID+`').then(r => r.status)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	assert.Equal(t, 404, status)

	start := got.Quote.Start.UTC()
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tab-calendar"))))
	for range 10 { // page forward to the run's week
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#calendar').textContent`))
		require.NoError(t, err)
		if strings.Contains(shown, start.Format(time.DateOnly)) {
			break
		}
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#cal-next"))))
		time.Sleep(300 * time.Millisecond)
	}
	waitUntil(t, ctx, "a busy block", `document.querySelectorAll('#calendar .blk.busy').length > 0`)
	cal, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#calendar').innerHTML`))
	require.NoError(t, err)
	for _, leak := range []string{"acme", b.ID, "li.na", b.Product} {
		assert.NotContains(t, cal, leak)
	}
	screenshot(t, ctx, "portal-calendar.png")
}
