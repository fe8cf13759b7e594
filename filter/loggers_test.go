package filter_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/filter"
	"github.com/qnib/qwatch/message"
)

// result is what the stage decides about a line.
type result struct {
	Text   string
	Level  message.Level
	Fields map[string]any
}

// readLines returns the lines of a file in testdata, which real loggers wrote (see
// testdata/gen for how).
func readLines(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

const stack = "Error: dial tcp: \"café\" refused\n    at emit (/app/node.js:13:20)\n" +
	"    at Object.<anonymous> (/app/node.js:%d:1)\n" +
	"    at Module._compile (node:internal/modules/cjs/loader:1521:14)\n" +
	"    at Module._extensions..js (node:internal/modules/cjs/loader:1623:10)\n" +
	"    at Module.load (node:internal/modules/cjs/loader:1266:32)\n" +
	"    at Module._load (node:internal/modules/cjs/loader:1091:12)\n" +
	"    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:164:12)\n" +
	"    at node:internal/main/run_main_module:28:49"

// TestRealLoggers runs the lines of real loggers through the stage, as a container's stdout
// or stderr would bring them (the logs source sets the stream's level and Fields["stream"]).
func TestRealLoggers(t *testing.T) {
	out := func(kv ...any) map[string]any { return fields(append([]any{"stream", "stdout"}, kv...)...) }
	errs := func(kv ...any) map[string]any { return fields(append([]any{"stream", "stderr"}, kv...)...) }
	refused := `dial tcp: "café" refused`
	tests := []struct {
		file   string
		stream string
		want   []result
	}{
		{"slog-json.log", "stdout", []result{
			{"cache warmed", message.LevelDebug, out("time", "2026-11-29T19:37:57.52532059Z", "entries", 42.0, "ratio", 0.75)},
			{"listening", message.LevelInfo, out("time", "2026-11-29T19:37:57.525423633Z", "addr", ":8080", "tls", false)},
			{"disk almost full", message.LevelWarning, out("time", "2026-11-29T19:37:57.525434185Z", "disk.free_mb", 512.0, "disk.path", "/var/lib/data")},
			{"request failed", message.LevelErr, out("time", "2026-11-29T19:37:57.525437176Z", "err", refused, "status", 502.0)},
			// A parsed "stream" never overwrites the source's.
			{"two\nlines", message.LevelInfo, out("time", "2026-11-29T19:37:57.525444471Z", "parsed.stream", "mine")},
		}},
		{"slog-text.log", "stdout", []result{
			{"cache warmed", message.LevelDebug, out("time", "2026-11-29T19:37:57.525Z", "entries", "42", "ratio", "0.75")},
			{"listening", message.LevelInfo, out("time", "2026-11-29T19:37:57.525Z", "addr", ":8080", "tls", "false")},
			{"disk almost full", message.LevelWarning, out("time", "2026-11-29T19:37:57.525Z", "disk.free_mb", "512", "disk.path", "/var/lib/data")},
			{"request failed", message.LevelErr, out("time", "2026-11-29T19:37:57.525Z", "err", refused, "status", "502")},
			{"two\nlines", message.LevelInfo, out("time", "2026-11-29T19:37:57.525Z", "parsed.stream", "mine")},
		}},
		// Python's logging writes to stderr: a line's own level replaces the stream's.
		{"python-logging.log", "stderr", []result{
			{"DEBUG:app:cache warmed entries=42", message.LevelDebug, errs()},
			{"INFO:app:listening on :8080", message.LevelInfo, errs()},
			{"WARNING:app:disk almost full", message.LevelWarning, errs()},
			{`ERROR:app:request failed: dial tcp: "café" refused`, message.LevelErr, errs()},
			{"CRITICAL:app:giving up", message.LevelCrit, errs()},
		}},
		{"python-asctime.log", "stderr", []result{
			{"2026-11-29 19:38:15,586 - app - DEBUG - cache warmed entries=42", message.LevelDebug, errs()},
			{"2026-11-29 19:38:15,587 - app - INFO - listening on :8080", message.LevelInfo, errs()},
			{"2026-11-29 19:38:15,587 - app - WARNING - disk almost full", message.LevelWarning, errs()},
			{`2026-11-29 19:38:15,587 - app - ERROR - request failed: dial tcp: "café" refused`, message.LevelErr, errs()},
			{"2026-11-29 19:38:15,587 - app - CRITICAL - giving up", message.LevelCrit, errs()},
		}},
		{"python-json.log", "stderr", []result{
			{"cache warmed entries=42", message.LevelDebug, errs("asctime", "2026-11-29 19:38:15,605", "name", "jsonapp")},
			{"listening on :8080", message.LevelInfo, errs("asctime", "2026-11-29 19:38:15,605", "name", "jsonapp")},
			{"disk almost full", message.LevelWarning, errs("asctime", "2026-11-29 19:38:15,605", "name", "jsonapp", "disk.free_mb", 512.0)},
			{"request failed: " + refused, message.LevelErr, errs("asctime", "2026-11-29 19:38:15,605", "name", "jsonapp")},
			{"giving up", message.LevelCrit, errs("asctime", "2026-11-29 19:38:15,605", "name", "jsonapp")},
		}},
		{"structlog.log", "stdout", []result{
			{"cache warmed", message.LevelDebug, out("entries", 42.0, "timestamp", "2026-11-29T19:38:15.669609Z")},
			{"listening", message.LevelInfo, out("addr", ":8080", "timestamp", "2026-11-29T19:38:15.669687Z")},
			{"disk almost full", message.LevelWarning, out("disk.free_mb", 512.0, "timestamp", "2026-11-29T19:38:15.670171Z")},
			{"request failed", message.LevelErr, out("err", refused, "timestamp", "2026-11-29T19:38:15.670212Z")},
		}},
		{"absl-glog.log", "stderr", []result{
			{"WARNING: Logging before flag parsing goes to stderr.", message.LevelWarning, errs()},
			{"I1129 19:38:15.768042 140129404750720 python.py:36] cache warmed entries=42", message.LevelInfo, errs()},
			{"I1129 19:38:15.768178 140129404750720 python.py:37] listening on :8080", message.LevelInfo, errs()},
			{"W1129 19:38:15.768211 140129404750720 python.py:38] disk almost full", message.LevelWarning, errs()},
			{`E1129 19:38:15.768238 140129404750720 python.py:39] request failed: dial tcp: "café" refused`, message.LevelErr, errs()},
		}},
		{"pino.log", "stdout", []result{
			{"cache warmed", message.LevelDebug, out("time", 1795981105921.0, "pid", 12603.0, "hostname", "vm", "entries", 42.0)},
			{"listening", message.LevelInfo, out("time", 1795981105921.0, "pid", 12603.0, "hostname", "vm", "addr", ":8080")},
			{"disk almost full", message.LevelWarning, out("time", 1795981105922.0, "pid", 12603.0, "hostname", "vm", "disk.free_mb", 512.0)},
			{"request failed", message.LevelErr, out("time", 1795981105922.0, "pid", 12603.0, "hostname", "vm",
				"err.type", "Error", "err.message", refused, "err.stack", strings.Replace(stack, "%d", "19", 1))},
			{"giving up", message.LevelCrit, out("time", 1795981105922.0, "pid", 12603.0, "hostname", "vm")},
		}},
		{"bunyan.log", "stdout", []result{
			{"cache warmed", message.LevelDebug, out("name", "app", "hostname", "vm", "pid", 12603.0, "entries", 42.0, "time", "2026-11-29T19:38:25.940Z", "v", 0.0)},
			{"listening", message.LevelInfo, out("name", "app", "hostname", "vm", "pid", 12603.0, "addr", ":8080", "time", "2026-11-29T19:38:25.940Z", "v", 0.0)},
			{"disk almost full", message.LevelWarning, out("name", "app", "hostname", "vm", "pid", 12603.0, "disk.free_mb", 512.0, "time", "2026-11-29T19:38:25.940Z", "v", 0.0)},
			{"request failed", message.LevelErr, out("name", "app", "hostname", "vm", "pid", 12603.0, "time", "2026-11-29T19:38:25.940Z", "v", 0.0,
				"err.message", refused, "err.name", "Error", "err.stack", strings.Replace(stack, "%d", "28", 1))},
			{"giving up", message.LevelCrit, out("name", "app", "hostname", "vm", "pid", 12603.0, "time", "2026-11-29T19:38:25.941Z", "v", 0.0)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			lines := readLines(t, tt.file)
			if len(lines) != len(tt.want) {
				t.Fatalf("%d lines, want %d", len(lines), len(tt.want))
			}
			stage := filter.New(filter.Config{})
			for i, line := range lines {
				m := streamLine(tt.stream, line)
				stage.Process(&m)
				got := result{m.Text, m.Level, m.Fields}
				if diff := cmp.Diff(tt.want[i], got); diff != "" {
					t.Errorf("line %d %q (-want +got):\n%s", i+1, line, diff)
				}
			}
		})
	}
}

// streamLine returns a line as the logs source emits it from a container's stream.
func streamLine(stream, line string) message.Message {
	level := message.LevelInfo
	if stream == "stderr" {
		level = message.LevelErr
	}
	return message.Message{Text: line, Level: level, Fields: map[string]any{"stream": stream}}
}

func fields(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}
