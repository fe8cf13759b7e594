// Package browsertest runs a real browser for tests of the live page: Debian's chromium,
// headless, driven with chromedp.
//
// [Browser] finds chromium ($QWATCH_CHROMIUM, else chromium on PATH). Like the end-to-end
// tests against a real engine, browser tests run when QWATCH_E2E=1, where a missing browser
// fails them; otherwise they skip.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Width and Height are the browser window's size, which screenshots have too.
const (
	Width  = 1200
	Height = 800
)

// Browser is one headless chromium with one tab.
type Browser struct {
	t       testing.TB
	Ctx     context.Context // the tab's; pass it to chromedp.Run
	dialogs atomic.Int64
}

// New starts a headless chromium, or skips the test (fails it under QWATCH_E2E=1) when there
// is none. It is stopped when the test ends. Every JavaScript dialog (alert, confirm, prompt)
// the page opens is dismissed and counted in Dialogs.
func New(t testing.TB) *Browser {
	t.Helper()
	if os.Getenv("QWATCH_E2E") != "1" {
		t.Skip("browser tests run with QWATCH_E2E=1")
	}
	path := os.Getenv("QWATCH_CHROMIUM")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatalf("QWATCH_E2E=1 but no chromium (apt-get install -y chromium, or set QWATCH_CHROMIUM): %v", err)
		}
	}
	// Not t.TempDir: chromium's helper processes may still write to it for a moment after
	// the browser exits, so its removal is retried until they are done.
	profile, err := os.MkdirTemp("", "browsertest")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(Width, Height))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	b := &Browser{t: t, Ctx: ctx}
	var handlers sync.WaitGroup
	chromedp.ListenTarget(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			b.dialogs.Add(1)
			// A dialog blocks the page until it is answered; the answer cannot be sent
			// from the listener itself.
			handlers.Add(1)
			go func() {
				defer handlers.Done()
				chromedp.Run(ctx, page.HandleJavaScriptDialog(false))
			}()
		}
	})
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		handlers.Wait()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			err := os.RemoveAll(profile)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("removing the browser's profile: %v", err)
				break
			}
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("starting chromium %s: %v", path, err)
	}
	return b
}

// Dialogs returns how many JavaScript dialogs the page opened.
func (b *Browser) Dialogs() int64 { return b.dialogs.Load() }

// Run runs chromedp actions on the tab, failing the test on an error.
func (b *Browser) Run(actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// Eval evaluates a JavaScript expression in the page into out.
func (b *Browser) Eval(expr string, out any) {
	b.t.Helper()
	b.Run(chromedp.Evaluate(expr, out))
}

// WaitTrue polls a JavaScript expression until it is true; past timeout the test fails,
// saying what it waited for and what describe (an expression) shows then.
func (b *Browser) WaitTrue(timeout time.Duration, expr, describe string) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		b.Eval("!!("+expr+")", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var seen any
			b.Eval(describe, &seen)
			b.t.Fatalf("after %v, still not %s; the page shows: %v", timeout, expr, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// SetField sets the value of the form field with the given id as a person would, with the
// input event that follows.
func (b *Browser) SetField(id, value string) {
	b.t.Helper()
	js, _ := json.Marshal([]string{id, value})
	b.Eval(`(([id, v]) => { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event("input")); return true })(`+string(js)+`)`, new(bool))
}

// Screenshot saves the viewport as a PNG at the path in the environment variable env, when
// it is set.
func (b *Browser) Screenshot(env string) {
	b.t.Helper()
	path := os.Getenv(env)
	if path == "" {
		return
	}
	var png []byte
	b.Run(chromedp.CaptureScreenshot(&png))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(fmt.Errorf("saving the screenshot: %w", err))
	}
	b.t.Logf("screenshot saved to %s", path)
}
