package live

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qnib/qwatch/internal/browsertest"
	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/message"
)

// Scripts the browser tests evaluate in the page.
const (
	tailText  = `document.getElementById("tail").textContent`
	rowsShown = `document.querySelectorAll("#tail .line").length`
	// injected is set when markup from the data became elements, or a script of it ran.
	injected = `document.querySelectorAll("img, #tail script, #containers script, #tail *[onerror], #containers *[onerror]").length > 0 || window.pwned === true`
)

// The page in a real browser, served by an httptest server behind the token: it lists a
// container added after it opened and shows its lines live, filters by text and by level,
// shows fields, multi-line events and engine events, and shows markup in lines and names as
// text without running it.
func TestPageInBrowser(t *testing.T) {
	b := browsertest.New(t)
	s := NewSink(SinkConfig{})
	inv := inventory.New()
	inv.Put(inventory.Container{ID: "c-web", Name: "web-1", Image: "nginx:1.27", State: "running", Started: time.Now().Add(-time.Hour)})
	h := NewHandler(s, Config{Inventory: inv, Flush: 50 * time.Millisecond})
	srv := httptest.NewServer(RequireToken("tok3n", h))
	defer srv.Close()
	defer h.Close()
	write(t, s, logLine("h1", "c-web", "GET / 200 from the history"))

	var status string
	b.Run(chromedp.Navigate(srv.URL+"/"), chromedp.Text("body", &status))
	if status == "" || b.Dialogs() != 0 {
		t.Fatalf("without the token the page shows %q", status)
	}
	var location string
	b.Run(chromedp.Navigate(srv.URL+"/?token=tok3n"), chromedp.Location(&location))
	if location != srv.URL+"/" {
		t.Errorf("after the token the page is at %s, want %s/", location, srv.URL)
	}
	b.WaitTrue(10*time.Second, `document.getElementById("conn").textContent === "live"`, `document.getElementById("conn").textContent`)
	b.WaitTrue(10*time.Second, tailText+`.includes("GET / 200 from the history")`, tailText)

	// A container that appears after the page opened, and its lines.
	inv.Put(inventory.Container{ID: "c-late", Name: "late-1", Image: "logger:test", State: "running", Started: time.Now()})
	xssName := `<img src=x onerror="window.pwned=true;alert(3)">`
	inv.Put(inventory.Container{ID: "c-xss", Name: xssName, Image: "<script>window.pwned=true</script>", State: "exited", ExitCode: 137})
	multi := message.Message{ID: "m3", Time: time.Now(), Level: message.LevelErr, Text: "panic: boom",
		FullText: "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:5 +0x18", Container: message.Container{ID: "c-late", Name: "late-1"}}
	fields := logLine("m4", "c-late", `{"msg":"structured needle","user":"bob"}`)
	fields.Fields = map[string]any{"user": "bob", "status": 404.0}
	fields.Level = message.LevelWarning
	event := message.Message{ID: "m5", Kind: message.KindEvent, Time: time.Now(), Level: message.LevelInfo, Text: "container start late-1 (logger:test)",
		Container: message.Container{ID: "c-late", Name: "late-1"}, Event: message.Event{Type: "container", Action: "start"}}
	write(t, s, event, logLine("m1", "c-late", "hello needle from late-1"),
		logLine("m2", "c-late", `<img src=x onerror="window.pwned=true;alert(1)"> and <script>window.pwned=true;alert(2)</script>`),
		multi, fields)
	b.WaitTrue(10*time.Second, `[...document.querySelectorAll("#containers td.name")].some(td => td.textContent === "late-1")`, `document.getElementById("containers").textContent`)
	b.WaitTrue(10*time.Second, tailText+`.includes("hello needle from late-1")`, tailText)
	b.WaitTrue(10*time.Second, `[...document.querySelectorAll("#containers td.name")].some(td => td.textContent === `+jsString(xssName)+`)`, `document.getElementById("containers").textContent`)
	b.WaitTrue(10*time.Second, tailText+`.includes("<script>window.pwned=true;alert(2)</script>")`, tailText)
	b.WaitTrue(10*time.Second, `[...document.querySelectorAll("#tail pre")].some(p => p.textContent.includes("goroutine 1 [running]:\nmain.main()"))`, tailText)
	b.WaitTrue(10*time.Second, `[...document.querySelectorAll("#tail .field")].some(f => f.textContent === "status=404")`, tailText)
	b.WaitTrue(10*time.Second, `[...document.querySelectorAll("#tail .line.event")].some(e => e.textContent.includes("container start late-1"))`, tailText)
	var bad bool
	b.Eval(injected, &bad)
	if bad || b.Dialogs() != 0 {
		t.Fatalf("markup from the data ran: elements or script %v, dialogs %d", bad, b.Dialogs())
	}

	// Filters: by text, then by level.
	b.Run(chromedp.SendKeys("#filter-text", "needle", chromedp.ByID))
	b.WaitTrue(5*time.Second, rowsShown+` === 2 && [...document.querySelectorAll("#tail .line")].every(l => l.textContent.includes("needle"))`, tailText)
	b.SetField("filter-text", "")
	b.SetField("filter-level", "4")
	b.WaitTrue(5*time.Second, rowsShown+` === 2 && [...document.querySelectorAll("#tail .line")].every(l => /\bl[0-4]\b/.test(l.className))`, tailText)
	b.SetField("filter-level", "7")

	// Lines that come while the page is open and filtered to one container.
	b.Run(chromedp.Click(`#containers tr[data-cid="c-late"] input`, chromedp.ByQuery))
	write(t, s, logLine("m6", "c-web", "from web, not chosen"), logLine("m7", "c-late", "late again"))
	b.WaitTrue(5*time.Second, tailText+`.includes("late again") && !`+tailText+`.includes("from web")`, tailText)
	b.Eval(injected, &bad)
	if bad || b.Dialogs() != 0 {
		t.Fatalf("markup from the data ran: elements or script %v, dialogs %d", bad, b.Dialogs())
	}
	b.Screenshot("QWATCH_SCREENSHOT")
	s.Close(context.Background())
	b.WaitTrue(10*time.Second, `document.getElementById("conn").textContent !== "live"`, `document.getElementById("conn").textContent`)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
