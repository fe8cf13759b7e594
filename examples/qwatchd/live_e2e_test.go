package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qnib/qwatch/internal/browsertest"
	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/live"
)

// nonLoopback returns an address of this host other hosts could reach, for a listener on
// port 0, and the address a client here connects to it by: the first non-loopback IPv4
// address, else 0.0.0.0 reached over 127.0.0.1.
func nonLoopback(t *testing.T) (listen, dial string) {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String() + ":0", n.IP.String()
		}
	}
	return "0.0.0.0:0", "127.0.0.1"
}

// dialAddr is the address a client here reaches a qwatchd at, listening on served.
func dialAddr(served, dialHost string) string {
	_, port, _ := net.SplitHostPort(served)
	return net.JoinHostPort(dialHost, port)
}

// get fetches a URL without following redirects, with the headers given as name, value.
func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// -http on an address other hosts reach needs -http-token: without it qwatchd refuses to
// start, and says why without showing any secret.
func TestHTTPTokenRequiredOffLoopback(t *testing.T) {
	listen, _ := nonLoopback(t)
	yml := filepath.Join(t.TempDir(), "qwatch.yml")
	if err := os.WriteFile(yml, []byte("http: "+listen+"\nlisten-all: true\nhttp-token: SENTINELtoken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		says string
	}{
		{"no token", []string{"-http", listen, "-listen-all"}, nil, 2, "need -http-token"},
		{"no token on 0.0.0.0", []string{"-http", "0.0.0.0:9090", "-listen-all"}, nil, 2, "need -http-token"},
		{"no -listen-all either", []string{"-http", listen, "-http-token", "SENTINELtoken"}, nil, 2, "say -listen-all"},
		{"token on loopback is fine", []string{"-http", "127.0.0.1:0", "-http-token", "SENTINELtoken", "-healthcheck"}, nil, 1, ""},
		{"token from the environment", []string{"-http", listen, "-listen-all", "-healthcheck"}, map[string]string{"QWATCH_HTTP_TOKEN": "SENTINELtoken"}, 1, ""},
		{"token from the file", []string{"-config", yml, "-healthcheck"}, nil, 1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// -healthcheck stops after the settings are read, so a start needs no engine.
			code := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.says) {
				t.Errorf("stderr %q, want it to say %q", stderr.String(), tt.says)
			}
			if strings.Contains(stdout.String()+stderr.String(), "SENTINEL") {
				t.Errorf("the token shows: %s %s", stdout.String(), stderr.String())
			}
		})
	}
}

// The page and /inventory are served on -http, behind the token off loopback and when one is
// given; /metrics and /healthz never need it. The token shows nowhere in what qwatchd says.
func TestLiveServed(t *testing.T) {
	const token = "SENTINELtok3n"
	listen, dialHost := nonLoopback(t)
	for _, tt := range []struct {
		name  string
		args  []string
		dial  string
		token bool
	}{
		{"loopback without a token", []string{"-http", "127.0.0.1:0"}, "127.0.0.1", false},
		{"loopback with a token", []string{"-http", "127.0.0.1:0", "-http-token", token}, "127.0.0.1", true},
		{"other hosts with a token", []string{"-http", listen, "-listen-all", "-http-token", token}, dialHost, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0", "-stdout", "json"}, tt.args...)
			d := startDaemon(t, args...)
			base := "http://" + dialAddr(d.http, tt.dial)
			for _, path := range []string{"/metrics", "/healthz"} {
				if resp, body := get(t, base+path); resp.StatusCode != 200 {
					t.Errorf("%s without a token: %s %s", path, resp.Status, body)
				}
			}
			var auth []string
			if tt.token {
				for _, path := range []string{"/", "/inventory", "/stream", "/assets/app.js"} {
					if resp, body := get(t, base+path); resp.StatusCode != 401 {
						t.Errorf("%s without the token: %s %s", path, resp.Status, body)
					}
					if resp, _ := get(t, base+path, "Authorization", "Bearer wrong"); resp.StatusCode != 401 {
						t.Errorf("%s with a wrong token: %s", path, resp.Status)
					}
				}
				resp, _ := get(t, base+"/?token="+token)
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(resp.Cookies()) != 1 || resp.Cookies()[0].Name != live.TokenCookie {
					t.Errorf("/?token=: %s, Location %q, cookies %v; want 303 to / with the cookie", resp.Status, resp.Header.Get("Location"), resp.Cookies())
				}
				auth = []string{"Authorization", "Bearer " + token}
			}
			resp, body := get(t, base+"/", auth...)
			if resp.StatusCode != 200 || !strings.Contains(body, "qwatch live") || resp.Header.Get("Content-Security-Policy") == "" {
				t.Errorf("/: %s, CSP %q", resp.Status, resp.Header.Get("Content-Security-Policy"))
			}
			resp, body = get(t, base+"/inventory", auth...)
			var snap inventory.Snapshot
			if err := json.Unmarshal([]byte(body), &snap); resp.StatusCode != 200 || err != nil {
				t.Errorf("/inventory: %s %v: %s", resp.Status, err, body)
			}
			if v := d.metric("qwatch_live_pages"); v != 0 {
				t.Errorf("qwatch_live_pages = %v, want 0", v)
			}
			if code := d.stop(); code != 0 {
				t.Errorf("exit code %d", code)
			}
			d.mu.Lock()
			all := d.stdout.String() + strings.Join(d.stderr, "\n")
			d.mu.Unlock()
			if strings.Contains(all, "SENTINEL") {
				t.Errorf("the token shows in what qwatchd said: %s", all)
			}
		})
	}
}

// The live page in a real browser against qwatchd on an address other hosts reach, with the
// token, and a real engine: a container started after the page opened shows up with its
// lines, the filters work, and markup a container prints is shown as text.
func TestLivePageE2E(t *testing.T) {
	image := dockertest.Image(t)
	b := browsertest.New(t)
	const token = "page-e2e-token"
	listen, dialHost := nonLoopback(t)
	d := startDaemon(t, "-docker-logs=true", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0", "-stdout", "none",
		"-http", listen, "-listen-all", "-http-token", token)
	base := "http://" + dialAddr(d.http, dialHost)
	if resp, _ := get(t, base+"/"); resp.StatusCode != 401 {
		t.Fatalf("/ without the token: %s", resp.Status)
	}
	b.Run(chromedp.Navigate(base + "/?token=" + token))
	b.WaitTrue(20*time.Second, `document.getElementById("conn").textContent === "live"`, `document.body.textContent`)
	d.waitMetric("qwatch_live_pages", 1, 10*time.Second)

	name := fmt.Sprintf("page-e2e-%d", time.Now().UnixNano()%1e9)
	script := strings.Join([]string{
		"out " + name + " says hello {i}",
		`out <img src=x onerror="window.pwned=true;alert(1)"> <script>window.pwned=true;alert(2)</script>`,
		"err " + name + " something failed {i}",
		`out {"level":"warn","msg":"structured","user":"bob","n":{i}}`,
		"sleep 1s",
	}, "\n")
	dockertest.Docker(t, "run", "-d", "--name", name, "--network", "none", image, "/logger", "-script", script, "-n", "600")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })

	tail := `document.getElementById("tail").textContent`
	b.WaitTrue(60*time.Second, tail+`.includes("`+name+` says hello")`, tail)
	b.WaitTrue(30*time.Second, `[...document.querySelectorAll("#containers td.name")].some(td => td.textContent === "`+name+`")`,
		`document.getElementById("containers").textContent`)
	b.WaitTrue(10*time.Second, tail+`.includes('<img src=x onerror="window.pwned=true;alert(1)"> <script>window.pwned=true;alert(2)</script>')`, tail)
	b.WaitTrue(10*time.Second, `[...document.querySelectorAll("#tail .field")].some(f => f.textContent === "user=bob")`, tail)
	b.WaitTrue(10*time.Second, `[...document.querySelectorAll("#tail .line.event")].some(e => e.textContent.includes("`+name+`"))`, tail)
	checkNoInjection(t, b)

	// Only this container, then by text, then by level.
	b.Eval(`(() => { document.getElementById("all-containers").click();
		const tr = [...document.querySelectorAll("#containers tr")].find(r => r.querySelector("td.name")?.textContent === "`+name+`");
		window.chosen = tr.dataset.cid; tr.querySelector("input").click(); return true })()`, new(bool))
	b.WaitTrue(10*time.Second, `[...document.querySelectorAll("#tail .line")].every(l => l.dataset.cid === window.chosen)`,
		`JSON.stringify([window.chosen, [...document.querySelectorAll("#tail .line")].map(l => l.dataset.cid)])`)
	b.SetField("filter-text", "something failed")
	b.WaitTrue(10*time.Second, `document.querySelectorAll("#tail .line").length > 0 && [...document.querySelectorAll("#tail .line")].every(l => l.textContent.includes("something failed"))`, tail)
	b.SetField("filter-text", "")
	b.SetField("filter-level", "3")
	b.WaitTrue(10*time.Second, `document.querySelectorAll("#tail .line").length > 0 && [...document.querySelectorAll("#tail .line")].every(l => /\bl[0-3]\b/.test(l.className))`, tail)
	b.SetField("filter-level", "7")
	// New lines keep coming while filtered.
	b.WaitTrue(30*time.Second, tail+`.includes("`+name+` says hello 5")`, tail)
	checkNoInjection(t, b)
	b.Screenshot("QWATCH_SCREENSHOT")
}

func checkNoInjection(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	var bad bool
	b.Eval(`document.querySelectorAll("img, #tail script, #containers script, [onerror]").length > 0 || window.pwned === true`, &bad)
	if bad || b.Dialogs() != 0 {
		t.Fatalf("markup a container printed ran: elements or script %v, dialogs %d", bad, b.Dialogs())
	}
}
