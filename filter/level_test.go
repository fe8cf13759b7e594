package filter

import (
	"strings"
	"testing"

	"github.com/qnib/qwatch/message"
)

func TestPlainLevel(t *testing.T) {
	const none = message.Level(255)
	tests := []struct {
		line string
		want message.Level
	}{
		// Bare upper-case names after a timestamp, as most formats write them.
		{"2026-11-29 19:38:15,587 - app - ERROR - request failed", message.LevelErr},
		{"2026-11-29T19:38:15.587+01:00  WARN 1 --- [main] o.s.b.StartupInfoLogger : Starting", message.LevelWarning},
		{"19:38:15.587 [main] DEBUG com.example.App - cache warmed", message.LevelDebug},
		{"2026-11-29 19:38:15.587 UTC [1] FATAL:  password authentication failed", message.LevelCrit},
		{"2026/11/29 19:38:15 INFO listening on :8080", message.LevelInfo},
		{"[2026-11-29 19:38:15,587] WARNING in app: slow", message.LevelWarning},
		{"Nov 29 19:38:15 vm app[12]: CRITICAL disk gone", message.LevelCrit},
		{"TRACE entering loop", message.LevelDebug},
		{"NOTICE: configuration reloaded", message.LevelNotice},
		{"FAIL: TestSomething (0.00s)", message.LevelErr},
		{"ERR|db|connection reset", message.LevelErr},
		// Python's logging default format.
		{"INFO:root:listening on :8080", message.LevelInfo},
		{"ERROR:app.db:connection refused", message.LevelErr},
		{"WARNING:py.warnings:DeprecationWarning", message.LevelWarning},
		// Brackets, in any case.
		{"[error] 7#7: *1 open() failed", message.LevelErr},
		{"2026/11/29 19:38:15 [error] 7#7: *1 open() failed", message.LevelErr},
		{"2026-11-29T19:38:15.123456Z 0 [Warning] [MY-010068] [Server] CA certificate is self signed", message.LevelWarning},
		{"[Sat Nov 29 19:38:15.123456 2026] [core:error] [pid 35708] AH00124: request exceeded", message.LevelErr},
		{"[INFO] started", message.LevelInfo},
		// The first word in any case before a colon (.NET, Node, winston, PHP).
		{"info: Microsoft.Hosting.Lifetime[14]", message.LevelInfo},
		{"fail: Microsoft.AspNetCore.Server.Kestrel[13]", message.LevelErr},
		{"warn: something odd", message.LevelWarning},
		{"Error: Cannot find module 'express'", message.LevelErr},
		{"PHP Notice:  Undefined variable", none}, // "Notice:" is the second word
		{"2026-11-29 19:38:15 error: connection lost", message.LevelErr},
		// glog and klog.
		{"E1129 19:38:15.768238 140129404750720 python.py:39] request failed", message.LevelErr},
		{"I1129 19:38:15.768042    1 main.go:12] listening", message.LevelInfo},
		{"W0102 03:04:05.000000 1 x.go:1] w", message.LevelWarning},
		{"F1129 19:38:15.768238 1 x.go:1] f", message.LevelCrit},
		{"X1129 19:38:15.768238 1 x.go:1] x", none},
		{"E1129 1", none},
		// Syslog priorities.
		{"<3>disk failed", message.LevelErr},
		{"<14>Nov 29 19:38:15 host app: hello", message.LevelInfo},
		{"<0>", message.LevelEmerg},
		{"<192>too big", none},
		{"<html>", none},
		{"<>", none},
		// Prose, and forms too far from the start or not level names.
		{"no error found", none},
		{"An error occurred while ERROR handling was off", none},
		{"Starting server on port 8080", none},
		{"info about the error", none},
		{"error in prose without colon", none},
		{"one two three four ERROR", none},
		{"INFORMATIONAL", message.LevelInfo},
		{"INFOS: not a level", none},
		{"ERRORS: 3", none},
		{"ERROR.", none},
		{"[main] [worker] [pool] [x] ERROR late", none},
		{"", none},
		{"   ", none},
		{"{\"level\":\"error\"}", none},
		{"GET /healthz 200 - ERROR", message.LevelErr}, // upper case within the first words counts
		// Terminal colours.
		{"\x1b[31mERROR\x1b[0m request failed", message.LevelErr},
		{"2026-11-29 19:38:15 \x1b[0m \x1b[1;33mWARN\x1b[0m: slow", message.LevelWarning},
		{"\x1b[2m19:38:15\x1b[0m \x1b[32minfo\x1b[39m: listening", message.LevelInfo},
		{"\x1b[31mno error found", none},
		// Only the first line of a multi-line event.
		{"Traceback (most recent call last):\n  File \"x\", line 1\nERROR: x", none},
		{"ERROR: first\nINFO: second", message.LevelErr},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, ok := plainLevel(tt.line)
			if !ok {
				got = none
			}
			if got != tt.want {
				t.Errorf("plainLevel(%q) = %v, want %v", tt.line, got, tt.want)
			}
		})
	}
}

func TestPlainLevelScanLimit(t *testing.T) {
	// Numbers are passed over, so a level word can start just before the byte limit.
	prefix := "11 " + strings.Repeat("1 ", (levelScanBytes-6)/2)
	if len(prefix) != levelScanBytes-3 {
		t.Fatalf("prefix of %d bytes", len(prefix))
	}
	if l, ok := plainLevel(prefix + "ERR"); !ok || l != message.LevelErr {
		t.Errorf("plainLevel of a line ending in ERR at the limit = %v, %v; want err", l, ok)
	}
	// "ERROR" cut by the limit is not read as "ERR".
	if l, ok := plainLevel(prefix + "ERROR"); ok {
		t.Errorf("plainLevel read %v from a word the scan limit cut", l)
	}
}

func TestLevelOfNumber(t *testing.T) {
	tests := []struct {
		n    float64
		want message.Level
		ok   bool
	}{
		{0, message.LevelEmerg, true}, {3, message.LevelErr, true}, {7, message.LevelDebug, true},
		{10, message.LevelDebug, true}, {20, message.LevelDebug, true}, {30, message.LevelInfo, true},
		{35, message.LevelInfo, true}, {40, message.LevelWarning, true}, {50, message.LevelErr, true},
		{60, message.LevelCrit, true}, {100, message.LevelCrit, true},
		{8, 0, false}, {9, 0, false}, {101, 0, false}, {-1, 0, false}, {3.5, 0, false}, {1e300, 0, false},
	}
	for _, tt := range tests {
		got, ok := levelOfNumber(tt.n)
		if got != tt.want || ok != tt.ok {
			t.Errorf("levelOfNumber(%v) = %v, %v; want %v, %v", tt.n, got, ok, tt.want, tt.ok)
		}
	}
}
