package elasticsearch_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/qwatchtest"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

// victoriaLogs returns the URL of a VictoriaLogs server, a real server of the bulk protocol,
// from QWATCH_VICTORIALOGS_URL; it skips the test when unset, unless QWATCH_E2E=1.
func victoriaLogs(t *testing.T) string {
	u := os.Getenv("QWATCH_VICTORIALOGS_URL")
	if u == "" {
		if os.Getenv("QWATCH_E2E") == "1" {
			t.Fatal("QWATCH_E2E=1 but QWATCH_VICTORIALOGS_URL is not set")
		}
		t.Skip("QWATCH_VICTORIALOGS_URL not set (.ci/start-victorialogs starts a server)")
	}
	return u
}

// vlConfig is what VictoriaLogs needs to know of the document form.
func vlConfig(base string) elasticsearch.Config {
	return elasticsearch.Config{
		URLs: []string{base + "/insert/elasticsearch"},
		Headers: http.Header{"VL-Msg-Field": {"message"}, "VL-Time-Field": {"@timestamp"},
			"VL-Stream-Fields": {"qwatch.source,container.name"}},
	}
}

// queryVL returns the documents VictoriaLogs holds for a LogsQL query, as flat field maps.
func queryVL(t *testing.T, base, query string) []map[string]string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.PostForm(base+"/select/logsql/query", url.Values{"query": {query}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("query status %d", resp.StatusCode)
	}
	var out []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("query row %q: %v", sc.Text(), err)
		}
		out = append(out, row)
	}
	return out
}

func TestVictoriaLogs(t *testing.T) {
	base := victoriaLogs(t)
	s := newSink(t, vlConfig(base))
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	run := fmt.Sprintf("vl-%d", time.Now().UnixNano())
	msgs := qwatchtest.SampleMessages(500)
	for i := range msgs {
		msgs[i].Source = run
		msgs[i].Time = time.Now().Add(-time.Duration(len(msgs)-i) * time.Millisecond).Truncate(time.Microsecond)
	}
	for _, batch := range [][]message.Message{msgs[:100], msgs[100:]} {
		if err := s.Write(context.Background(), slices.Clone(batch)); err != nil {
			t.Fatal(err)
		}
	}
	var rows []map[string]string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		rows = queryVL(t, base, `qwatch.source:"`+run+`"`)
		if len(rows) >= len(msgs) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	byID := map[string]map[string]string{}
	for _, r := range rows {
		byID[r["qwatch.id"]] = r
	}
	if len(rows) != len(msgs) || len(byID) != len(msgs) {
		t.Fatalf("VictoriaLogs holds %d documents (%d distinct IDs), want %d", len(rows), len(byID), len(msgs))
	}
	for _, m := range msgs {
		r, ok := byID[m.ID]
		switch {
		case !ok:
			t.Errorf("message %s not stored", m.ID)
		case r["_msg"] != m.Text || r["log.level"] != m.Level.String() || r["container.name"] != m.Container.Name:
			t.Errorf("stored %v, want text %q level %v container %q", r, m.Text, m.Level, m.Container.Name)
		case !strings.HasPrefix(r["_time"], m.Time.UTC().Format("2006-01-02T15:04:05")):
			t.Errorf("stored time %s, want %s", r["_time"], m.Time.UTC())
		}
	}
	if st := s.Stats(); st.Indexed != uint64(len(msgs)) || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A real server of the protocol takes a request whose IDs hold control characters and
// invalid UTF-8: every document of it is stored. VictoriaLogs reads action lines leniently
// (it took Go's \x escapes too); the strict check of each line is the fake bulk server's, in
// TestOddIDsAndIndexKeepTheRequestValid.
func TestVictoriaLogsOddIDs(t *testing.T) {
	base := victoriaLogs(t)
	s := newSink(t, vlConfig(base))
	run := fmt.Sprintf("vl-odd-%d", time.Now().UnixNano())
	msgs := qwatchtest.SampleMessages(4)
	for i, id := range []string{"ctl\x01\x1f", "bad\xff\xc3", `quote"back\`, msgs[3].ID} {
		msgs[i].ID, msgs[i].Source, msgs[i].Time = id, run, time.Now()
	}
	if err := s.Write(context.Background(), msgs); err != nil {
		t.Fatalf("Write = %v", err)
	}
	var rows []map[string]string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if rows = queryVL(t, base, `qwatch.source:"`+run+`"`); len(rows) >= len(msgs) {
			break
		}
	}
	got := map[string]bool{}
	for _, r := range rows {
		got[r["qwatch.id"]] = true
	}
	for _, want := range []string{"ctl\x01\x1f", "bad\ufffd\ufffd", `quote"back\`, msgs[3].ID} {
		if !got[want] {
			t.Errorf("no document with qwatch.id %q; stored %v", want, got)
		}
	}
	if st := s.Stats(); st.Indexed != uint64(len(msgs)) || st.Failed != 0 || st.DeadLettered != 0 {
		t.Errorf("stats %+v", st)
	}
}
