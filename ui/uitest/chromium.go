// Package uitest drives Pilotline's web pages in a real headless Chromium
// (Debian's chromium package) for browser tests.
package uitest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// Wait bounds each wait for the page: generous, since a loaded CI machine
// runs the browser, the server and the line on two cores.
const Wait = 45 * time.Second

// MustChromium returns a chromedp context on a fresh headless Chromium, or
// skips when none is installed (fails instead with PILOTLINE_REQUIRE_BROWSER=1).
func MustChromium(tb testing.TB) context.Context {
	tb.Helper()
	path := ChromiumPath
	if _, err := os.Stat(path); err != nil {
		if p, lerr := exec.LookPath("chromium"); lerr == nil {
			path = p
		} else if os.Getenv("PILOTLINE_REQUIRE_BROWSER") == "1" {
			tb.Fatalf("chromium not installed at %s (make deps-browser)", ChromiumPath)
		} else {
			tb.Skipf("chromium not installed at %s; set PILOTLINE_REQUIRE_BROWSER=1 to fail instead", ChromiumPath)
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1920, 1080),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	tb.Cleanup(func() { cancel(); cancelAlloc() })
	require.NoError(tb, chromedp.Do(ctx), "start chromium")
	return ctx
}

// WaitUntil polls the JavaScript condition js in the page until it is true
// or Wait passes.
func WaitUntil(tb testing.TB, ctx context.Context, what, js string) {
	tb.Helper()
	deadline := time.Now().Add(Wait)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("page never showed %s (last error: %v)", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ArtifactDir is $PILOTLINE_ARTIFACTS, or the test's temp dir.
func ArtifactDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("PILOTLINE_ARTIFACTS"); d != "" {
		require.NoError(tb, os.MkdirAll(d, 0o750))
		return d
	}
	return tb.TempDir()
}

// Screenshot captures the page into ArtifactDir/name and returns the PNG.
func Screenshot(tb testing.TB, ctx context.Context, name string) []byte {
	tb.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(tb, err)
	p := filepath.Join(ArtifactDir(tb), name)
	require.NoError(tb, os.WriteFile(p, png, 0o640))
	tb.Logf("screenshot: %s", p)
	return png
}
