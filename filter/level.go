package filter

import (
	"math/bits"

	"github.com/qnib/qwatch/message"
)

// How far into a plain line a level is looked for: past a timestamp, within the first few
// words. A level word further on is prose ("no error found"), not a level.
const (
	levelScanBytes = 128
	levelScanWords = 4
)

// levelNames are the level names loggers write, lower case: the names message.ParseLevel
// accepts, and trace, dbug and trce (.NET), eror (log15), fail (.NET), severe
// (java.util.logging), information and verbose (Serilog).
var levelNames = map[string]message.Level{
	"emerg": message.LevelEmerg, "emergency": message.LevelEmerg, "panic": message.LevelEmerg,
	"alert": message.LevelAlert,
	"crit":  message.LevelCrit, "critical": message.LevelCrit, "fatal": message.LevelCrit,
	"err": message.LevelErr, "error": message.LevelErr, "eror": message.LevelErr, "fail": message.LevelErr, "severe": message.LevelErr,
	"warn": message.LevelWarning, "warning": message.LevelWarning,
	"notice": message.LevelNotice,
	"info":   message.LevelInfo, "information": message.LevelInfo, "informational": message.LevelInfo,
	"debug": message.LevelDebug, "dbug": message.LevelDebug, "trace": message.LevelDebug, "trce": message.LevelDebug, "verbose": message.LevelDebug,
}

// nameShapes has, for each first letter, bit n set when a level name of n letters starts
// with it: most words are told not to be level names by it alone.
var nameShapes = func() (t [26]uint16) {
	for name := range levelNames {
		t[name[0]-'a'] |= 1 << len(name)
	}
	return t
}()

// levelOfName maps a level name in any case (see levelNames) to its syslog severity. It does
// not allocate.
func levelOfName(s string) (message.Level, bool) {
	var buf [len("informational")]byte
	if len(s) < 3 || len(s) > len(buf) {
		return 0, false
	}
	if c := s[0] | 0x20; c < 'a' || c > 'z' || nameShapes[c-'a']&(1<<len(s)) == 0 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	l, ok := levelNames[string(buf[:len(s)])]
	return l, ok
}

// plainLevel finds the level a plain line names near its start, in its first line only:
//   - a syslog priority prefix, "<3>" (the severity is the priority modulo 8);
//   - glog's and klog's header, "E1129 18:00:00.123456" (I, W, E or F, then MMDD and a time);
//   - among the first words after any timestamp, a level name in upper case standing alone
//     or before ':', '|', ',' or ';' ("ERROR", "WARN:", Python's "INFO:root:"), a level name
//     in brackets in any case ("[error]", "[Warning]", Apache's "[core:error]"), or, as the
//     first word, a level name in any case before ':' ("error:", .NET's "warn:").
//
// Words are separated by blanks and control characters; the colour codes of a terminal
// ("\x1b[31m") are passed over. Words that start with a digit (dates, times, process IDs) and
// words without letters ("-", "|") are passed over without counting. A lower-case level word
// elsewhere is prose.
func plainLevel(text string) (message.Level, bool) {
	s, cut := text, false
	if len(s) > levelScanBytes {
		s, cut = s[:levelScanBytes], true
	}
	if l, ok := priLevel(s); ok {
		return l, true
	}
	if l, ok := glogLevel(s); ok {
		return l, true
	}
	for i, words := 0, 0; words < levelScanWords; {
		for i < len(s) && s[i] <= ' ' && s[i] != '\n' {
			i++
			if s[i-1] == '\x1b' {
				i = skipColour(s, i)
			}
		}
		start := i
		i = wordEnd(s, i)
		if start == i || (cut && i == len(s)) {
			return 0, false // the end of the first line, or a word the scan limit split
		}
		switch c := s[start]; {
		case isDigit(c):
			continue // a date, a time, a number: not a word
		case c >= 'a' && c <= 'z' && words > 0:
			words++ // prose, the most common word, and never a level
			continue
		}
		var after byte // what follows the word past a colour code, as in "\x1b[32minfo\x1b[39m:"
		if i < len(s) && s[i] == '\x1b' {
			if j := skipColour(s, i+1); j < len(s) && s[j] > ' ' {
				after = s[j]
			}
		}
		l, found, word := wordLevel(s[start:i], words == 0, after)
		if found {
			return l, true
		}
		if word {
			words++
		}
	}
	return 0, false
}

// wordEnd returns the index of the first blank or control character in s from i on, or
// len(s); eight bytes at a time, as words such as timestamps and paths are long.
func wordEnd(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := load64(s, i)
		if m := (x - loBits*0x21) & ^x & hiBits; m != 0 {
			return i + bits.TrailingZeros64(m)/8 // the first byte below 0x21, exactly
		}
	}
	for i < len(s) && s[i] > ' ' {
		i++
	}
	return i
}

// skipColour passes over the rest of a terminal's colour code whose escape byte is s[i-1]:
// "[", digits and semicolons, and the final "m".
func skipColour(s string, i int) int {
	if i >= len(s) || s[i] != '[' {
		return i
	}
	j := i + 1
	for j < len(s) && (isDigit(s[j]) || s[j] == ';') {
		j++
	}
	if j < len(s) && s[j] == 'm' {
		return j + 1
	}
	return i
}

// opening marks the bytes that may stand before a number that is not a word: "[1]", "(12)",
// "+0100", "-5".
var opening = [256]bool{'[': true, '(': true, '<': true, '+': true, '-': true}

// wordLevel returns the level one word names; word reports whether it counts as a word.
// after is the byte that follows the word when a colour code ends it, or 0.
func wordLevel(w string, first bool, after byte) (l message.Level, found, word bool) {
	j := 0
	for j < len(w) && opening[w[j]] {
		j++
	}
	if j == len(w) || isDigit(w[j]) {
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
	next := after // 0 at the end of the word
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
