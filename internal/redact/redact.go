// Package redact keeps secrets out of what the module prints: logs, errors, summaries.
package redact

import "net/url"

// URL returns raw with the password of its user information replaced by "xxxxx", as
// url.URL.Redacted does. A string that does not parse as a URL is not shown at all, since
// where a password would sit in it cannot be told.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
