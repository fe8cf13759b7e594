package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// No secret given to qwatchd shows up in what it prints, logs, serves on /metrics and
// /healthz, or says at exit, even while Elasticsearch refuses it; credentials over plain
// HTTP draw a warning.
func TestNoSecretInOutput(t *testing.T) {
	const password, header, apiKey = "SENTINELpassword", "SENTINELheader", "SENTINELapikey"
	store, es := newBulkStore(t)
	store.status.Store(http.StatusUnauthorized)
	for _, creds := range [][]string{
		{"-es-user", "u", "-es-password", password, "-es-header", "Authorization: Bearer " + header},
		{"-es-api-key", apiKey},
	} {
		args := append([]string{"-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
			"-stdout", "json", "-http", "127.0.0.1:0", "-es-url", es.URL, "-es-wait", "-shutdown-timeout", "2s"}, creds...)
		refusedBefore := store.refused.Load()
		d := startDaemon(t, args...)
		conn, err := net.Dial("udp", d.udp)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(conn, `{"version":"1.1","host":"h","short_message":"hello"}`)
		conn.Close()
		d.waitMetric(`qwatch_sink_written_total{sink="stdout"}`, 1, 10*time.Second)
		// A second refused request is a retry, and the sink logs a refusal before it retries.
		waitUntil(t, 30*time.Second, func() error {
			if n := store.refused.Load() - refusedBefore; n < 2 {
				return fmt.Errorf("%d bulk requests refused, want 2", n)
			}
			return nil
		})
		// What is served is read once it shows the refusals.
		var served strings.Builder
		waitUntil(t, 30*time.Second, func() error {
			served.Reset()
			for _, path := range []string{"/metrics", "/healthz"} {
				resp, err := http.Get("http://" + d.http + path)
				if err != nil {
					return err
				}
				io.Copy(&served, resp.Body)
				resp.Body.Close()
			}
			if !strings.Contains(served.String(), `qwatch_elasticsearch_healthy{sink="elasticsearch"} 0`) {
				return errors.New("/metrics does not say Elasticsearch refuses")
			}
			if !strings.Contains(served.String(), "sink elasticsearch: bulk requests failing") {
				return errors.New("/healthz does not say Elasticsearch refuses")
			}
			return nil
		})
		d.stop()
		d.mu.Lock()
		all := d.stdout.String() + strings.Join(d.stderr, "\n") + served.String()
		d.mu.Unlock()
		if strings.Contains(all, "SENTINEL") {
			i := strings.Index(all, "SENTINEL")
			t.Errorf("a secret shows: …%s…", all[max(i-80, 0):min(i+40, len(all))])
		}
		if !strings.Contains(all, "credentials are sent over plain HTTP") {
			t.Errorf("no warning about credentials over plain HTTP in %v", d.stderrLines())
		}
	}
}
