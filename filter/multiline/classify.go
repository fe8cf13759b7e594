package multiline

import "strings"

// class is what a line is, as far as the built-in rules care. It is computed once per line,
// from the line alone, by byte and prefix checks: the rules' state machines then look only at
// these bits. Most lines are ruled out by their first byte.
type class uint64

const (
	cBlank class = 1 << iota // empty, or only spaces and tabs
	cJSON                    // begins with '{': a structured record, never part of a trace

	// Lines that may begin a trace; what follows them confirms it.
	cHeadJava    // a qualified exception name, maybe after `Exception in thread "…" `, maybe with a message
	cHeadNode    // an …Error or …Exception name, maybe with [CODE], maybe with a message
	cHeadDotnet  // a qualified exception name, or "Unhandled exception. …"
	cHeadGo      // panic: …, fatal error: …, runtime: …, SIGQUIT: …
	cHeadPy      // Traceback (most recent call last):
	cHeadPyGroup // "  + Exception Group Traceback (most recent call last):"
	cHeadRuby    // file:N:in `method': message (Class)
	cHeadPHP     // [PHP ]Fatal error:  Uncaught …

	// Lines that continue a trace.
	cAtTab       // tabs, "at ", a frame: Java's style
	cAt3         // three spaces, "at ", a frame: .NET's style
	cAt4         // four or more spaces, "at ", a frame: JavaScript's style
	cMore        // indented "... ": Java's "... 3 more", Node's "... 5 lines matching cause stack trace ..."
	cCaused      // "Caused by: " or "Wrapped by: "
	cSuppressed  // indented "Suppressed: "
	cTab         // begins with a tab: Go's file lines, continued panic messages
	cIndent2     // begins with two spaces: Python's frames, Node's error properties
	cPyFile      // `  File "…`
	cPyExc       // Name or dotted.Name, then ':' or the end: Python's exception line
	cPyChain     // "During handling of the above exception, …" or "The above exception was …"
	cPyGroupLine // spaces, then '|' or '+': a line of an exception group's tree
	cGoroutine   // goroutine N [state]:
	cGoCreated   // created by …
	cGoFunc      // a function call with no space before its first '(' and ')' last
	cGoMisc      // [signal …, runtime stack:, [originating from goroutine …, ...additional frames elided...
	cGoExit      // exit status N (go run's last line)
	cNodePath    // /file.js:N, node:fs:N: the first line of Node's uncaught-exception preamble
	cNodeCaret   // spaces and carets only: the preamble's pointer line
	cNodeOpen    // ends with " {": error properties follow
	cNodeClose   // "}" alone
	cNodeTrailer // Node.js vNN
	cDotnetInner // " ---> " an inner exception
	cDotnetEnd   // "--- End of …", maybe indented
	cRubyFrom    // tab, "from "
	cPHPStack    // Stack trace:
	cPHPFrame    // #N …
	cPHPNext     // Next …: the chained exception
	cPHPThrown   // "  thrown in …": the last line
	cJULDate     // the first line of a java.util.logging record: date, time, class, method
	cJULLevel    // the second: SEVERE: …, WARNING: …
	cUncaught    // a header a runtime prints for an uncaught exception, which no log line introduces

	cAt = cAtTab | cAt3 | cAt4
)

// classify returns the classes of one line. A carriage return at its end (a line that
// ended in CRLF) does not count.
func classify(s string) class {
	s = strings.TrimSuffix(s, "\r")
	if len(s) == 0 {
		return cBlank
	}
	switch c := s[0]; {
	case c == '\t':
		return classifyTab(s)
	case c == ' ':
		return classifySpace(s)
	case c == '{':
		return cJSON
	case c == '}':
		if len(s) == 1 {
			return cNodeClose
		}
		return 0
	case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '_', c == '$':
		return classifyWord(s)
	case c == '/' || c == '.':
		return classifyPath(s)
	case c == '[':
		if strings.HasPrefix(s, "[signal ") || strings.HasPrefix(s, "[originating from goroutine") {
			return cGoMisc
		}
		return 0
	case c == '#':
		if len(s) > 2 && isDigit(s[1]) {
			i := 1
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			if i < len(s) && s[i] == ' ' {
				return cPHPFrame
			}
		}
		return 0
	case c == '-':
		if strings.HasPrefix(s, "--- End of ") {
			return cDotnetEnd
		}
		return 0
	}
	return 0
}

func classifyTab(s string) class {
	if blank(s) {
		return cBlank
	}
	cl := cTab
	i := 0
	for i < len(s) && s[i] == '\t' {
		i++
	}
	rest := s[i:]
	switch {
	case isFrame(rest):
		cl |= cAtTab
	case strings.HasPrefix(rest, "... "):
		cl |= cMore
	case strings.HasPrefix(rest, "Suppressed: "):
		cl |= cSuppressed
	case i == 1 && strings.HasPrefix(rest, "from "):
		cl |= cRubyFrom
	}
	return cl
}

func classifySpace(s string) class {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if blank(s[i:]) {
		return cBlank
	}
	var cl class
	if i >= 2 {
		cl |= cIndent2
	}
	rest := s[i:]
	switch rest[0] {
	case 'a':
		if isFrame(rest) {
			switch {
			case i == 3:
				cl |= cAt3
			case i >= 4:
				cl |= cAt4
			default:
				cl |= cAtTab // "at" with one or two spaces: no runtime's own style; Java's is the likeliest
			}
		}
	case '.':
		if strings.HasPrefix(rest, "... ") {
			cl |= cMore
		}
	case 'F':
		if i == 2 && strings.HasPrefix(rest, `File "`) {
			cl |= cPyFile
		}
	case '|':
		cl |= cPyGroupLine
	case '+':
		cl |= cPyGroupLine
		if i == 2 && strings.HasPrefix(rest, "+ Exception Group Traceback (most recent call last):") {
			cl |= cHeadPyGroup
		}
	case '-':
		if i == 1 && strings.HasPrefix(rest, "---> ") {
			cl |= cDotnetInner
		} else if strings.HasPrefix(rest, "--- End of ") {
			cl |= cDotnetEnd
		}
	case '^':
		if strings.Trim(rest, "^ ") == "" {
			cl |= cNodeCaret
		}
	case 't':
		if i == 2 && strings.HasPrefix(rest, "thrown in ") {
			cl |= cPHPThrown
		}
	case 'S':
		if strings.HasPrefix(rest, "Suppressed: ") {
			cl |= cSuppressed
		}
	}
	if strings.HasSuffix(s, " {") {
		cl |= cNodeOpen
	}
	return cl
}

// isFrame reports whether s, after its indentation, is "at " and a frame: something that ends
// as the frames of Java (')' or log4j's ']'), JavaScript (')', a line:column, "<anonymous>")
// and .NET (')', "line N") end; Node.js ends the last frame with " {" when the error's
// properties follow.
func isFrame(s string) bool {
	s = strings.TrimSuffix(s, " {")
	if len(s) < 4 || s[0] != 'a' || s[1] != 't' || s[2] != ' ' {
		return false
	}
	switch s[len(s)-1] {
	case ')', ']', '>':
		return true
	}
	return isDigit(s[len(s)-1])
}

// classifyWord classifies a line that begins with a letter, '_' or '$'.
func classifyWord(s string) class {
	var cl class
	switch s[0] {
	case 'C':
		if strings.HasPrefix(s, "Caused by: ") {
			return cCaused
		}
	case 'W':
		if strings.HasPrefix(s, "Wrapped by: ") {
			return cCaused
		}
	case 'E':
		if strings.HasPrefix(s, `Exception in thread "`) {
			if i := strings.Index(s[len(`Exception in thread "`):], `" `); i >= 0 {
				rest := s[len(`Exception in thread "`)+i+2:]
				if exceptionName(rest, true) > 0 {
					return cHeadJava | cUncaught
				}
			}
		}
	case 'T':
		if s == "Traceback (most recent call last):" {
			return cHeadPy
		}
		if strings.HasPrefix(s, "The above exception was the direct cause of the following exception") {
			return cPyChain
		}
	case 'D':
		if strings.HasPrefix(s, "During handling of the above exception, another exception occurred") {
			return cPyChain
		}
	case 'p':
		if strings.HasPrefix(s, "panic: ") {
			return cHeadGo
		}
	case 'f':
		if strings.HasPrefix(s, "fatal error: ") {
			return cHeadGo | cUncaught
		}
	case 'r':
		if strings.HasPrefix(s, "runtime: ") {
			return cHeadGo | cUncaught
		}
		if s == "runtime stack:" {
			return cGoMisc
		}
	case 'g':
		if isGoroutine(s) {
			return cGoroutine
		}
	case 'c':
		if strings.HasPrefix(s, "created by ") {
			return cGoCreated
		}
	case 'e':
		if strings.HasPrefix(s, "exit status ") && allDigits(s[len("exit status "):]) {
			return cGoExit
		}
	case 'N':
		if strings.HasPrefix(s, "Node.js v") {
			return cNodeTrailer
		}
		if strings.HasPrefix(s, "Next ") {
			cl |= cPHPNext
		}
	case 'U':
		if strings.HasPrefix(s, "Unhandled exception. ") {
			return cHeadDotnet | cUncaught
		}
	case 'P':
		if strings.HasPrefix(s, "PHP Fatal error:  Uncaught ") {
			return cHeadPHP | cUncaught
		}
	case 'F':
		if strings.HasPrefix(s, "Fatal error: Uncaught ") {
			return cHeadPHP | cUncaught
		}
	case 'S':
		if s == "Stack trace:" {
			return cPHPStack
		}
		if isSignalHead(s) {
			return cHeadGo | cUncaught
		}
	}
	if n := exceptionName(s, false); n > 0 {
		cl |= cPyExc
		name := s[:n]
		dotted := strings.IndexByte(name, '.') >= 0
		errorLike := strings.HasSuffix(name, "Error") || strings.HasSuffix(name, "Exception")
		if dotted && isUpper(name[strings.LastIndexByte(name, '.')+1]) {
			cl |= cHeadJava | cHeadDotnet
		}
		if !dotted && (errorLike || strings.HasSuffix(name, "Throwable")) {
			cl |= cHeadJava
		}
		if errorLike {
			cl |= cHeadNode
		}
	} else if isNodeCodedHead(s) {
		cl |= cHeadNode
	}
	switch last := s[len(s)-1]; {
	case last == ')':
		if isGoFunc(s) {
			cl |= cGoFunc
		}
		if isRubyHead(s) {
			cl |= cHeadRuby | cUncaught
		}
	case last == '{':
		if strings.HasSuffix(s, " {") {
			cl |= cNodeOpen
		}
	case isDigit(last):
		if isNodePath(s) {
			cl |= cNodePath
		}
	}
	if isJULLevel(s) {
		cl |= cJULLevel
	}
	if isJULDate(s) {
		cl |= cJULDate
	}
	return cl
}

// classifyPath classifies a line that begins with '/' or '.'.
func classifyPath(s string) class {
	var cl class
	if strings.HasPrefix(s, "...additional frames elided...") {
		return cGoMisc
	}
	switch last := s[len(s)-1]; {
	case last == ')':
		if isRubyHead(s) {
			cl |= cHeadRuby | cUncaught
		}
	case isDigit(last):
		if isNodePath(s) {
			cl |= cNodePath
		}
	}
	return cl
}

// exceptionName returns the length of the exception name s begins with: dot-separated
// identifiers, followed by the end of the line or a ':' (and, unless bare, a space). It
// returns 0 if s does not begin so.
func exceptionName(s string, bare bool) int {
	i := 0
	for i < len(s) {
		c := s[i]
		if !isIdent(c) && c != '.' {
			break
		}
		i++
	}
	if i == 0 || s[i-1] == '.' || isDigit(s[0]) || s[0] == '.' {
		return 0
	}
	switch {
	case i == len(s):
		return i
	case s[i] == ':' && (i+1 == len(s) || s[i+1] == ' ' || bare):
		return i
	}
	return 0
}

// isNodeCodedHead reports whether s is a JavaScript error header with a code, such as
// "Error [ERR_MODULE_NOT_FOUND]: Cannot find package".
func isNodeCodedHead(s string) bool {
	i := strings.IndexByte(s, ' ')
	if i <= 0 || !(strings.HasSuffix(s[:i], "Error") || strings.HasSuffix(s[:i], "Exception")) {
		return false
	}
	for j := 0; j < i; j++ {
		if !isIdent(s[j]) {
			return false
		}
	}
	rest := s[i+1:]
	if len(rest) < 3 || rest[0] != '[' {
		return false
	}
	end := strings.IndexByte(rest, ']')
	return end > 1 && (end+1 == len(rest) || rest[end+1] == ':')
}

func isGoroutine(s string) bool {
	const p = "goroutine "
	if !strings.HasPrefix(s, p) || len(s) == len(p) || !isDigit(s[len(p)]) {
		return false
	}
	i := len(p)
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i < len(s) && s[i] == ' ' && s[len(s)-1] == ':'
}

// isSignalHead reports whether s is the first line of a Go program's signal dump: "SIGQUIT: quit".
func isSignalHead(s string) bool {
	i := 3
	for i < len(s) && s[i] >= 'A' && s[i] <= 'Z' {
		i++
	}
	return strings.HasPrefix(s, "SIG") && i > 3 && i+1 < len(s) && s[i] == ':' && s[i+1] == ' '
}

// isGoFunc reports whether s is a line of a Go stack that names a function: no space before
// its first '(' (arguments may have some), ending with ')'.
func isGoFunc(s string) bool {
	i := strings.IndexByte(s, '(')
	return i > 0 && strings.IndexByte(s[:i], ' ') < 0
}

// isRubyHead reports whether s is the first line of a Ruby exception:
// "file.rb:10:in `method': message (Class)", with a straight quote since Ruby 3.4.
func isRubyHead(s string) bool {
	i := strings.Index(s, ":in ")
	if i <= 0 || i+4 >= len(s) || (s[i+4] != '`' && s[i+4] != '\'') {
		return false
	}
	j := i - 1
	for j > 0 && isDigit(s[j]) {
		j--
	}
	return j < i-1 && s[j] == ':' && strings.IndexByte(s[:j], ' ') < 0
}

// isNodePath reports whether s is a script position as Node.js prints it above an uncaught
// exception: "/app/server.js:17", "node:internal/fs:42", "file:///app/x.mjs:3".
func isNodePath(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 || !allDigits(s[i+1:]) || strings.IndexByte(s, ' ') >= 0 {
		return false
	}
	return s[0] == '/' || s[0] == '.' || strings.HasPrefix(s, "node:") || strings.HasPrefix(s, "file:") ||
		(len(s) > 2 && s[1] == ':' && s[2] == '\\')
}

// julLevels are the level names java.util.logging's SimpleFormatter writes at the start of
// a record's second line.
var julLevels = [...]string{"SEVERE: ", "WARNING: ", "INFO: ", "CONFIG: ", "FINE: ", "FINER: ", "FINEST: "}

func isJULLevel(s string) bool {
	if s[0] < 'C' || s[0] > 'W' {
		return false
	}
	for _, l := range julLevels {
		if strings.HasPrefix(s, l) {
			return true
		}
	}
	return false
}

// isJULDate reports whether s looks like the first line of a java.util.logging record as its
// SimpleFormatter writes it by default: "Nov 29, 2026 7:38:40 PM com.example.Main main",
// a date and a time with seconds, then a class and a method.
func isJULDate(s string) bool {
	i := strings.Index(s, ":")
	if i < 2 || i+6 > len(s) || !isDigit(s[i-1]) || !isDigit(s[i+1]) || !isDigit(s[i+2]) || s[i+3] != ':' ||
		!isDigit(s[i+4]) || !isDigit(s[i+5]) {
		return false
	}
	method := strings.LastIndexByte(s, ' ')
	if method < 0 {
		return false
	}
	class := strings.LastIndexByte(s[:method], ' ')
	if class < i {
		return false
	}
	return isJavaName(s[class+1:method]) && isJavaName(s[method+1:])
}

func isJavaName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdent(s[i]) && s[i] != '.' {
			return false
		}
	}
	return true
}

// blank reports whether s holds only spaces and tabs.
func blank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}

func isIdent(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
