package ui

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/ui/uitest"
)

// browserLogin signs in as user through the login page opened with the raw
// query string query, and returns where the browser went once it left the
// login page (origin, path and query) and the error the page showed, if any.
func browserLogin(t *testing.T, ctx context.Context, base, query, user string) (at, shown string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"login.html"+query)))
	waitUntil(t, ctx, "the login form", `location.pathname === '/login.html' && !!document.querySelector('#login-form')`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#user"), user),
		chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
	))
	waitUntil(t, ctx, "the sign-in's outcome", `location.pathname !== '/login.html' || !document.querySelector('#login-error').hidden`)
	at, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.origin + location.pathname + location.search`))
	require.NoError(t, err)
	if strings.Contains(at, "/login.html") {
		shown, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#login-error').textContent`))
		require.NoError(t, err)
	}
	return at, shown
}

// TestBrowser_LoginNextStaysOnSite: whatever next= a link carries, the
// browser lands on this site after signing in (a tab in "/%09/host" made
// it "//host" before), a same-site next is followed, and signing in as
// another user while a session is live switches accounts.
func TestBrowser_LoginNextStaysOnSite(t *testing.T) {
	ctx := uitest.MustChromium(t)
	line := MustLine(t)
	s, _ := newTestServer(t, line, openBackend(t, line))
	// Chromium checks cookie expiry on the real clock.
	s.LineClock, s.WallClock = nil, mes.WallClock{}
	mustUser(t, s, "li.wei", mes.RoleEngineer, "")
	mustUser(t, s, "chen", mes.RoleQA, "")
	require.NoError(t, s.Open())
	t.Cleanup(func() { _ = s.Close() })
	base := s.URL()
	home := strings.TrimSuffix(base, "/")

	for _, next := range []string{
		"/%09/evil.example", "/%0A/evil.example", "%09//evil.example", "//evil.example", "/%5Cevil.example", "/%5C%09evil.example",
		"/.//evil.example", "/a/..//evil.example", "https://evil.example/", "javascript:alert(1)", "%20//evil.example",
	} {
		at, shown := browserLogin(t, ctx, base, "?next="+next, "li.wei")
		assert.Empty(t, shown, "next=%s", next)
		assert.True(t, strings.HasPrefix(at, home+"/"), "next=%s led to %s", next, at)
	}

	// A path on this site is followed, query and all.
	at, _ := browserLogin(t, ctx, base, "?next=%2F%3Fbatch%3DB000001%23line", "li.wei")
	assert.Equal(t, home+"/?batch=B000001", at)

	// Switching accounts from the login page while li.wei's session is live.
	at, shown := browserLogin(t, ctx, base, "?next=%2F", "chen")
	assert.Empty(t, shown, "signing in over a live session")
	assert.Equal(t, home+"/", at)
	who, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch('/api/v1/me', {credentials: 'same-origin'}).then(r => r.json()).then(j => j.user.id)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	assert.Equal(t, "chen", who)
}
