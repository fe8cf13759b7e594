package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/filter"
	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

// config is every setting of the daemon. Each comes from, in rising precedence, its default,
// the YAML file named by -config (or QWATCH_CONFIG), a QWATCH_* environment variable, a flag.
type config struct {
	ConfigFile      string
	GELFUDP         string
	GELFTCP         string
	GELFHTTP        string
	GELFJoin        bool
	DockerHost      string
	Stdout          string
	ESURLs          []string
	ESHeaders       []string
	ESIndex         string
	ESUser          string
	ESPassword      string
	ESAPIKey        string
	ESCAFile        string
	ESTemplate      bool
	ESWait          bool
	InventoryIndex  string
	HTTP            string
	HTTPToken       string
	Live            bool
	Pprof           string
	ListenAll       bool
	StateDir        string
	DockerLogs      bool
	DockerLogsRead  string
	DockerDataRoot  string
	Spool           bool
	SpoolMaxBytes   int64
	ShutdownTimeout time.Duration
	Healthcheck     bool
	Filter          bool
	Multiline       string
	MultilineStart  string
	Parse           string
}

func defaultConfig() config {
	return config{
		GELFUDP:         "localhost:12201",
		GELFTCP:         "localhost:12201",
		GELFJoin:        true,
		DockerHost:      "auto",
		Stdout:          "text",
		ESIndex:         elasticsearch.DefaultIndex,
		ShutdownTimeout: 10 * time.Second,
		DockerLogs:      true,
		Spool:           true,
		SpoolMaxBytes:   qwatch.DefaultSpoolMaxBytes,
		Filter:          true,
		Multiline:       "auto",
		Parse:           "auto",
		Live:            true,
	}
}

// setting is one key: the flag name, which is also the YAML key and, upper-cased with
// underscores and prefixed QWATCH_, the environment variable.
type setting struct {
	name  string
	usage string
	bool  bool                      // a flag that needs no value
	list  func(c *config) *[]string // a flag that may repeat; the environment separates values with commas
	set   func(c *config, v string) error
}

func listSetting(name, usage string, field func(*config) *[]string) setting {
	return setting{name: name, usage: usage, list: field, set: func(c *config, v string) error {
		*field(c) = append(*field(c), v)
		return nil
	}}
}

func stringSetting(name, usage string, field func(*config) *string) setting {
	return setting{name: name, usage: usage, set: func(c *config, v string) error { *field(c) = v; return nil }}
}

func boolSetting(name, usage string, field func(*config) *bool) setting {
	return setting{name: name, usage: usage, bool: true, set: func(c *config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, not %q", v)
		}
		*field(c) = b
		return nil
	}}
}

var settings = []setting{
	stringSetting("gelf-udp", "GELF over UDP on `ADDR` (empty: off)", func(c *config) *string { return &c.GELFUDP }),
	stringSetting("gelf-tcp", "GELF over TCP on `ADDR` (empty: off)", func(c *config) *string { return &c.GELFTCP }),
	stringSetting("gelf-http", "GELF over HTTP (POST /gelf) on `ADDR` (empty: off)", func(c *config) *string { return &c.GELFHTTP }),
	boolSetting("gelf-join-docker-lines", "put back together the lines over 16 KiB that Docker splits before its GELF driver sends them (default true; =false for off)", func(c *config) *bool { return &c.GELFJoin }),
	stringSetting("docker-host", "Docker engine `URL` for events and container names: auto (DOCKER_HOST, else the local socket when present), or none", func(c *config) *string { return &c.DockerHost }),
	stringSetting("stdout", "standard output `FORMAT`: text, json, pretty or none", func(c *config) *string { return &c.Stdout }),
	listSetting("es-url", "Elasticsearch `URL` to send bulk requests to (repeatable; none: no Elasticsearch sink)", func(c *config) *[]string { return &c.ESURLs }),
	listSetting("es-header", "`NAME: VALUE` header for every Elasticsearch request (repeatable)", func(c *config) *[]string { return &c.ESHeaders }),
	stringSetting("es-index", "Elasticsearch index `NAME`; the part in braces is a Go time layout of the message time", func(c *config) *string { return &c.ESIndex }),
	stringSetting("es-user", "Elasticsearch basic auth `USER`", func(c *config) *string { return &c.ESUser }),
	stringSetting("es-password", "Elasticsearch basic auth `PASSWORD` (prefer QWATCH_ES_PASSWORD)", func(c *config) *string { return &c.ESPassword }),
	stringSetting("es-api-key", "Elasticsearch API `KEY` (prefer QWATCH_ES_API_KEY)", func(c *config) *string { return &c.ESAPIKey }),
	stringSetting("es-ca-file", "PEM `FILE` of the CA that signed the Elasticsearch certificate", func(c *config) *string { return &c.ESCAFile }),
	boolSetting("es-template", "install the qwatch index template at start", func(c *config) *bool { return &c.ESTemplate }),
	boolSetting("es-wait", "start even when Elasticsearch does not answer yet (documents wait in the queue)", func(c *config) *bool { return &c.ESWait }),
	stringSetting("inventory-index", "keep one document per container of the host, replaced when it changes, in the Elasticsearch index `NAME` (a plain name; needs -es-url and an engine; empty: off)", func(c *config) *string { return &c.InventoryIndex }),
	stringSetting("http", "serve /metrics, /healthz, /inventory and the live page on `ADDR` (empty: off)", func(c *config) *string { return &c.HTTP }),
	stringSetting("http-token", "`TOKEN` the live page and /inventory require (Authorization: Bearer, or ?token= once in a browser); needed when -http is not loopback (prefer QWATCH_HTTP_TOKEN)", func(c *config) *string { return &c.HTTPToken }),
	boolSetting("live", "serve the live page (containers, live tail, sinks' health) at / on -http (default true; =false for off)", func(c *config) *bool { return &c.Live }),
	stringSetting("pprof", "serve Go's CPU, heap and other profiles (net/http/pprof, /debug/pprof/) on `ADDR`, loopback only unless -listen-all (empty: off, the default)", func(c *config) *string { return &c.Pprof }),
	boolSetting("healthcheck", "ask the qwatchd running with these settings for its /healthz (at -http), print the answer and exit 0 when healthy, 1 otherwise: a container's HEALTHCHECK", func(c *config) *bool { return &c.Healthcheck }),
	boolSetting("listen-all", "allow listening on addresses other than loopback (127.0.0.0/8, ::1, localhost)", func(c *config) *bool { return &c.ListenAll }),
	boolSetting("docker-logs", "follow every container's output through the engine API, no log driver change needed (default true when an engine answers; GELF-driver containers are left to the GELF source)", func(c *config) *bool { return &c.DockerLogs }),
	stringSetting("docker-logs-reader", "how container logs are read: auto (a json-file container's log file when the engine is on this host and the file can be opened, else the engine API), api, or file (the files of a remote engine too, its data root mounted here)", func(c *config) *string { return &c.DockerLogsRead }),
	stringSetting("docker-data-root", "`DIR` where the engine's data root (/var/lib/docker) is mounted here, when qwatchd runs in a container (e.g. -v /var/lib/docker:/host/docker:ro and /host/docker); empty: the engine's own paths", func(c *config) *string { return &c.DockerDataRoot }),
	boolSetting("spool", "spool the Elasticsearch sink on disk in the state directory, so outages and kill -9 lose nothing (default true; =false for a memory queue that drops its oldest when full)", func(c *config) *bool { return &c.Spool }),
	{name: "spool-max-bytes", usage: "most `BYTES` the Elasticsearch spool may hold on disk (default 1 GiB); past it the oldest segment is dropped, counted", set: func(c *config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("want a positive number of bytes, not %q", v)
		}
		c.SpoolMaxBytes = n
		return nil
	}},
	boolSetting("filter", "run the filter stage: stack traces joined into one message, structured lines read into fields, levels read from the lines, service names (default true; =false passes lines on as they are read, grouped only for containers whose qwatch.multiline labels ask for it)", func(c *config) *bool { return &c.Filter }),
	stringSetting("multiline", "which stack traces and other multi-line events to join into one message, for containers without the label qwatch.multiline: auto (every built-in `RULE`), off, or names among java, python, go, node, dotnet, ruby, php (comma-separated)", func(c *config) *string { return &c.Multiline }),
	stringSetting("multiline-start", "a `REGEXP` for the first line of a multi-line event, every other line joining the one before; replaces -multiline for containers without the label qwatch.multiline.start", func(c *config) *string { return &c.MultilineStart }),
	stringSetting("parse", "how to read structured lines into fields, for containers without the label qwatch.parse: auto (JSON and logfmt), json, logfmt or off (`MODE`)", func(c *config) *string { return &c.Parse }),
	stringSetting("state-dir", "`DIR` for what must outlive the process: the Elasticsearch spool, the Docker events position and the Docker logs checkpoints (default $STATE_DIRECTORY, else /var/lib/qwatch as root, else ~/.local/state/qwatch; none: keep nothing)", func(c *config) *string { return &c.StateDir }),
	{name: "shutdown-timeout", usage: "how long to flush the sinks at shutdown (`DURATION`)", set: func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as 10s, not %q", v)
		}
		c.ShutdownTimeout = d
		return nil
	}},
}

func envName(name string) string {
	return "QWATCH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func findSetting(name string) *setting {
	for i := range settings {
		if settings[i].name == name {
			return &settings[i]
		}
	}
	return nil
}

// loadConfig reads the settings from the file, the environment and the command line args.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	type given struct{ name, value string }
	var flags []given
	var configFile string
	fs := flag.NewFlagSet("qwatchd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&configFile, "config", "", "YAML `FILE` with the same keys as the flags (also QWATCH_CONFIG)")
	for _, s := range settings {
		record := func(v string) error { flags = append(flags, given{s.name, v}); return nil }
		if s.bool {
			fs.BoolFunc(s.name, s.usage+" (env "+envName(s.name)+")", record)
		} else {
			fs.Func(s.name, s.usage+" (env "+envName(s.name)+")", record)
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: qwatchd [flags]\n\nCollects container logs (GELF) and Docker engine events and writes them to\nstandard output and, optionally, Elasticsearch. Flags win over QWATCH_* environment\nvariables, which win over the -config file.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	c := defaultConfig()
	if configFile == "" {
		configFile = getenv("QWATCH_CONFIG")
	}
	if configFile != "" {
		if err := c.applyFile(configFile); err != nil {
			return config{}, err
		}
		c.ConfigFile = configFile
	}
	for _, s := range settings {
		v, ok := lookup(getenv, envName(s.name))
		if !ok {
			continue
		}
		if s.list != nil {
			*s.list(&c) = nil
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					if err := s.set(&c, item); err != nil {
						return config{}, fmt.Errorf("%s: %w", envName(s.name), err)
					}
				}
			}
			continue
		}
		if err := s.set(&c, v); err != nil {
			return config{}, fmt.Errorf("%s: %w", envName(s.name), err)
		}
	}
	reset := map[string]bool{}
	for _, f := range flags {
		s := findSetting(f.name)
		if s.list != nil && !reset[s.name] {
			*s.list(&c), reset[s.name] = nil, true
		}
		if err := s.set(&c, f.value); err != nil {
			return config{}, fmt.Errorf("-%s: %w", f.name, err)
		}
	}
	if len(c.ESURLs) == 1 && c.ESURLs[0] == "none" {
		c.ESURLs = nil
	}
	return c, c.validate()
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func (c *config) applyFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	for key, raw := range doc {
		s := findSetting(key)
		if s == nil {
			return fmt.Errorf("config %s: unknown key %q", path, key)
		}
		values := []any{raw}
		if items, ok := raw.([]any); ok {
			if s.list == nil {
				return fmt.Errorf("config %s: %s: want one value, not a list", path, key)
			}
			values = items
		}
		if s.list != nil {
			*s.list(c) = nil
		}
		for _, v := range values {
			if v == nil {
				v = ""
			}
			if err := s.set(c, fmt.Sprint(v)); err != nil {
				return fmt.Errorf("config %s: %s: %w", path, key, err)
			}
		}
	}
	return nil
}

func (c *config) validate() error {
	var errs []error
	switch c.Stdout {
	case "text", "json", "pretty", "none":
	default:
		errs = append(errs, fmt.Errorf("-stdout %q: want text, json, pretty or none", c.Stdout))
	}
	for _, a := range []struct{ flag, addr string }{{"gelf-udp", c.GELFUDP}, {"gelf-tcp", c.GELFTCP}, {"gelf-http", c.GELFHTTP}, {"http", c.HTTP}, {"pprof", c.Pprof}} {
		if a.addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a.addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("-%s %q: %w", a.flag, a.addr, err))
			continue
		}
		if !isLoopback(host) && !c.ListenAll {
			errs = append(errs, fmt.Errorf("-%s %q is not a loopback address (127.0.0.0/8, ::1 or localhost); say -listen-all if other hosts may connect", a.flag, a.addr))
		}
		if a.flag == "http" && !isLoopback(host) && c.HTTPToken == "" {
			errs = append(errs, fmt.Errorf("-http %q is not a loopback address: the live page and /inventory need -http-token (or QWATCH_HTTP_TOKEN)", a.addr))
		}
	}
	for _, h := range c.ESHeaders {
		if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" {
			errs = append(errs, fmt.Errorf("-es-header %q: want NAME: VALUE", h))
		}
	}
	if c.InventoryIndex != "" && len(c.ESURLs) == 0 {
		errs = append(errs, fmt.Errorf("-inventory-index %q: needs -es-url", c.InventoryIndex))
	}
	if _, err := c.multilineRule(); err != nil {
		errs = append(errs, err)
	}
	if _, err := filter.ParseMode(c.Parse); err != nil {
		errs = append(errs, fmt.Errorf("-parse: %w", err))
	}
	return errors.Join(errs...)
}

// multilineRule is the grouping rule for containers that name none in their labels:
// -multiline-start's pattern when it is set, else -multiline's rule; none with -filter=false.
func (c *config) multilineRule() (multiline.Rule, error) {
	if !c.Filter {
		return multiline.Off, nil
	}
	if c.MultilineStart != "" {
		r, err := multiline.ParseStart(c.MultilineStart)
		if err != nil {
			return r, fmt.Errorf("-multiline-start: %w", err)
		}
		return r, nil
	}
	r, err := multiline.RuleByName(c.Multiline)
	if err != nil {
		return r, fmt.Errorf("-multiline: %w", err)
	}
	return r, nil
}

// isLoopback reports whether a listen host can only be reached from this host: localhost, or
// an IP in 127.0.0.0/8 or ::1 without a zone. An empty host, 0.0.0.0, ::, a name or a zoned
// address (which may stand for any interface) is not.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.IsLoopback()
}
