package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/internal/dockertest/lines"
)

// bulkStore is an Elasticsearch bulk endpoint that keeps each document once by _id (a second
// create of an _id is a 409, as in Elasticsearch) and can be switched down (503).
type bulkStore struct {
	down      atomic.Bool
	conflicts atomic.Int64 // creates of an _id already stored: repeats the store kept out
	// Faults to inject: a status for whole requests (401, say); 429 for every other item;
	// every resetEvery-th request indexed and then its connection reset, unanswered.
	status     atomic.Int32
	refused    atomic.Int64 // bulk requests answered with status
	refuseHalf atomic.Bool
	resetEvery atomic.Int32
	requests   atomic.Int64
	mu         sync.Mutex
	docs       map[string]string // _id → message
}

func newBulkStore(t *testing.T) (*bulkStore, *httptest.Server) {
	b := &bulkStore{docs: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(srv.Close)
	return b, srv
}

func (b *bulkStore) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/_bulk" {
		fmt.Fprint(w, `{"version":{"number":"8.15.0"},"acknowledged":true}`)
		return
	}
	if b.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if st := b.status.Load(); st != 0 {
		b.refused.Add(1)
		http.Error(w, `{"error":"refused"}`, int(st))
		return
	}
	req := b.requests.Add(1)
	refuse := b.refuseHalf.Load()
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var items []string
	b.mu.Lock()
	for sc.Scan() {
		var action struct {
			Create struct {
				ID string `json:"_id"`
			} `json:"create"`
		}
		json.Unmarshal(sc.Bytes(), &action)
		if !sc.Scan() {
			break
		}
		var doc struct {
			Message string `json:"message"`
		}
		json.Unmarshal(sc.Bytes(), &doc)
		status := 201
		if refuse && len(items)%2 == 1 {
			items = append(items, `{"create":{"status":429,"error":{"type":"es_rejected_execution_exception"}}}`)
			continue
		}
		if _, ok := b.docs[action.Create.ID]; ok {
			status = 409
			b.conflicts.Add(1)
		} else {
			b.docs[action.Create.ID] = doc.Message
		}
		items = append(items, fmt.Sprintf(`{"create":{"status":%d}}`, status))
	}
	b.mu.Unlock()
	if n := b.resetEvery.Load(); n > 0 && req%int64(n) == 0 {
		// Indexed, and the answer never comes: the connection is reset.
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"took":1,"errors":false,"items":[%s]}`, strings.Join(items, ","))
}

// messages returns how many documents hold each message.
func (b *bulkStore) messages() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int{}
	for _, m := range b.docs {
		out[m]++
	}
	return out
}

// kill -9 of qwatchd while Elasticsearch is down loses nothing it had accepted: after a
// restart with Elasticsearch up, every message is indexed exactly once.
func TestKillNineWithElasticsearchDown(t *testing.T) {
	store, es := newBulkStore(t)
	store.down.Store(true)
	state := t.TempDir()
	args := []string{"-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0", "-stdout", "none",
		"-http", "127.0.0.1:0", "-es-url", es.URL, "-es-wait", "-state-dir", state}
	d := startDaemon(t, args...)
	conn, err := net.Dial("udp", d.udp)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := range n {
		fmt.Fprintf(conn, `{"version":"1.1","host":"h","short_message":"numbered %d"}`, i)
		if i%100 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	conn.Close()
	d.waitMetric(`qwatch_sink_spooled{sink="elasticsearch"}`, n, 30*time.Second)
	if got := d.metric(`qwatch_gelf_kernel_drops_total`); got != 0 {
		t.Fatalf("the kernel dropped %v datagrams", got)
	}
	d.cmd.Process.Kill() // kill -9
	<-d.done

	store.down.Store(false)
	d2 := startDaemon(t, args...)
	deadline := time.Now().Add(60 * time.Second)
	for len(store.messages()) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := store.messages()
	for i := range n {
		if c := got[fmt.Sprintf("numbered %d", i)]; c != 1 {
			t.Errorf("message %d indexed %d times", i, c)
			break
		}
	}
	if len(got) != n {
		t.Errorf("%d distinct messages indexed, want %d", len(got), n)
	}
	d2.waitMetric(`qwatch_sink_recovered_total{sink="elasticsearch"}`, n, 5*time.Second)
	if code := d2.stop(); code != 0 {
		t.Errorf("exit code %d; stderr %v", code, d2.stderrLines())
	}
}

// Elasticsearch down for 10 s under a steady 5,000 messages a second over UDP: the sources
// never stall (the kernel drops nothing), and once it is back every message is indexed once.
func TestElasticsearchOutageUnderSteadyLoad(t *testing.T) {
	store, es := newBulkStore(t)
	store.down.Store(true)
	d := startDaemon(t, "-docker-host", "none", "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0",
		"-stdout", "none", "-http", "127.0.0.1:0", "-es-url", es.URL, "-es-wait")
	conn, err := net.Dial("udp", d.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const rate, seconds = 5000, 10
	n := 0
	start := time.Now()
	for n < rate*seconds {
		// Send what is due by now, in steps of a millisecond.
		for due := int(time.Since(start).Seconds() * rate); n < due && n < rate*seconds; n++ {
			fmt.Fprintf(conn, `{"version":"1.1","host":"h","short_message":"steady %d"}`, n)
		}
		time.Sleep(time.Millisecond)
	}
	d.waitMetric(`qwatch_sink_spooled{sink="elasticsearch"}`, float64(n), 30*time.Second)
	if got := d.metric(`qwatch_gelf_kernel_drops_total`); got != 0 {
		t.Errorf("the kernel dropped %v datagrams while Elasticsearch was down", got)
	}
	store.down.Store(false)
	deadline := time.Now().Add(60 * time.Second)
	for len(store.messages()) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := store.messages()
	if len(got) != n {
		t.Errorf("%d distinct messages indexed, want %d", len(got), n)
	}
	for m, c := range got {
		if c != 1 {
			t.Errorf("%q indexed %d times", m, c)
			break
		}
	}
	if code := d.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// The quickstart with no log options: a container on the engine's default driver appears on
// qwatchd's standard output, with its name.
func TestDockerLogsWithoutDriverChange(t *testing.T) {
	dockertest.Engine(t)
	image := dockertest.Image(t)
	d := startDaemon(t, "-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0", "-stdout", "json", "-http", "127.0.0.1:0", "-docker-logs")
	name := fmt.Sprintf("qwatch-quickstart-%d", time.Now().UnixNano()%1e9)
	dockertest.Docker(t, "run", "--rm", "--name", name, "--network", "none", image, "/logger", "-id", "hello", "-n", "3", "-every", "50ms")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		out := d.stdout.String()
		d.mu.Unlock()
		n := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, `"name":"`+name+`"`) && strings.Contains(line, `"message":"hello stdout`) {
				n++
			}
		}
		if n == 3 {
			d.stop()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("the container's 3 lines did not appear on stdout; stderr: %v", d.stderrLines())
}

// kill -9 of qwatchd while a container prints a numbered line every millisecond, through the
// logs source (no log driver change): after a restart every line is stored exactly once. Lines
// read again after the restart carry the IDs they had, so the store's create-by-ID keeps them
// out; the package documents up to about a second of them.
func TestKillNineWhileFollowingContainerLogs(t *testing.T) {
	dockertest.Engine(t)
	image := dockertest.Image(t)
	store, es := newBulkStore(t)
	args := []string{"-gelf-udp", "127.0.0.1:0", "-gelf-tcp", "127.0.0.1:0", "-stdout", "none",
		"-http", "127.0.0.1:0", "-es-url", es.URL, "-es-wait", "-state-dir", t.TempDir(), "-docker-logs"}
	d := startDaemon(t, args...)
	name := fmt.Sprintf("qwatch-kill9-%d", time.Now().UnixNano()%1e9)
	const n = 6000
	dockertest.Docker(t, "run", "-d", "--name", name, "--network", "none", image, "/logger", "-id", name, "-n", fmt.Sprint(n), "-every", "1ms")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	stored := func() (got, twice int) {
		msgs := store.messages()
		for i := range n {
			switch msgs[lines.Line(name, "stdout", i, 10)] {
			case 0:
			case 1:
				got++
			default:
				twice++
			}
		}
		return got, twice
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got, _ := stored(); got >= n/3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's lines did not reach the bulk server: %v", d.stderrLines())
		}
	}
	d.cmd.Process.Kill() // kill -9
	<-d.done
	before, _ := stored()
	d2 := startDaemon(t, args...)
	dockertest.Docker(t, "wait", name)
	waitUntil(t, time.Minute, func() error {
		if got, twice := stored(); got+twice < n {
			return fmt.Errorf("%d of %d lines stored once, %d stored twice", got, n, twice)
		}
		return nil
	})
	// Stopped, the daemon has delivered all it read: any line it sent again is in the store.
	if code := d2.stop(); code != 0 {
		t.Fatalf("exit code %d; stderr %v", code, d2.stderrLines())
	}
	got, twice := stored()
	t.Logf("%d lines stored before the kill, %d repeats after the restart kept out by their IDs", before, store.conflicts.Load())
	if got != n || twice != 0 {
		t.Fatalf("%d of %d lines stored once, %d stored twice", got, n, twice)
	}
	if c := store.conflicts.Load(); c > 2000 {
		t.Errorf("%d lines sent again after the restart; about a second of lines (1,000) is documented", c)
	}
}
