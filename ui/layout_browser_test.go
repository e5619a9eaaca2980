package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/ui/uitest"
)

// screenSize is a browser window the pages are checked at.
type screenSize struct{ W, H int }

// screenSizes: a 1080p andon or desktop, a laptop, a phone.
var screenSizes = []screenSize{{1920, 1080}, {1366, 768}, {390, 844}}

// layoutCheck is the JavaScript that measures a page: each [element,
// container] pair must be at least 90 % of its intended width (the
// container's content width, capped by the element's own max-width),
// every visible button must be the element at its own centre once
// scrolled into view, and the page must not scroll sideways. It returns
// the failures.
const layoutCheck = `(pairs) => {
  const out = [];
  const content = (c) => { const s = getComputedStyle(c); return c.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); };
  for (const [sel, box] of pairs) {
    const e = document.querySelector(sel), c = document.querySelector(box);
    if (!e || !c) { out.push(sel + " or " + box + " missing"); continue; }
    let want = content(c);
    const mw = parseFloat(getComputedStyle(e).maxWidth);
    if (!isNaN(mw)) want = Math.min(want, mw);
    const w = e.getBoundingClientRect().width;
    if (w < 0.9 * want) out.push(sel + " is " + Math.round(w) + " px wide, " + box + " gives it " + Math.round(want) + " px");
  }
  for (const b of document.querySelectorAll("button")) {
    const r0 = b.getBoundingClientRect();
    if (r0.width === 0 || r0.height === 0 || getComputedStyle(b).visibility === "hidden") continue;
    b.scrollIntoView({ block: "center", inline: "center" });
    const r = b.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (!hit || !(hit === b || b.contains(hit))) {
      const name = (e) => e ? e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && e.className.baseVal === undefined ? "." + e.className : "") : "nothing";
      out.push("button " + name(b) + " (" + b.textContent.trim() + ") is covered by " + name(hit));
    }
  }
  window.scrollTo(0, 0);
  const d = document.documentElement;
  if (d.scrollWidth > d.clientWidth + 1) {
    const wide = [...document.body.querySelectorAll("*")].filter((e) => e.getBoundingClientRect().right > d.clientWidth + 1 && ![...e.children].some((k) => k.getBoundingClientRect().right > d.clientWidth + 1));
    out.push("the page scrolls sideways: " + d.scrollWidth + " > " + d.clientWidth + ", e.g. " + wide.slice(0, 3).map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + e.getAttribute("class")).join(", "));
  }
  return out;
}`

// checkLayout runs layoutCheck with pairs on the page shown.
func checkLayout(t *testing.T, ctx context.Context, what string, pairs [][2]string) {
	t.Helper()
	b, err := json.Marshal(pairs)
	require.NoError(t, err)
	fails, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf("(%s)(%s)", layoutCheck, b)))
	require.NoError(t, err)
	assert.Empty(t, fails, what)
}

// setSize resizes the browser window's viewport.
func setSize(t *testing.T, ctx context.Context, s screenSize) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(int64(s.W), int64(s.H))))
}

// setLanguage stores the UI language the pages read at load.
func setLanguage(t *testing.T, ctx context.Context, lang string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`localStorage.setItem('pilotline.lang', '`+lang+`')`)))
}

// pageShot keeps a screenshot of the page for the docs when
// PILOTLINE_SCREENSHOT=1 (docs/screens/NAME-WxH-LANG.png), and in the
// test's artifacts always.
func pageShot(t *testing.T, ctx context.Context, name string, s screenSize, lang string) {
	t.Helper()
	file := fmt.Sprintf("%s-%dx%d-%s.png", name, s.W, s.H, lang)
	png := screenshot(t, ctx, file)
	if os.Getenv("PILOTLINE_SCREENSHOT") == "1" {
		dir := filepath.Join("..", "docs", "screens")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), png, 0o644))
	}
}

// signInAs signs in through the login page and waits for next to load.
func signInAs(t *testing.T, ctx context.Context, base, user, next string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"login.html?next="+url.QueryEscape(next))))
	waitUntil(t, ctx, "the login form", `!!document.querySelector('#login-form')`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#user"), user),
		chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
	))
	waitUntil(t, ctx, "the page after signing in", `document.querySelector('#who') && document.querySelector('#who').textContent.includes('`+user+`')`)
}

// everySize loads page at each screen size in both languages, waits for
// ready, and checks pairs.
func everySize(t *testing.T, ctx context.Context, name, page, ready string, pairs func(screenSize) [][2]string) {
	t.Helper()
	for _, s := range screenSizes {
		for _, lang := range []string{"zh", "en"} {
			setSize(t, ctx, s)
			require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page)))
			setLanguage(t, ctx, lang)
			require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
			waitUntil(t, ctx, name+" ready", ready)
			checkLayout(t, ctx, fmt.Sprintf("%s at %dx%d in %s", name, s.W, s.H, lang), pairs(s))
			pageShot(t, ctx, name, s, lang)
		}
	}
}

// TestBrowser_Layout: every page at 1920×1080, 1366×768 and 390×844, in
// both languages: its form and main content fill at least 90 % of the
// width meant for them, every button can be clicked (nothing covers it),
// and no page scrolls sideways.
func TestBrowser_Layout(t *testing.T) {
	ctx := uitest.MustChromium(t)

	t.Run("twin", func(t *testing.T) {
		l := startLiveLine(t, "127.0.0.1:0", 60, 7)
		everySize(t, ctx, "twin", l.srv.URL(), `document.querySelectorAll('#floor .tile[data-state]').length === 25`,
			func(s screenSize) [][2]string {
				p := [][2]string{{"main", "body"}, {"#floor", ".floor"}}
				if s.W < 1600 { // stacked: the floor plan has the whole width
					p = append(p, [2]string{".floor", "main"}, [2]string{".side", "main"})
				}
				return p
			})
	})

	t.Run("login", func(t *testing.T) {
		f := newQAFixtureAt(t, time.Now)
		require.NoError(t, f.s.Open())
		t.Cleanup(func() { _ = f.s.Close() })
		everySize(t, ctx, "login", f.s.URL()+"login.html", `!!document.querySelector('#login-form')`,
			func(screenSize) [][2]string {
				return [][2]string{{".login-card", "body"}, {"#login-form", ".login-card"}, {"#user", "#login-form"}, {"#password", "#login-form"}}
			})
	})

	t.Run("portal", func(t *testing.T) {
		p := newPortal(t)
		p.clock.Add(time.Until(testNow) * -1) // real time: the browser checks cookie expiry
		mustUser(t, p.s, "li.na", mes.RoleCustomer, "acme")
		require.NoError(t, p.s.Open())
		t.Cleanup(func() { _ = p.s.Close() })
		base := p.s.URL()
		setSize(t, ctx, screenSizes[0])
		signInAs(t, ctx, base, "li.na", "/portal/booking.html")
		everySize(t, ctx, "portal-calendar", base+"portal/booking.html#calendar", `document.querySelectorAll('#calendar .day').length === 7`,
			func(screenSize) [][2]string {
				return [][2]string{{"main", "body"}, {"#view-calendar", "main"}, {"#calendar", "#view-calendar"}}
			})
		everySize(t, ctx, "portal-book", base+"portal/booking.html#book", `document.querySelectorAll('#f-product option').length > 0`,
			func(screenSize) [][2]string {
				return [][2]string{{"main", "body"}, {"#view-book", "main"}, {"#book-form", "#view-book"}}
			})
	})

	t.Run("qa", func(t *testing.T) {
		f := newQAFixtureAt(t, time.Now)
		require.NoError(t, f.s.Open())
		t.Cleanup(func() { _ = f.s.Close() })
		base := f.s.URL()
		setSize(t, ctx, screenSizes[0])
		page := "/qa/review.html?batch=" + f.batch.ID
		signInAs(t, ctx, base, "qa1", page)
		everySize(t, ctx, "qa", base+page[1:], `document.querySelector('#state').textContent !== '' && !!document.querySelector('#ncs tr')`,
			func(screenSize) [][2]string {
				return [][2]string{{"#main", "body"}, {"#sign", "#signing"}}
			})
	})
}
