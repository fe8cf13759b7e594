// Command qwatchd collects the logs and engine events of a Docker host and writes them to
// standard output and, optionally, Elasticsearch. It is the qwatch library wired up by flags:
// everything it does, a program that imports the library can do too.
//
// Run it with no flags on a Docker host: every container's output through the engine's API
// (no log driver change: docker run --rm alpine echo Hello World shows up), the engine's
// events, GELF on localhost:12201 (UDP and TCP, on 127.0.0.1 and ::1) for containers that log
// with the GELF driver, and text lines on standard output. Prometheus metrics and a health
// check are served on -http.
//
// Flags, QWATCH_* environment variables and a YAML file (-config) set the same keys; run
// qwatchd -h for the list. SIGINT or SIGTERM flushes every sink and exits; a second one exits
// at once. SIGHUP is logged and ignored; a closed standard output fails only the stdout sink.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"
	"golang.org/x/time/rate"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/promstats"
	"github.com/qnib/qwatch/sink"
)

// defaultMemoryLimit is the Go runtime's soft memory limit unless GOMEMLIMIT sets one: the
// collector works harder as the heap nears it, so floods of input that fill every bounded
// queue and buffer at once stay within it (see RELIABILITY.md), where the default GOGC alone
// would let the heap reach twice what is live.
const defaultMemoryLimit = 256 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	// A closed standard output (qwatchd | head) must not kill the daemon: with SIGPIPE
	// caught, the write fails with EPIPE instead, the stdout sink counts its messages as
	// failed, and every other sink goes on. SIGHUP has nothing to reload: it is logged.
	quiet := make(chan os.Signal, 8)
	signal.Notify(quiet, syscall.SIGPIPE, syscall.SIGHUP)
	go func() {
		for sig := range quiet {
			if sig == syscall.SIGHUP {
				fmt.Fprintln(os.Stderr, "qwatchd: SIGHUP ignored (there are no files to reopen or settings to reload)")
			}
		}
	}()
	go func() {
		<-signals
		fmt.Fprintln(os.Stderr, "qwatchd: shutting down; flushing sinks (signal again to exit at once)")
		cancel()
		<-signals
		fmt.Fprintln(os.Stderr, "qwatchd: second signal; exiting without flushing")
		os.Exit(1)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the daemon; it returns the exit code: 0 after a clean shutdown, 2 for bad settings,
// 1 for anything that stops it from starting or finishing cleanly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "qwatchd: %v\n", err)
		return 2
	}
	if cfg.Healthcheck {
		return healthcheck(cfg.HTTP, stdout, stderr)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	d := &daemon{cfg: cfg, log: logger, stderr: stderr, getenv: getenv, inv: inventory.New(),
		hub: qwatch.NewHub(qwatch.WithLogger(logger), qwatch.WithShutdownTimeout(cfg.ShutdownTimeout)),
		reg: prometheus.NewRegistry(), labelLog: rate.Sometimes{Interval: time.Second}}
	d.reg.MustRegister(promstats.Hub(d.hub), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	defer d.closeAll()
	if err := d.setup(ctx, stdout); err != nil {
		fmt.Fprintf(stderr, "qwatchd: %v\n", err)
		return 1
	}
	if err := d.setupPprof(); err != nil {
		fmt.Fprintf(stderr, "qwatchd: %v\n", err)
		return 1
	}
	err = d.hub.Run(ctx)
	d.summary()
	if err != nil {
		fmt.Fprintf(stderr, "qwatchd: %v\n", err)
		return 1
	}
	return 0
}

// summary says, at exit, where every message went: one line per sink and source.
func (d *daemon) summary() {
	st := d.hub.Stats()
	for _, name := range slices.Sorted(maps.Keys(st.Sinks)) {
		s := st.Sinks[name]
		line := fmt.Sprintf("qwatchd: sink %s offered=%d written=%d failed=%d dropped=%d panics=%d", name, s.Offered, s.Written, s.Failed, s.Dropped, s.Panics)
		if s.Spooled+s.Recovered+s.Lost > 0 || s.SpooledBytes > 0 {
			line += fmt.Sprintf(" recovered=%d spooled=%d lost=%d", s.Recovered, s.Spooled, s.Lost)
		}
		d.say("%s", line)
	}
	for _, f := range d.final {
		d.say("qwatchd: %s", f())
	}
}

// daemon holds what run wires together.
type daemon struct {
	cfg     config
	log     *slog.Logger
	stderr  io.Writer
	getenv  func(string) string
	hub     *qwatch.Hub
	reg     *prometheus.Registry
	final   []func() string // lines for the summary at exit
	closers []func()
	checks  []func() []string // problems of the parts the Hub does not see, for /healthz
	// labels answers a container's labels from the events source's inventory; nil until
	// setupDocker sets it, before the Hub runs.
	labels   func(id string) (map[string]string, bool)
	labelLog rate.Sometimes
	// inv is the host's containers, kept by the events source, counted by the Hub, read by
	// /inventory and the live page.
	inv *inventory.Inventory
}

func (d *daemon) closeAll() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}

func (d *daemon) say(format string, args ...any) {
	fmt.Fprintf(d.stderr, format+"\n", args...)
}

func (d *daemon) setup(ctx context.Context, stdout io.Writer) error {
	if err := d.setupGELF(); err != nil {
		return err
	}
	if err := d.setupDocker(ctx); err != nil {
		return err
	}
	d.setupFilter()
	// Counted after the filter stage, so the inventory's levels are those read from the lines.
	d.hub.Use(d.inv.Count)
	if err := d.setupStdout(stdout); err != nil {
		return err
	}
	if err := d.setupElasticsearch(ctx); err != nil {
		return err
	}
	return d.setupHTTP()
}

func (d *daemon) setupStdout(stdout io.Writer) error {
	if d.cfg.Stdout == "none" {
		return nil
	}
	format, err := sink.ParseFormat(d.cfg.Stdout)
	if err != nil {
		return err
	}
	w := &sink.Writer{Out: stdout, Format: format, Color: format == sink.Pretty && wantColor(stdout, d.getenv)}
	return d.hub.AddSink("stdout", w, qwatch.WithBatch(qwatch.DefaultBatchSize, 0))
}

// wantColor reports whether out is a terminal and NO_COLOR (no-color.org) is unset.
func wantColor(out io.Writer, getenv func(string) string) bool {
	f, ok := out.(*os.File)
	if !ok || getenv("NO_COLOR") != "" {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// health lists what is wrong now: what each sink's SinkStats.Problems says, and what the
// checks of the parts report (an index template not installed).
func (d *daemon) health() []string {
	var problems []string
	for _, check := range d.checks {
		problems = append(problems, check()...)
	}
	st := d.hub.Stats()
	for _, name := range slices.Sorted(maps.Keys(st.Sinks)) {
		for _, p := range st.Sinks[name].Problems() {
			problems = append(problems, fmt.Sprintf("sink %s: %s", name, p))
		}
	}
	return problems
}

// httpMaxConns bounds the connections /metrics and /healthz serve at once.
const httpMaxConns = 64

func (d *daemon) setupHTTP() error {
	if d.cfg.HTTP == "" {
		return nil
	}
	ln, err := net.Listen("tcp", d.cfg.HTTP)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelError)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if problems := d.health(); len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, p := range problems {
				io.WriteString(w, p+"\n")
			}
			return
		}
		io.WriteString(w, "ok\n")
	})
	if err := d.mountLive(mux, ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	// Bounded like any listener that faces the network: slow or idle clients are cut off,
	// and at most httpMaxConns are served at once.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(netutil.LimitListener(ln, httpMaxConns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("http: serving metrics", "err", err)
		}
	}()
	d.closers = append(d.closers, func() {
		srv.Close()
		<-done
	})
	d.say("http: serving /metrics and /healthz on %s", ln.Addr())
	return nil
}

// healthcheck asks a running qwatchd at addr for /healthz: 0 when it answers 200, 1 otherwise.
// A scratch image has no curl; the binary checks itself.
func healthcheck(addr string, stdout, stderr io.Writer) int {
	if addr == "" {
		fmt.Fprintln(stderr, "qwatchd: -healthcheck needs the -http address qwatchd serves /healthz on")
		return 2
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		fmt.Fprintf(stderr, "qwatchd: health check: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	io.Copy(stdout, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
