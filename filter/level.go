package filter

import (
	"strings"

	"github.com/qnib/qwatch/message"
)

// How far into a plain line a level is looked for: past a timestamp, within the first few
// words. A level word further on is prose ("no error found"), not a level.
const (
	levelScanBytes = 128
	levelScanWords = 4
)

// levelOfName maps the level names loggers write, in any case, to syslog severities: the
// names message.ParseLevel accepts, and trace, dbug and trce (.NET), eror (log15), fail
// (.NET), severe (java.util.logging), information and verbose (Serilog). It does not
// allocate.
func levelOfName(s string) (message.Level, bool) {
	var buf [len("informational")]byte
	if len(s) < 3 || len(s) > len(buf) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(s)]) {
	case "emerg", "emergency", "panic":
		return message.LevelEmerg, true
	case "alert":
		return message.LevelAlert, true
	case "crit", "critical", "fatal":
		return message.LevelCrit, true
	case "err", "error", "eror", "fail", "severe":
		return message.LevelErr, true
	case "warn", "warning":
		return message.LevelWarning, true
	case "notice":
		return message.LevelNotice, true
	case "info", "information", "informational":
		return message.LevelInfo, true
	case "debug", "dbug", "trace", "trce", "verbose":
		return message.LevelDebug, true
	}
	return 0, false
}

// plainLevel finds the level a plain line names near its start, in its first line only:
//   - a syslog priority prefix, "<3>" (the severity is the priority modulo 8);
//   - glog's and klog's header, "E1129 18:00:00.123456" (I, W, E or F, then MMDD and a time);
//   - among the first words after any timestamp, a level name in upper case standing alone
//     or before ':', '|', ',' or ';' ("ERROR", "WARN:", Python's "INFO:root:"), a level name
//     in brackets in any case ("[error]", "[Warning]", Apache's "[core:error]"), or, as the
//     first word, a level name in any case before ':' ("error:", .NET's "warn:").
//
// Words that start with a digit (dates, times, process IDs) and words without letters ("-",
// "|") are passed over without counting. A lower-case level word elsewhere is prose.
func plainLevel(text string) (message.Level, bool) {
	s, cut := text, false
	if len(s) > levelScanBytes {
		s, cut = s[:levelScanBytes], true
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s, cut = s[:i], false
	}
	if l, ok := priLevel(s); ok {
		return l, true
	}
	if l, ok := glogLevel(s); ok {
		return l, true
	}
	words := 0
	for i := 0; i < len(s) && words < levelScanWords; {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		start := i
		for i < len(s) && !isBlank(s[i]) {
			i++
		}
		if start == i || (cut && i == len(s)) {
			break // the end of the line, or a word the scan limit split
		}
		l, found, word := wordLevel(s[start:i], words == 0)
		if found {
			return l, true
		}
		if word {
			words++
		}
	}
	return 0, false
}

// wordLevel returns the level one word names; word reports whether it counts as a word.
func wordLevel(w string, first bool) (l message.Level, found, word bool) {
	lead := strings.TrimLeft(w, "[(<+-")
	if lead == "" || isDigit(lead[0]) {
		return 0, false, false
	}
	if w[0] == '[' {
		return bracketLevel(w[1:])
	}
	n := letters(w)
	if n == 0 {
		return 0, false, hasLetter(w)
	}
	name := w[:n]
	var next byte // 0 at the end of the word
	if n < len(w) {
		next = w[n]
	}
	switch {
	case isUpper(name) && (next == 0 || next == ':' || next == '|' || next == ',' || next == ';'),
		first && next == ':':
		l, found = levelOfName(name)
		return l, found, true
	}
	return 0, false, true
}

// bracketLevel reads a bracketed word whose '[' is removed: "error]", or "core:error]" as
// Apache's error log writes it.
func bracketLevel(w string) (l message.Level, found, word bool) {
	n := letters(w)
	if n == 0 || n == len(w) {
		return 0, false, hasLetter(w)
	}
	switch w[n] {
	case ']':
		l, found = levelOfName(w[:n])
	case ':':
		rest := w[n+1:]
		if m := letters(rest); m > 0 && m < len(rest) && rest[m] == ']' {
			l, found = levelOfName(rest[:m])
		}
	}
	return l, found, true
}

// priLevel reads a syslog priority prefix, "<0>" to "<191>".
func priLevel(s string) (message.Level, bool) {
	if len(s) < 3 || s[0] != '<' {
		return 0, false
	}
	pri := 0
	for i := 1; i < len(s) && i <= 4; i++ {
		switch c := s[i]; {
		case isDigit(c):
			pri = pri*10 + int(c-'0')
		case c == '>' && i > 1 && pri <= 191:
			return message.Level(pri % 8), true
		default:
			return 0, false
		}
	}
	return 0, false
}

// glogLevel reads glog's and klog's header: "Lmmdd hh:mm:ss" with L one of I, W, E, F.
func glogLevel(s string) (message.Level, bool) {
	const form = "L0000 00:00:00"
	if len(s) < len(form) {
		return 0, false
	}
	for i := 1; i < len(form); i++ {
		if form[i] == '0' && !isDigit(s[i]) || form[i] != '0' && s[i] != form[i] {
			return 0, false
		}
	}
	switch s[0] {
	case 'I':
		return message.LevelInfo, true
	case 'W':
		return message.LevelWarning, true
	case 'E':
		return message.LevelErr, true
	case 'F':
		return message.LevelCrit, true
	}
	return 0, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// letters returns how many ASCII letters w begins with.
func letters(w string) int {
	n := 0
	for n < len(w) && isLetter(w[n]) {
		n++
	}
	return n
}

func isUpper(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < 'A' || w[i] > 'Z' {
			return false
		}
	}
	return true
}

func hasLetter(w string) bool {
	for i := 0; i < len(w); i++ {
		if isLetter(w[i]) {
			return true
		}
	}
	return false
}
