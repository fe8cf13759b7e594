package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/internal/dockertest/lines"
	"github.com/qnib/qwatch/internal/searchtest"
)

// TestDaemonOpenSearch runs qwatchd with its defaults and the index template against a real
// OpenSearch node, and containers whose lines it reads through the logs API and through
// Docker's GELF driver: every line and every engine event becomes one document, found by its
// message, container name and level, with the template's types in the mapping.
func TestDaemonOpenSearch(t *testing.T) {
	n := searchtest.OpenSearch(t)
	image := dockertest.Image(t)
	d := startDaemon(t, "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0", "-http", "127.0.0.1:0",
		"-stdout", "none", "-docker-logs", "-es-url", n.URL, "-es-template")
	if !slices.ContainsFunc(d.stderrLines(), func(l string) bool {
		return strings.HasPrefix(l, "elasticsearch: index template installed for opensearch 2.")
	}) {
		t.Errorf("no word of the template installed: %v", d.stderrLines())
	}

	run := fmt.Sprint(time.Now().UnixNano())
	const lineCount, minSize, maxSize = 200, 40, 400
	viaLogs, viaGELF := "qwatch-os-logs-"+run, "qwatch-os-gelf-"+run
	// Not removed at exit (no --rm), so that the logs source reads the last lines before the
	// container goes; removed when the test ends.
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", viaLogs) })
	dockertest.Docker(t, "run", "--name", viaLogs, "--network", "none", image,
		"/logger", "-id", viaLogs, "-n", fmt.Sprint(lineCount), "-min", fmt.Sprint(minSize), "-max", fmt.Sprint(maxSize), "-stream", "both")
	dockertest.Docker(t, "run", "--rm", "--name", viaGELF, "--network", "none", "--log-driver", "gelf",
		"--log-opt", "gelf-address=udp://"+d.udp, image,
		"/logger", "-id", viaGELF, "-n", fmt.Sprint(lineCount), "-min", fmt.Sprint(minSize), "-max", fmt.Sprint(maxSize), "-stream", "both", "-every", "1ms")

	const index = "qwatch-*"
	term := func(field, value string) map[string]any {
		return map[string]any{"term": map[string]any{field: value}}
	}
	and := func(q ...map[string]any) map[string]any {
		return map[string]any{"bool": map[string]any{"filter": q}}
	}
	for _, name := range []string{viaLogs, viaGELF} {
		logs := and(term("container.name", name), term("qwatch.kind", "log"))
		waitCount(t, n, index, logs, lineCount)
		if got := n.Count(t, index, logs); got != lineCount {
			t.Errorf("%s: %d log documents, want %d", name, got, lineCount)
		}
		if got := n.Count(t, index, and(term("container.name", name), term("log.level", "err"))); got != lineCount/2 {
			t.Errorf("%s: %d documents at level err (stderr), want %d", name, got, lineCount/2)
		}
		line := lines.Line(name, "stdout", 10, lines.Size(10, minSize, maxSize))
		if hits := n.Search(t, index, map[string]any{"match_phrase": map[string]any{"message": line}}); len(hits) != 1 || hits[0]["message"] != line {
			t.Errorf("%s: search for %q found %v", name, line, hits)
		}
		actions := []string{"create", "start", "die"}
		if name == viaGELF {
			actions = append(actions, "destroy")
		}
		for _, action := range actions {
			q := and(term("container.name", name), term("event.action", action))
			waitCount(t, n, index, q, 1)
			if got := n.Count(t, index, q); got != 1 {
				t.Errorf("%s: %d %s events, want 1", name, got, action)
			}
		}
	}
	for field, want := range map[string]string{
		"@timestamp": "date_nanos", "message": "text", "container.name": "keyword", "log.level": "keyword",
		"fields": "flat_object", "container.labels": "flat_object", "docker.event.actor.attributes": "flat_object",
	} {
		if got := n.MappingType(t, index, field); got != want {
			t.Errorf("%s mapped as %q, want %q", field, got, want)
		}
	}
	if code, body := healthz(t, d.http); code != http.StatusOK {
		t.Errorf("/healthz %d: %s", code, body)
	}
	if code := d.stop(); code != 0 {
		t.Fatalf("qwatchd exited with %d: %v", code, d.stderrLines())
	}
	offered, written, failed, dropped := d.summary("elasticsearch")
	if offered != written || failed != 0 || dropped != 0 {
		t.Errorf("elasticsearch summary offered=%d written=%d failed=%d dropped=%d", offered, written, failed, dropped)
	}
}

// waitCount waits until at least want documents in index match query.
func waitCount(t *testing.T, n searchtest.Node, index string, query map[string]any, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for n.Count(t, index, query) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d documents match %v after 2 minutes, want %d", n.Count(t, index, query), query, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func healthz(t *testing.T, addr string) (int, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// refusingEngine answers as OpenSearch 2.19 and refuses the index template as OpenSearch
// refuses one with a field type it does not know, until accept is set; the answers are
// captured from a real node.
func refusingEngine(t *testing.T, accept *atomic.Bool) *httptest.Server {
	root, err := os.ReadFile("../../sink/elasticsearch/testdata/root-opensearch-2.19.6.json")
	if err != nil {
		t.Fatal(err)
	}
	refusal, err := os.ReadFile("../../sink/elasticsearch/testdata/refused-flattened-opensearch-2.19.6.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/":
			w.Write(root)
		case r.Method == http.MethodPut && r.URL.Path == "/_index_template/qwatch" && accept.Load():
			io.WriteString(w, `{"acknowledged":true}`)
		case r.Method == http.MethodPut && r.URL.Path == "/_index_template/qwatch":
			w.WriteHeader(http.StatusBadRequest)
			w.Write(refusal)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestDaemonTemplateRefused: an index template the engine refuses stops qwatchd at start with
// the engine's reason; with -es-wait, qwatchd runs and /healthz reports it until the engine
// takes the template.
func TestDaemonTemplateRefused(t *testing.T) {
	const reason = "opensearch 2.19.6 refused the index template qwatch: No handler for type [flattened] declared on field [fields]"
	var accept atomic.Bool
	srv := refusingEngine(t, &accept)

	cmd := exec.Command(daemonBinary(t), "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "",
		"-state-dir", t.TempDir(), "-es-url", srv.URL, "-es-template")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), reason) {
		t.Errorf("without -es-wait: exit %d, output %q; want exit 1 and %q", code, out, reason)
	}

	d := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "", "-http", "127.0.0.1:0",
		"-es-url", srv.URL, "-es-template", "-es-wait")
	waitHealth(t, d.http, http.StatusServiceUnavailable, "sink elasticsearch: index template not installed: elasticsearch: "+reason)
	accept.Store(true)
	waitHealth(t, d.http, http.StatusOK, "ok")
	if code := d.stop(); code != 0 {
		t.Fatalf("qwatchd exited with %d: %v", code, d.stderrLines())
	}
}

// waitHealth waits until /healthz answers code with a body that contains want.
func waitHealth(t *testing.T, addr string, code int, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got, body := healthz(t, addr)
		if got == code && strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz %d %q, want %d with %q", got, body, code, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
