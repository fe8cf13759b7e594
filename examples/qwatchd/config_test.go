package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(defaultConfig(), c); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if c.GELFUDP != "localhost:12201" || c.GELFTCP != "localhost:12201" || c.Stdout != "text" {
		t.Errorf("defaults are not GELF on loopback 12201 to text stdout: %+v", c)
	}
}

func TestConfigPrecedenceFlagOverEnvOverFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "qwatch.yml")
	yml := `
gelf-udp: 127.0.0.1:1001
gelf-tcp: 127.0.0.1:1002
stdout: json
es-url: [http://file-1:9200, http://file-2:9200]
es-index: from-file
http: 127.0.0.1:1003
es-template: true
shutdown-timeout: 3s
`
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"QWATCH_CONFIG":   file,
		"QWATCH_GELF_TCP": "127.0.0.1:2002",
		"QWATCH_STDOUT":   "pretty",
		"QWATCH_ES_URL":   "http://env-1:9200, http://env-2:9200",
		"QWATCH_HTTP":     "127.0.0.1:2003",
	}
	args := []string{"-stdout", "none", "-http", "", "-es-url", "http://flag-1:9200", "-es-url", "http://flag-2:9200"}
	c, err := loadConfig(args, env(vars), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.ConfigFile = file
	want.GELFUDP = "127.0.0.1:1001" // file only
	want.GELFTCP = "127.0.0.1:2002" // env over file
	want.Stdout = "none"            // flag over env and file
	want.ESURLs = []string{"http://flag-1:9200", "http://flag-2:9200"}
	want.ESIndex = "from-file"
	want.HTTP = "" // an empty flag turns it off
	want.ESTemplate = true
	want.ShutdownTimeout = 3 * time.Second
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}

	delete(vars, "QWATCH_STDOUT")
	c, err = loadConfig(nil, env(vars), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(c.ESURLs, []string{"http://env-1:9200", "http://env-2:9200"}) || c.Stdout != "json" {
		t.Errorf("env list or file value not applied: %v %q", c.ESURLs, c.Stdout)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yml")
	os.WriteFile(broken, []byte("gelf-udp: [unclosed"), 0o600)
	unknown := filepath.Join(dir, "unknown.yml")
	os.WriteFile(unknown, []byte("gelf-udpp: x"), 0o600)
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-stdout", "xml"}, nil, `-stdout "xml": want text, json, pretty or none`},
		{[]string{"-gelf-udp", "nonsense"}, nil, `-gelf-udp "nonsense"`},
		{[]string{"-gelf-udp", ":12201"}, nil, "not a loopback address (127.0.0.0/8, ::1 or localhost); say -listen-all"},
		{[]string{"-http", "0.0.0.0:9102"}, nil, "not a loopback address"},
		{[]string{"-gelf-tcp", "[::%lo]:12201"}, nil, "not a loopback address"},
		{[]string{"-gelf-tcp", "[::]:12201"}, nil, "not a loopback address"},
		{[]string{"-gelf-tcp", "[fe80::1%eth0]:12201"}, nil, "not a loopback address"},
		{[]string{"-gelf-udp", "myhost.example:12201"}, nil, "not a loopback address"},
		{[]string{"-gelf-udp", "10.0.0.5:12201"}, nil, "not a loopback address"},
		{[]string{"-config", broken}, nil, "config " + broken},
		{[]string{"-config", unknown}, nil, `unknown key "gelf-udpp"`},
		{[]string{"-config", filepath.Join(dir, "missing.yml")}, nil, "reading config"},
		{[]string{"-shutdown-timeout", "soon"}, nil, "-shutdown-timeout: want a positive duration"},
		{nil, map[string]string{"QWATCH_ES_TEMPLATE": "maybe"}, "QWATCH_ES_TEMPLATE: want true or false"},
		{[]string{"-no-such-flag"}, nil, "flag provided but not defined"},
		{[]string{"extra"}, nil, `unexpected argument "extra"`},
		{[]string{"-multiline", "cobol"}, nil, "-multiline: "},
		{nil, map[string]string{"QWATCH_MULTILINE_START": "(unclosed"}, "-multiline-start: "},
		{[]string{"-parse", "xml"}, nil, "-parse: "},
	}
	for _, tt := range tests {
		_, err := loadConfig(tt.args, env(tt.env), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("loadConfig(%q, %v) = %v, want an error containing %q", tt.args, tt.env, err, tt.want)
		}
	}
	for _, args := range [][]string{{"-multiline", "java,python"}, {"-multiline", "off"}, {"-multiline-start", `^\d{4}-`}, {"-parse", "logfmt"}, {"-filter=false", "-multiline", "java"}} {
		if _, err := loadConfig(args, env(nil), &bytes.Buffer{}); err != nil {
			t.Errorf("loadConfig(%q) = %v, want it taken", args, err)
		}
	}
	if _, err := loadConfig([]string{"-gelf-udp", ":12201", "-listen-all"}, env(nil), &bytes.Buffer{}); err != nil {
		t.Errorf("-listen-all did not allow all interfaces: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:1", "127.9.9.9:1", "[::1]:1", "localhost:1"} {
		if _, err := loadConfig([]string{"-gelf-udp", addr}, env(nil), &bytes.Buffer{}); err != nil {
			t.Errorf("-gelf-udp %s: %v, want it taken as loopback", addr, err)
		}
	}
}
