package ui

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/trace"
	"github.com/pilotline/pilotline/ui/uitest"
)

// qaLogin signs in through the login page and waits for the QA review page
// of batch it was sent on to.
func qaLogin(t *testing.T, ctx context.Context, base, user, batch string) {
	t.Helper()
	next := url.QueryEscape("/qa/review.html?batch=" + batch)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"login.html?next="+next)))
	waitUntil(t, ctx, "the login form", `!!document.querySelector('#login-form')`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#user"), user),
		chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
	))
	waitUntil(t, ctx, "the review page of "+batch, `location.pathname === '/qa/review.html' && document.querySelector('#who').textContent.includes('`+user+`')`+
		` && document.querySelector('#state').textContent !== ''`)
}

// qaLogout signs out with the page's own button.
func qaLogout(t *testing.T, ctx context.Context) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#logout"))))
	waitUntil(t, ctx, "the login page", `location.pathname === '/login.html'`)
}

// fetchStatus fetches path in the page with the signed-in user's cookie.
func fetchStatus(t *testing.T, ctx context.Context, path string) int {
	t.Helper()
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('`+path+`', {credentials: 'same-origin'}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	return status
}

// TestBrowser_QARelease: a QA user reviews a finished batch by exception,
// disposes its nonconformance, is refused a signature with a wrong
// password, signs the release with the right one and sees the batch
// released; the customer then downloads a trace bundle that verifies, and
// a customer of another organisation gets nothing.
func TestBrowser_QARelease(t *testing.T) {
	ctx := uitest.MustChromium(t)
	f := newQAFixtureAt(t, time.Now) // Chromium checks cookie expiry on the real clock
	s, id := f.s, f.batch.ID
	require.NoError(t, s.Open())
	t.Cleanup(func() { _ = s.Close() })
	base := s.URL()
	ncs, err := f.ncs.ListNCs(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, ncs, 1, "the failed bur opened one NC")
	nc := ncs[0]

	// Review by exception: the open NC of the failed bur blocks release.
	qaLogin(t, ctx, base, "qa1", id)
	row := `#ncs tr[data-id="` + nc.ID + `"]`
	waitUntil(t, ctx, "the open NC", `!!document.querySelector('`+row+`.open')`)
	rowText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+row+`').textContent`))
	require.NoError(t, err)
	assert.Contains(t, rowText, nc.Serial)
	assert.Contains(t, rowText, id+"-00002")
	verdict, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#verdict').textContent`))
	require.NoError(t, err)
	assert.Contains(t, verdict, "不可放行", "Chinese first")
	assert.Contains(t, verdict, "Release blocked", "English second")
	blockers, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#blockers').textContent`))
	require.NoError(t, err)
	assert.Contains(t, blockers, nc.ID)
	screenshot(t, ctx, "qa-review-blocked.png")

	// Disposition: scrap, with a reason.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(row+` select.disp-choice`), "scrap"),
		chromedp.SetValue(chromedp.CSS(row+` input.disp-reason`), "head diameter oversize, ground again is not allowed"),
		chromedp.Click(chromedp.CSS(row+` button.disp-apply`)),
	))
	waitUntil(t, ctx, "the NC closed", `!!document.querySelector('`+row+`') && !document.querySelector('`+row+`.open')`+
		` && document.querySelector('#verdict').classList.contains('ok')`)
	closed, err := f.ncs.FindNC(context.Background(), nc.ID)
	require.NoError(t, err)
	assert.Equal(t, mes.NCClosed, closed.State)
	assert.Equal(t, mes.DispositionScrap, closed.Disposition)
	assert.Equal(t, "head diameter oversize, ground again is not allowed", closed.Reason)
	assert.Equal(t, "qa1", closed.ClosedBy)

	// A wrong password signs nothing and says so on the page.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#meaning"), "released"),
		chromedp.SetValue(chromedp.CSS("#reason"), "record complete"),
		chromedp.SetValue(chromedp.CSS("#signer"), "qa1"),
		chromedp.SetValue(chromedp.CSS("#password"), "not my password"),
		chromedp.Click(chromedp.CSS("#signBtn")),
	))
	waitUntil(t, ctx, "the refusal", `!document.querySelector('#sign-error').hidden && document.querySelector('#sign-error').textContent.includes('密码错误')`)
	refusal, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#sign-error').textContent`))
	require.NoError(t, err)
	assert.Contains(t, refusal, "user id or password wrong", "the server's own words in English too")
	b, err := s.Batches.FindBatch(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, mes.BatchCompleted, b.State, "a refused signature releases nothing")
	sigs, err := f.s.QA.Signatures.ListSignatures(context.Background(), mes.RecordTypeBatch, id)
	require.NoError(t, err)
	assert.Empty(t, sigs)
	screenshot(t, ctx, "qa-sign-refused.png")

	// The right password releases it, and the page shows the signature.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("#signBtn")),
	))
	waitUntil(t, ctx, "the released batch", `document.querySelector('#state').dataset.state === 'qa_released'`+
		` && document.querySelectorAll('#sigs li.sig').length === 1 && document.querySelector('#sign-error').hidden`)
	sigText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#sigs').textContent`))
	require.NoError(t, err)
	assert.Contains(t, sigText, "Li Wei", "printed name (21 CFR 11.50)")
	assert.Contains(t, sigText, "放行", "meaning")
	picked, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#batch').selectedOptions[0].textContent`))
	require.NoError(t, err)
	assert.Contains(t, picked, "质量已放行", "the batch picker follows the release")
	pw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#password').value`))
	require.NoError(t, err)
	assert.Empty(t, pw, "the password does not stay in the form")
	b, err = s.Batches.FindBatch(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, mes.BatchQAReleased, b.State)
	sigs, err = f.s.QA.Signatures.ListSignatures(context.Background(), mes.RecordTypeBatch, id)
	require.NoError(t, err)
	require.Len(t, sigs, 1)
	assert.Equal(t, "qa1", sigs[0].SignerID)
	assert.Equal(t, mes.MeaningReleased, sigs[0].Meaning)
	png := screenshot(t, ctx, "qa-released.png")
	assert.NotEmpty(t, png)
	qaLogout(t, ctx)

	// The customer of the batch's organisation downloads the bundle.
	qaLogin(t, ctx, base, "buyer", id)
	waitUntil(t, ctx, "the bundle link", `!!document.querySelector('#exports a[data-format=bundle]')`)
	signHidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#sign').hidden`))
	require.NoError(t, err)
	assert.True(t, signHidden, "a customer is not offered a signature")
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#exports a[data-format=bundle]').getAttribute('href')`))
	require.NoError(t, err)
	b64, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch('`+href+`', {credentials: 'same-origin'}).then(async r => {
		if (!r.ok) throw new Error('status ' + r.status);
		const buf = new Uint8Array(await r.arrayBuffer());
		let s = '';
		for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
		return btoa(s);
	})`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	zip, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	rep, err := trace.VerifyBundle(bytes.NewReader(zip), int64(len(zip)))
	require.NoError(t, err, "the downloaded bundle verifies offline")
	assert.Equal(t, id, rep.Batch)
	assert.Equal(t, sigs[0].RecordHash, rep.RecordHash, "the bundle is the record that was signed")
	assert.Equal(t, 1, rep.Signatures)
	screenshot(t, ctx, "qa-customer.png")
	qaLogout(t, ctx)

	// A customer of another organisation: the batch does not exist for them.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"login.html?next="+url.QueryEscape("/qa/review.html"))))
	waitUntil(t, ctx, "the login form", `!!document.querySelector('#login-form')`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#user"), "rival"),
		chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
	))
	waitUntil(t, ctx, "the review page", `location.pathname === '/qa/review.html' && document.querySelector('#who').textContent.includes('rival')`)
	for _, format := range []string{"bundle", "csv", "pdf"} {
		assert.Equal(t, 404, fetchStatus(t, ctx, "/api/v1/batches/"+id+"/trace?format="+format), format)
	}
	assert.Equal(t, 404, fetchStatus(t, ctx, "/api/v1/batches/"+id+"/review"))
	options, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#batch option')].map(o => o.value).join(',')`))
	require.NoError(t, err)
	assert.NotContains(t, options, id, "the other organisation's batch is not listed")
}
