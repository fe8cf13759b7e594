package elasticsearch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/qnib/qwatch/internal/redact"
)

// Defaults of Config.
const (
	DefaultURL             = "http://127.0.0.1:9200"
	DefaultIndex           = "qwatch-{2006.01.02}"
	DefaultDataStream      = "logs-qwatch-default"
	DefaultDeadLetterIndex = "qwatch-deadletter-{2006.01.02}"
	DefaultMaxBulkBytes    = 5 << 20
	DefaultRetryInitial    = 100 * time.Millisecond
	DefaultRetryMax        = 10 * time.Second
	DefaultRetryJitter     = 0.2
	DefaultRetryBudget     = 5 * time.Minute
	DefaultRequestTimeout  = 30 * time.Second
)

// Config sets up a Sink. Its zero value indexes into qwatch-YYYY.MM.DD on a local node.
type Config struct {
	// URLs of the nodes to send to (DefaultURL). A URL may carry a path prefix, for servers
	// that serve the bulk API below one, such as http://host:9428/insert/elasticsearch.
	URLs []string

	Username, Password string // basic auth
	APIKey             string // sent as "Authorization: ApiKey <key>" (the base64 id:key form)
	CAFile             string // PEM file of the CA that signed the nodes' certificates
	CertFile, KeyFile  string // client certificate, for mutual TLS
	// HTTPClient, when set, sends the requests; CAFile, CertFile and KeyFile must then be
	// empty. The Sink does not close its idle connections.
	HTTPClient *http.Client
	// Headers are added to every request (for example VL-Msg-Field: message for VictoriaLogs).
	Headers http.Header

	// Index is the index to create documents in (DefaultIndex). The part in braces is a Go
	// time layout applied to the message's time in UTC, so messages go to daily indices.
	Index string
	// DataStream sends documents to the data stream named by Index (DefaultDataStream if
	// Index is empty), which takes no date: the cluster rolls it over.
	DataStream bool
	// DeadLetterIndex receives the documents the cluster refused for good
	// (DefaultDeadLetterIndex; braces as in Index).
	DeadLetterIndex string

	// MaxBulkBytes is the largest bulk request body; larger batches are split
	// (DefaultMaxBulkBytes).
	MaxBulkBytes int
	// Gzip compresses request bodies.
	Gzip bool

	// RetryInitial and RetryMax bound the wait between retries, which doubles each time
	// (DefaultRetryInitial, DefaultRetryMax); RetryJitter spreads each wait by that fraction
	// (DefaultRetryJitter; negative for none). RetryBudget is the longest one Write keeps
	// retrying (DefaultRetryBudget); the context given to Write may end it sooner.
	RetryInitial, RetryMax time.Duration
	RetryJitter            float64
	RetryBudget            time.Duration
	// RequestTimeout bounds each bulk request, from sending it to reading the whole answer
	// (DefaultRequestTimeout), so a node that accepts and never answers cannot hold Write;
	// the request is then retried within the budget.
	RequestTimeout time.Duration

	// InstallTemplate makes Install put the index template; see Sink.Install.
	InstallTemplate bool
	// TemplateName is the name of the index template (TemplateName). Programs that write to
	// different indices of one cluster each need a template of their own.
	TemplateName string
	// Sniff and Healthcheck turn on the client's node discovery and health checks, which are
	// off by default: they do not work through proxies and load balancers.
	Sniff, Healthcheck bool

	// Logger reports retries, dead letters and credentials sent over plain HTTP (nil:
	// slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if len(c.URLs) == 0 {
		c.URLs = []string{DefaultURL}
	}
	if c.Index == "" {
		c.Index = DefaultIndex
		if c.DataStream {
			c.Index = DefaultDataStream
		}
	}
	if c.TemplateName == "" {
		c.TemplateName = TemplateName
	}
	if c.DeadLetterIndex == "" {
		c.DeadLetterIndex = DefaultDeadLetterIndex
	}
	if c.MaxBulkBytes <= 0 {
		c.MaxBulkBytes = DefaultMaxBulkBytes
	}
	if c.RetryInitial <= 0 {
		c.RetryInitial = DefaultRetryInitial
	}
	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.RetryJitter == 0 {
		c.RetryJitter = DefaultRetryJitter
	}
	if c.RetryJitter < 0 {
		c.RetryJitter = 0
	}
	if c.RetryBudget <= 0 {
		c.RetryBudget = DefaultRetryBudget
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// validate checks the settings; its errors never show credentials.
func (c *Config) validate() error {
	var errs []error
	for _, raw := range c.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("URL %q does not parse", redact.URL(raw)))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("URL %s: scheme must be http or https", redact.URL(raw)))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("URL %s: no host", redact.URL(raw)))
		case u.User != nil:
			errs = append(errs, fmt.Errorf("URL %s: put credentials in Username and Password, not the URL", redact.URL(raw)))
		case u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("URL %s: no query or fragment allowed", redact.URL(raw)))
		}
	}
	if c.APIKey != "" && (c.Username != "" || c.Password != "") {
		errs = append(errs, errors.New("set an API key or basic auth, not both"))
	}
	if c.Password != "" && c.Username == "" {
		errs = append(errs, errors.New("a password needs a username"))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("a client certificate needs both CertFile and KeyFile"))
	}
	if c.HTTPClient != nil && (c.CAFile != "" || c.CertFile != "") {
		errs = append(errs, errors.New("set TLS files or an HTTPClient, not both"))
	}
	if c.DataStream && strings.ContainsAny(c.Index, "{}") {
		errs = append(errs, fmt.Errorf("data stream %q: a data stream takes no date", c.Index))
	}
	for _, idx := range []string{c.Index, c.DeadLetterIndex} {
		if err := checkIndexPattern(idx); err != nil {
			errs = append(errs, err)
		}
	}
	if c.RetryMax < c.RetryInitial {
		errs = append(errs, fmt.Errorf("RetryMax %v is less than RetryInitial %v", c.RetryMax, c.RetryInitial))
	}
	if c.RetryJitter > 1 {
		errs = append(errs, fmt.Errorf("RetryJitter %v: must be at most 1", c.RetryJitter))
	}
	if c.MaxBulkBytes < 1024 {
		errs = append(errs, fmt.Errorf("MaxBulkBytes %d: must be at least 1024", c.MaxBulkBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("elasticsearch: %w", err)
	}
	return nil
}

// httpClient builds the client for the TLS settings, or returns the one given.
func (c *Config) httpClient() (*http.Client, bool, error) {
	if c.HTTPClient != nil {
		return c.HTTPClient, false, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 8
	if c.CAFile != "" || c.CertFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, false, fmt.Errorf("elasticsearch: reading CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, false, fmt.Errorf("elasticsearch: CA file %s holds no PEM certificate", c.CAFile)
			}
			cfg.RootCAs = pool
		}
		if c.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return nil, false, fmt.Errorf("elasticsearch: loading client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		tr.TLSClientConfig = cfg
	}
	return &http.Client{Transport: tr}, true, nil
}

// indexLayout is an index name with an optional Go time layout in braces.
type indexLayout struct {
	prefix, layout, suffix string
}

func checkIndexPattern(s string) error {
	open, close := strings.Count(s, "{"), strings.Count(s, "}")
	if open > 1 || close != open || (open == 1 && strings.Index(s, "{") > strings.Index(s, "}")) {
		return fmt.Errorf("index %q: at most one {time layout} allowed", s)
	}
	if s != strings.ToLower(s) && open == 0 {
		return fmt.Errorf("index %q: index names must be lower case", s)
	}
	return nil
}

func parseIndex(s string) indexLayout {
	i, j := strings.Index(s, "{"), strings.Index(s, "}")
	if i < 0 {
		return indexLayout{prefix: s}
	}
	return indexLayout{prefix: s[:i], layout: s[i+1 : j], suffix: s[j+1:]}
}

// name returns the index for a time, formatted in UTC.
func (l indexLayout) name(t time.Time) string {
	if l.layout == "" {
		return l.prefix
	}
	return l.prefix + t.UTC().Format(l.layout) + l.suffix
}

// indexNames names the indices of one batch after another: most documents of a batch go to
// the index of the document before, so the name is made again only when the time, formatted
// into a scratch buffer, differs.
type indexNames struct {
	layout  indexLayout
	scratch []byte
	last    []byte
	name    string
}

func (n *indexNames) of(t time.Time) string {
	if n.layout.layout == "" {
		return n.layout.prefix
	}
	n.scratch = t.UTC().AppendFormat(n.scratch[:0], n.layout.layout)
	if n.name == "" || string(n.scratch) != string(n.last) {
		n.last = append(n.last[:0], n.scratch...)
		n.name = n.layout.prefix + string(n.scratch) + n.layout.suffix
	}
	return n.name
}

// pattern is the wildcard that matches every index the layout makes.
func (l indexLayout) pattern() string {
	if l.layout == "" {
		return l.prefix
	}
	return l.prefix + "*"
}
