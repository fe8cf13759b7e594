package filter_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/filter"
	"github.com/qnib/qwatch/message"
)

func TestParse(t *testing.T) {
	labels := func(mode string) map[string]string { return map[string]string{filter.LabelParse: mode} }
	tests := []struct {
		name   string
		cfg    filter.Config
		in     message.Message
		want   message.Message
		failed uint64 // parse failures counted
	}{
		{name: "JSON line",
			in: stdout(`{"level":"warn","msg":"disk almost full","disk":{"free_mb":512}}`),
			want: message.Message{Text: "disk almost full", Level: message.LevelWarning,
				Fields: fields("stream", "stdout", "disk.free_mb", 512.0)}},
		{name: "leading blanks",
			in:   stdout(" \t{\"msg\":\"hi\"}"),
			want: message.Message{Text: "hi", Level: message.LevelInfo, Fields: fields("stream", "stdout")}},
		{name: "no fields of its own keeps the map",
			in:   message.Message{Text: `{"msg":"hi","level":"debug"}`, Level: message.LevelInfo},
			want: message.Message{Text: "hi", Level: message.LevelDebug}},
		{name: "key names in any case",
			in:   stdout(`{"LEVEL":"Warn","Message":"m","Severity":"ERROR"}`),
			want: message.Message{Text: "m", Level: message.LevelWarning, Fields: fields("stream", "stdout", "Severity", "ERROR")}},
		{name: "numeric level as text",
			in:   stdout(`{"level":"40","msg":"m"}`),
			want: message.Message{Text: "m", Level: message.LevelWarning, Fields: fields("stream", "stdout")}},
		{name: "syslog number",
			in:   stdout(`{"level":3,"msg":"m"}`),
			want: message.Message{Text: "m", Level: message.LevelErr, Fields: fields("stream", "stdout")}},
		{name: "unknown level stays a field",
			in:   stderr(`{"level":"loud","msg":"m"}`),
			want: message.Message{Text: "m", Level: message.LevelErr, Fields: fields("stream", "stderr", "level", "loud")}},
		{name: "msg not a string",
			in:   stdout(`{"msg":42,"level":"info"}`),
			want: message.Message{Text: `{"msg":42,"level":"info"}`, Level: message.LevelInfo, Fields: fields("stream", "stdout", "msg", 42.0)}},
		{name: "empty msg",
			in:   stdout(`{"msg":"","x":1}`),
			want: message.Message{Text: `{"msg":"","x":1}`, Level: message.LevelInfo, Fields: fields("stream", "stdout", "msg", "", "x", 1.0)}},
		{name: "msg before message",
			in:   stdout(`{"message":"first","msg":"second"}`),
			want: message.Message{Text: "first", Level: message.LevelInfo, Fields: fields("stream", "stdout", "msg", "second")}},
		{name: "event is the message only without msg",
			in:   stdout(`{"event":"login","msg":"user logged in"}`),
			want: message.Message{Text: "user logged in", Level: message.LevelInfo, Fields: fields("stream", "stdout", "event", "login")}},
		{name: "time keys stay fields",
			in: stdout(`{"ts":1.7e9,"@timestamp":"2026-11-29T19:38:25.940Z","timestamp":"x","time":"y","msg":"m"}`),
			want: message.Message{Text: "m", Level: message.LevelInfo, Fields: fields("stream", "stdout",
				"ts", 1.7e9, "@timestamp", "2026-11-29T19:38:25.940Z", "timestamp", "x", "time", "y")}},
		{name: "arrays and nulls",
			in:   stdout(`{"tags":["a", 1],"none":null,"msg":"m"}`),
			want: message.Message{Text: "m", Level: message.LevelInfo, Fields: fields("stream", "stdout", "tags", `["a", 1]`)}},
		{name: "clash with a clash",
			in: message.Message{Text: `{"stream":"x","msg":"m"}`, Level: message.LevelInfo,
				Fields: fields("stream", "stdout", "parsed.stream", "y")},
			want: message.Message{Text: "m", Level: message.LevelInfo,
				Fields: fields("stream", "stdout", "parsed.stream", "y", filter.TruncatedField, 1.0)}},
		{name: "bounds",
			cfg: filter.Config{MaxFields: 1},
			in:  stdout(`{"a":1,"b":2,"c":3,"msg":"m"}`),
			want: message.Message{Text: "m", Level: message.LevelInfo,
				Fields: fields("stream", "stdout", "a", 1.0, filter.TruncatedField, 2.0)}},
		{name: "invalid JSON stays",
			in:     stdout(`{"msg":"cut off`),
			want:   stdout(`{"msg":"cut off`),
			failed: 1},
		{name: "number out of range",
			in:     stdout(`{"msg":"m","n":1e400}`),
			want:   stdout(`{"msg":"m","n":1e400}`),
			failed: 1},
		{name: "braces in prose stay, with their level",
			in:     stderr(`{ ERROR } is what the template printed`),
			want:   message.Message{Text: `{ ERROR } is what the template printed`, Level: message.LevelErr, Fields: fields("stream", "stderr")},
			failed: 1},
		{name: "logfmt",
			in: stdout("time=2026-11-29T19:37:57.525Z level=ERROR msg=\"request failed\" err=\"dial \\\"x\\\"\\tno\" status=502\r"),
			want: message.Message{Text: "request failed", Level: message.LevelErr,
				Fields: fields("stream", "stdout", "time", "2026-11-29T19:37:57.525Z", "err", "dial \"x\"\tno", "status", "502")}},
		{name: "log15's level names",
			in:   stdout(`t=2026-11-29T19:37:57+0000 lvl=eror msg="db down" id=7`),
			want: message.Message{Text: "db down", Level: message.LevelErr, Fields: fields("stream", "stdout", "t", "2026-11-29T19:37:57+0000", "id", "7")}},
		{name: "one pair is prose in auto mode",
			in:   stdout("status=ok"),
			want: stdout("status=ok")},
		{name: "one pair is enough in logfmt mode",
			in:   withLabels(stdout("status=ok"), labels("logfmt")),
			want: withLabels(message.Message{Text: "status=ok", Level: message.LevelInfo, Fields: fields("stream", "stdout", "status", "ok")}, labels("logfmt"))},
		{name: "prose with a pair",
			in:   stdout("a=b in prose"),
			want: stdout("a=b in prose")},
		{name: "prose with pairs and a quote",
			in:   stdout(`user=bob said="hi`),
			want: stdout(`user=bob said="hi`)},
		{name: "off label",
			in:   withLabels(stdout(`{"level":"error","msg":"m"}`), labels("off")),
			want: withLabels(stdout(`{"level":"error","msg":"m"}`), labels("off"))},
		{name: "off label keeps plain levels",
			in:   withLabels(stdout(`ERROR: x=1 y=2`), labels("off")),
			want: withLabels(message.Message{Text: "ERROR: x=1 y=2", Level: message.LevelErr, Fields: fields("stream", "stdout")}, labels("off"))},
		{name: "off by default, json by label",
			cfg:  filter.Config{Parse: filter.ModeOff},
			in:   withLabels(stdout(`{"msg":"m"}`), labels("JSON")),
			want: withLabels(message.Message{Text: "m", Level: message.LevelInfo, Fields: fields("stream", "stdout")}, labels("JSON"))},
		{name: "json label refuses logfmt",
			in:     withLabels(stdout("a=1 b=2"), labels("json")),
			want:   withLabels(stdout("a=1 b=2"), labels("json")),
			failed: 1},
		{name: "logfmt label refuses JSON",
			in:     withLabels(stdout(`{"a":1}`), labels("logfmt")),
			want:   withLabels(stdout(`{"a":1}`), labels("logfmt")),
			failed: 1},
		{name: "unknown label value means the default",
			in:   withLabels(stdout(`{"msg":"m"}`), labels("yaml")),
			want: withLabels(message.Message{Text: "m", Level: message.LevelInfo, Fields: fields("stream", "stdout")}, labels("yaml"))},
		{name: "multi-line JSON event",
			in: stderr("{\"level\":\"error\",\"msg\":\"boom\"}\nTraceback (most recent call last):\n  File \"x.py\", line 1"),
			want: message.Message{Text: "boom\nTraceback (most recent call last):\n  File \"x.py\", line 1",
				Level: message.LevelErr, Fields: fields("stream", "stderr")}},
		{name: "multi-line logfmt event",
			in: stderr("level=error msg=boom\npanic: x\n\ngoroutine 1 [running]:"),
			want: message.Message{Text: "boom\npanic: x\n\ngoroutine 1 [running]:",
				Level: message.LevelErr, Fields: fields("stream", "stderr")}},
		{name: "multi-line without a message key",
			in: stderr("{\"level\":\"info\",\"a\":1}\n\tat x"),
			want: message.Message{Text: "{\"level\":\"info\",\"a\":1}\n\tat x",
				Level: message.LevelInfo, Fields: fields("stream", "stderr", "a", 1.0)}},
		{name: "multi-line plain event: the first line's level",
			in: stderr("2026-11-29 19:38:15,587 INFO handled\nTraceback (most recent call last):\nValueError: ERROR"),
			want: message.Message{Text: "2026-11-29 19:38:15,587 INFO handled\nTraceback (most recent call last):\nValueError: ERROR",
				Level: message.LevelInfo, Fields: fields("stream", "stderr")}},
		{name: "events are left alone",
			in:   message.Message{Kind: message.KindEvent, Text: `{"level":"error"}`, Level: message.LevelInfo},
			want: message.Message{Kind: message.KindEvent, Text: `{"level":"error"}`, Level: message.LevelInfo}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stage := filter.New(tt.cfg)
			m := tt.in
			if !stage.Parse(&m) {
				t.Error("Parse dropped the message")
			}
			if diff := cmp.Diff(tt.want, m); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.in.Text, diff)
			}
			if got := stage.Stats().ParseFailures; got != tt.failed {
				t.Errorf("%d parse failures counted, want %d", got, tt.failed)
			}
		})
	}
}

func TestParseKeepsTheSourceMap(t *testing.T) {
	// A source may share one map between messages: parsing never writes into it.
	shared := fields("stream", "stdout")
	m := message.Message{Text: `{"msg":"m","a":1}`, Fields: shared}
	filter.New(filter.Config{}).Parse(&m)
	if diff := cmp.Diff(fields("stream", "stdout"), shared); diff != "" {
		t.Errorf("the source's map changed (-want +got):\n%s", diff)
	}
	if m.Fields["a"] != 1.0 {
		t.Errorf("fields %v", m.Fields)
	}
}

func TestService(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		had    message.Service
		want   message.Service
	}{
		{"compose", map[string]string{"com.docker.compose.service": "web", "com.docker.compose.project": "shop"},
			message.Service{}, message.Service{Name: "web", Namespace: "shop"}},
		{"swarm stack", map[string]string{"com.docker.swarm.service.name": "shop_web", "com.docker.stack.namespace": "shop"},
			message.Service{}, message.Service{Name: "web", Namespace: "shop"}},
		{"swarm without a stack", map[string]string{"com.docker.swarm.service.name": "web"},
			message.Service{}, message.Service{Name: "web"}},
		{"swarm service outside its stack's prefix", map[string]string{"com.docker.swarm.service.name": "shopweb", "com.docker.stack.namespace": "shop"},
			message.Service{}, message.Service{Name: "shopweb", Namespace: "shop"}},
		{"compose wins over swarm", map[string]string{"com.docker.compose.service": "web", "com.docker.swarm.service.name": "x_y",
			"com.docker.compose.project": "shop", "com.docker.stack.namespace": "x"},
			message.Service{}, message.Service{Name: "web", Namespace: "shop"}},
		{"set already", map[string]string{"com.docker.compose.service": "web", "com.docker.compose.project": "shop"},
			message.Service{Name: "api"}, message.Service{Name: "api", Namespace: "shop"}},
		{"no labels", nil, message.Service{}, message.Service{}},
		{"other labels", map[string]string{"maintainer": "x"}, message.Service{}, message.Service{}},
		{"empty values", map[string]string{"com.docker.compose.service": "", "com.docker.swarm.service.name": "web"},
			message.Service{}, message.Service{Name: "web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kind := range []message.Kind{message.KindLog, message.KindEvent} {
				m := message.Message{Kind: kind, Container: message.Container{Labels: tt.labels}, Service: tt.had}
				if !filter.Service(&m) {
					t.Error("Service dropped the message")
				}
				if diff := cmp.Diff(tt.want, m.Service); diff != "" {
					t.Errorf("%v: service (-want +got):\n%s", kind, diff)
				}
			}
		})
	}
}

func TestModeText(t *testing.T) {
	for _, mode := range []filter.Mode{filter.ModeAuto, filter.ModeJSON, filter.ModeLogfmt, filter.ModeOff} {
		b, err := mode.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back filter.Mode
		if err := back.UnmarshalText([]byte(strings.ToUpper(string(b)))); err != nil || back != mode {
			t.Errorf("%v: read back %v, %v", mode, back, err)
		}
	}
	if _, err := filter.ParseMode("yaml"); err == nil {
		t.Error(`ParseMode("yaml") succeeded`)
	}
	if _, err := filter.Mode(9).MarshalText(); err == nil || filter.Mode(9).String() != "mode(9)" {
		t.Errorf("Mode(9): %v, %q", err, filter.Mode(9).String())
	}
}

func TestStats(t *testing.T) {
	stage := filter.New(filter.Config{MaxFields: 1})
	for _, line := range []string{
		`{"level":"error","msg":"a","x":1,"y":2}`, // json, err, one field cut
		`{"broken`,         // failure
		`level=info msg=b`, // logfmt, info
		`WARN plain`,       // warning
		`plain`,            // nothing
	} {
		m := stdout(line)
		stage.Process(&m)
	}
	want := filter.Stats{JSON: 1, Logfmt: 1, ParseFailures: 1, FieldsCut: 1}
	want.Levels[message.LevelErr], want.Levels[message.LevelInfo], want.Levels[message.LevelWarning] = 1, 1, 1
	if diff := cmp.Diff(want, stage.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestConcurrent runs the stage on many goroutines at once (under -race, that is the test)
// and checks that every count adds up.
func TestConcurrent(t *testing.T) {
	const goroutines, each = 8, 500
	stage := filter.New(filter.Config{})
	labels := map[string]string{"com.docker.compose.service": "web", "com.docker.compose.project": "shop"}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var m message.Message
				switch (g + i) % 3 {
				case 0:
					m = stdout(`{"level":"warn","msg":"m","n":1}`)
				case 1:
					m = stdout(`level=error msg=m n=1`)
				default:
					m = stderr(`INFO:root:m`)
				}
				m.Container.Labels = labels
				for _, p := range stage.Processors() {
					p(&m)
				}
				if m.Text != "m" && m.Text != "INFO:root:m" || m.Service.Name != "web" {
					t.Errorf("message %+v", m)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := stage.Stats()
	levels := st.Levels[message.LevelWarning] + st.Levels[message.LevelErr] + st.Levels[message.LevelInfo]
	if st.JSON+st.Logfmt+st.Levels[message.LevelInfo] != goroutines*each || levels != goroutines*each {
		t.Errorf("stats %+v do not add up to %d messages", st, goroutines*each)
	}
}

// FuzzStage checks the stage's promise on any line: it never panics; a line encoding/json
// rejects is left as it was (only its plain-line level may be read); a document stays valid.
func FuzzStage(f *testing.F) {
	for _, s := range []string{
		`{"level":"warn","msg":"disk almost full","disk":{"free_mb":512}}`, `{"msg":"x"`, `{ ERROR }`,
		`level=info msg="a b" c=1`, `a=b in prose`, "ERROR: x\nINFO: y", `<3>boom`, `E1129 18:00:00.123456 x`,
		"{\"msg\":\"\xff\"}", `{"a":{"b":{"c":{"d":{"e":1}}}}}`, `k="\x41\u00e9"`,
	} {
		f.Add(s, uint8(0))
	}
	auto, off := filter.New(filter.Config{}), filter.New(filter.Config{Parse: filter.ModeOff})
	f.Fuzz(func(t *testing.T, line string, mode uint8) {
		in := stdout(line)
		in.Container.Labels = map[string]string{filter.LabelParse: filter.Mode(mode % 5).String()}
		m := in
		auto.Process(&m)
		plain := in
		off.Process(&plain)
		first, _, _ := strings.Cut(line, "\n")
		var obj map[string]any
		if strings.HasPrefix(strings.TrimLeft(first, " \t"), "{") && json.Unmarshal([]byte(first), &obj) != nil {
			if diff := cmp.Diff(plain, m); diff != "" {
				t.Fatalf("invalid JSON %q changed (-want +got):\n%s", line, diff)
			}
		}
		if m.Fields["stream"] != "stdout" {
			t.Fatalf("the source's field was overwritten: %v", m.Fields)
		}
		if utf8.ValidString(line) {
			var back map[string]any
			if err := json.Unmarshal(m.AppendJSON(nil), &back); err != nil {
				t.Fatalf("document of %q: %v", line, err)
			}
		}
	})
}

func stdout(line string) message.Message {
	return message.Message{Text: line, Level: message.LevelInfo, Fields: map[string]any{"stream": "stdout"}}
}

func stderr(line string) message.Message {
	return message.Message{Text: line, Level: message.LevelErr, Fields: map[string]any{"stream": "stderr"}}
}

func withLabels(m message.Message, labels map[string]string) message.Message {
	m.Container.Labels = labels
	return m
}

// TestPlainLineAllocations holds the promise that a plain line costs no allocation, whatever
// the stage reads from it.
func TestPlainLineAllocations(t *testing.T) {
	stage := filter.New(filter.Config{})
	labels := map[string]string{"com.docker.compose.service": "web", "com.docker.compose.project": "shop", "maintainer": "ops"}
	for _, line := range []string{
		"2026-11-29 19:38:15.587 handled GET /api/v1/orders?page=2 in 3.2 ms (200, 1532 bytes)",
		"2026-11-29 19:38:15,587 - app - ERROR - request failed",
		"\x1b[31mERROR\x1b[0m x",
		"E1129 19:38:15.768238 1 main.go:39] request failed",
		"a=b in prose",
		"{ not JSON",
		"Traceback (most recent call last):\n  File \"x.py\", line 1",
	} {
		in := stderr(line)
		in.Container.Labels = labels
		if n := testing.AllocsPerRun(100, func() {
			m := in
			stage.Process(&m)
		}); n != 0 {
			t.Errorf("%q: %v allocations", line, n)
		}
	}
}
