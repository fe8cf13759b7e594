package filter

import "strconv"

// keyBytes marks the bytes a logfmt key may hold here: letters, digits and "_.-@/". Real
// writers (slog's TextHandler, logrus, go-kit) quote anything else, and a narrow key keeps
// prose such as "a=b in prose" from passing for logfmt.
var keyBytes = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_.-@/" {
		t[c] = true
	}
	return t
}()

// keyStart reports whether c may begin a key: a letter, '_' or '@'.
func keyStart(c byte) bool {
	return keyBytes[c] && !(c >= '0' && c <= '9') && c != '.' && c != '-' && c != '/'
}

// blanks marks the bytes that separate words: space, tab, and the carriage return a line
// from Windows ends in.
var blanks = [256]bool{' ': true, '\t': true, '\r': true}

func isBlank(c byte) bool { return blanks[c] }

// startsLogfmt reports whether text begins with a key and '=': a cheap test that keeps
// plain lines away from the parser.
func startsLogfmt(text string) bool {
	i := 0
	for i < len(text) && isBlank(text[i]) {
		i++
	}
	if i >= len(text) || !keyStart(text[i]) {
		return false
	}
	for i++; i < len(text) && keyBytes[text[i]]; i++ {
	}
	return i < len(text) && text[i] == '='
}

// parseLogfmt reads line as logfmt into c: pairs key=value separated by blanks, every token a
// pair, at least minPairs of them. A value is bare (no blank, '"' or '=') or quoted with Go's
// (strconv) escapes, which is what slog, logrus and go-logfmt write. Values stay strings:
// logfmt has no types, and a writer's choice to quote cannot tell a number from digits.
func (c *collector) parseLogfmt(line string, minPairs int) bool {
	s := line
	pairs := 0
	for i := 0; ; {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i == len(s) {
			if pairs < minPairs {
				return false
			}
			c.finish()
			return true
		}
		start := i
		if !keyStart(s[i]) {
			return false
		}
		for i++; i < len(s) && keyBytes[s[i]]; i++ {
		}
		if i >= len(s) || s[i] != '=' {
			return false
		}
		key := s[start:i]
		i++
		var v string
		if i < len(s) && s[i] == '"' {
			j, escaped := i+1, false
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					escaped = true
					j++
				}
			}
			if j >= len(s) {
				return false
			}
			v = s[i+1 : j]
			if escaped {
				u, err := strconv.Unquote(s[i : j+1])
				if err != nil {
					return false
				}
				v = u
			}
			i = j + 1
			if i < len(s) && !isBlank(s[i]) {
				return false
			}
		} else {
			start := i
			for ; i < len(s) && !isBlank(s[i]); i++ {
				if s[i] == '"' || s[i] == '=' {
					return false
				}
			}
			v = s[start:i]
		}
		pairs++
		if !c.top(key, v) {
			c.addString(key, v)
		}
	}
}
