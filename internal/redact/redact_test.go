package redact_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/qnib/qwatch/internal/redact"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestURL(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"no user", "http://127.0.0.1:9200/insert", "http://127.0.0.1:9200/insert"},
		{"user and password", "https://elastic:s3cret@es:9200", "https://elastic:xxxxx@es:9200"},
		{"user alone", "https://elastic@es:9200", "https://elastic@es:9200"},
		{"unix socket", "unix:///var/run/docker.sock", "unix:///var/run/docker.sock"},
		{"unparsable with a password", "http://u:s3cret@es:9200/%zz", "(unparsable URL)"},
		{"control character", "http://u:s3cret@es\x7f:9200", "(unparsable URL)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact.URL(tt.in); got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
