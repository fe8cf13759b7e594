package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/client"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/dockerlogs"
	"github.com/qnib/qwatch/filter"
	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/internal/backoff"
	"github.com/qnib/qwatch/internal/dockerclient"
	"github.com/qnib/qwatch/internal/redact"
	"github.com/qnib/qwatch/promstats/dockerstats"
	"github.com/qnib/qwatch/promstats/esstats"
	"github.com/qnib/qwatch/promstats/filterstats"
	"github.com/qnib/qwatch/promstats/gelfstats"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

func (d *daemon) setupGELF() error {
	if d.cfg.GELFUDP == "" && d.cfg.GELFTCP == "" && d.cfg.GELFHTTP == "" {
		d.say("gelf: off")
		return nil
	}
	rule, _ := d.cfg.multilineRule() // checked with the rest of the settings
	src, err := gelf.Listen(gelf.Config{UDPAddr: d.cfg.GELFUDP, TCPAddr: d.cfg.GELFTCP, HTTPAddr: d.cfg.GELFHTTP,
		JoinDockerLines: d.cfg.GELFJoin, MultilineRule: rule, MultilineRuleFor: d.containerRule, Logger: d.log})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, func() { src.Close() })
	var on []string
	for _, a := range []struct {
		name string
		addr interface{ String() string }
		set  bool
	}{{"udp", src.UDPAddr(), d.cfg.GELFUDP != ""}, {"tcp", src.TCPAddr(), d.cfg.GELFTCP != ""}, {"http", src.HTTPAddr(), d.cfg.GELFHTTP != ""}} {
		if a.set {
			on = append(on, a.name+" "+a.addr.String())
		}
	}
	d.say("gelf: listening on %s", strings.Join(on, ", "))
	var also []string
	for _, a := range src.Addrs() {
		if a != src.UDPAddr() && a != src.TCPAddr() && a != src.HTTPAddr() {
			also = append(also, a.Network()+" "+a.String())
		}
	}
	if len(also) > 0 {
		d.say("gelf: and on %s", strings.Join(also, ", "))
	}
	d.reg.MustRegister(gelfstats.Source(src))
	d.final = append(d.final, func() string {
		st := src.Stats()
		return fmt.Sprintf("gelf messages=%d rejected=%d expired=%d evicted=%d kernel_drops=%d discarded_at_shutdown=%d multiline_groups=%d joined_lines=%d continuations=%d",
			st.Messages, sum(st.Rejected), st.Expired, st.Evicted, st.KernelDrops, sum(st.Discarded),
			st.Multiline.Groups, st.Multiline.Joined, st.Multiline.Continuations)
	})
	return d.hub.AddSource("gelf", src)
}

// containerRule is the multi-line rule a container's labels choose, from the events source's
// inventory: GELF messages carry no labels. A label not understood is logged, at most once a
// second, and the default rule applies.
func (d *daemon) containerRule(id string) (multiline.Rule, bool) {
	if d.labels == nil {
		return multiline.Rule{}, false
	}
	labels, ok := d.labels(id)
	if !ok {
		return multiline.Rule{}, false
	}
	r, chosen, err := multiline.RuleFromLabels(labels)
	if err != nil {
		d.labelLog.Do(func() {
			d.log.Warn("filter: a container's label is not understood; the default rule applies", "container", id, "err", err)
		})
	}
	return r, chosen
}

func sum[K comparable](m map[K]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// dockerHost picks the engine: the setting, else DOCKER_HOST, else the local socket.
func (d *daemon) dockerHost() (host, why string) {
	switch h := d.cfg.DockerHost; h {
	case "none", "":
		return "", "off (-docker-host none)"
	case "auto":
		if env := d.getenv("DOCKER_HOST"); env != "" {
			return env, ""
		}
		// The client's own default: the local socket.
		if _, err := os.Stat(strings.TrimPrefix(client.DefaultDockerHost, "unix://")); err == nil {
			return client.DefaultDockerHost, ""
		}
		return "", "no engine found (DOCKER_HOST is unset and there is no " + client.DefaultDockerHost + "); events and container names off"
	default:
		return h, ""
	}
}

func (d *daemon) setupDocker(ctx context.Context) error {
	host, why := d.dockerHost()
	if host == "" {
		d.say("docker: %s", why)
		return nil
	}
	c, err := dockerclient.New(host)
	if err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	d.closers = append(d.closers, func() { c.Close() })
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	version := "not answering yet; will keep trying"
	if v, err := c.ServerVersion(pingCtx); err == nil {
		version = "engine " + v.Version
	} else {
		d.log.Warn("docker: engine does not answer", "host", redact.URL(host), "err", err)
	}
	stateFile, err := d.statePath("dockerevents.json")
	if err != nil {
		return err
	}
	src, err := dockerevents.NewSource(dockerevents.Config{
		Client:        c,
		IgnoreActions: []string{"exec_create", "exec_start", "exec_die"},
		StateFile:     stateFile,
		Inventory:     d.inv,
		Logger:        d.log,
	})
	if err != nil {
		return err
	}
	d.say("docker: events from %s (%s)", redact.URL(host), version)
	if stateFile != "" {
		d.say("docker: events position kept in %s", stateFile)
	}
	if d.cfg.DockerLogs {
		if err := d.setupDockerLogs(c); err != nil {
			return err
		}
	}
	d.hub.Use(src.Enrich)
	d.labels = src.Labels
	if err := d.setupInventory(ctx, c); err != nil {
		return err
	}
	d.reg.MustRegister(dockerstats.Events(src))
	return d.hub.AddSource("docker", src)
}

func (d *daemon) setupElasticsearch(ctx context.Context) error {
	if len(d.cfg.ESURLs) == 0 {
		return nil
	}
	cfg := d.esConfig()
	cfg.Index, cfg.InstallTemplate = d.cfg.ESIndex, d.cfg.ESTemplate
	s, err := elasticsearch.New(cfg)
	if err != nil {
		return err
	}
	// Until Install puts the template (the engine refused it, or has not answered yet with
	// -es-wait), /healthz says why.
	// So does a node that refuses or fails whole requests, while the sink retries them
	// itself (a rotated key answered 401, say), before any Write gives up.
	d.checks = append(d.checks, func() []string {
		st := s.Stats()
		var problems []string
		if st.TemplateError != "" {
			problems = append(problems, "sink elasticsearch: index template not installed: "+st.TemplateError)
		}
		if !st.Healthy {
			problems = append(problems, "sink elasticsearch: bulk requests failing, retrying: "+st.LastError)
		}
		return problems
	})
	if d.cfg.ESWait {
		// Start at once; the template goes in as soon as the cluster answers.
		if d.cfg.ESTemplate {
			d.installLater(ctx, s)
		}
	} else {
		pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := s.Ping(pingCtx); err != nil {
			return fmt.Errorf("%w (start with -es-wait to queue documents until it answers)", err)
		}
		if err := s.Install(pingCtx); err != nil {
			return err
		}
		if d.cfg.ESTemplate {
			d.say("elasticsearch: index template installed for %v", s.Stats().Engine)
		}
	}
	urls := make([]string, len(d.cfg.ESURLs))
	for i, u := range d.cfg.ESURLs {
		urls[i] = redact.URL(u)
	}
	d.say("elasticsearch: indexing into %s at %s", d.cfg.ESIndex, strings.Join(urls, ", "))
	d.reg.MustRegister(esstats.Sink(s, "elasticsearch"))
	// While Elasticsearch is down its queue fills; then the oldest queued documents give way
	// to new ones (counted as dropped), so the other sinks and the sources never stall. With
	// the spool the queue drains to disk instead, and only a full spool drops its oldest.
	opts := []qwatch.SinkOption{qwatch.WithQueueSize(esQueueSize), qwatch.WithQueueBytes(esQueueBytes),
		qwatch.WithOverflow(qwatch.DropOldest), qwatch.WithBatch(1000, 200*time.Millisecond)}
	if d.cfg.Spool {
		dir, err := d.statePath("spool-elasticsearch")
		if err != nil {
			return err
		}
		if dir != "" {
			opts = append(opts, qwatch.WithSpool(qwatch.SpoolConfig{Dir: dir, MaxBytes: d.cfg.SpoolMaxBytes}))
			d.say("elasticsearch: spooled in %s (at most %d MiB)", dir, d.cfg.SpoolMaxBytes>>20)
		}
	}
	return d.hub.AddSink("elasticsearch", s, opts...)
}

// The Elasticsearch sink's queue: about ten seconds of 5,000 messages a second, and at most
// 256 MiB of them.
const (
	esQueueSize  = 50000
	esQueueBytes = 256 << 20
)

// installLater installs the index template once the cluster answers, retrying with backoff
// until it does or ctx ends.
func (d *daemon) installLater(ctx context.Context, s *elasticsearch.Sink) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		retries := backoff.New(500*time.Millisecond, 30*time.Second, 0.2)
		for {
			attempt, stop := context.WithTimeout(ctx, 10*time.Second)
			err := s.Ping(attempt)
			if err == nil {
				err = s.Install(attempt)
			}
			stop()
			if err == nil {
				d.say("elasticsearch: index template installed for %v", s.Stats().Engine)
				return
			}
			wait := retries.Next()
			d.log.Warn("elasticsearch: template not installed yet; retrying", "err", err, "in", wait.Round(time.Millisecond))
			if backoff.Sleep(ctx, wait) != nil {
				return
			}
		}
	}()
	d.closers = append(d.closers, func() { cancel(); <-done })
}

// statePath returns the path of name in the state directory, creating the directory; "" when
// the state directory is "none".
func (d *daemon) statePath(name string) (string, error) {
	dir := d.cfg.StateDir
	if dir == "" {
		dir = defaultStateDir(d.getenv)
	}
	if dir == "none" {
		return "", nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	return filepath.Join(dir, name), nil
}

// defaultStateDir is $STATE_DIRECTORY (set by systemd's StateDirectory=), else /var/lib/qwatch
// for root, else $XDG_STATE_HOME/qwatch or ~/.local/state/qwatch.
func defaultStateDir(getenv func(string) string) string {
	if dirs := getenv("STATE_DIRECTORY"); dirs != "" {
		first, _, _ := strings.Cut(dirs, ":")
		return first
	}
	if os.Geteuid() == 0 {
		return "/var/lib/qwatch"
	}
	if x := getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "qwatch")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "qwatch")
	}
	return "none"
}

// setupDockerLogs follows every container's output, from its json-file or through the
// engine's API (-docker-logs-reader), grouping
// multi-line events by -multiline or -multiline-start unless a container's labels say
// otherwise.
func (d *daemon) setupDockerLogs(c *client.Client) error {
	dir, err := d.statePath("dockerlogs")
	if err != nil {
		return err
	}
	rule, _ := d.cfg.multilineRule() // checked with the rest of the settings
	src, err := dockerlogs.NewSource(dockerlogs.Config{
		Client:        c,
		StateDir:      dir,
		Flush:         d.hub.Sync, // a checkpoint never runs ahead of what is written or spooled
		MultilineRule: rule,
		Reader:        d.cfg.DockerLogsRead,
		DataRoot:      d.cfg.DockerDataRoot,
		Logger:        d.log,
	})
	if err != nil {
		return err
	}
	d.say("docker: following every container's logs (checkpoints in %s; multi-line events grouped by %s unless a container's labels qwatch.multiline or qwatch.multiline.start say otherwise)",
		dir, rule)
	d.reg.MustRegister(dockerstats.Logs(src))
	d.final = append(d.final, func() string {
		st := src.Stats()
		return fmt.Sprintf("docker-logs lines=%d joined=%d truncated=%d missed=%d multiline_groups=%d joined_lines=%d continuations=%d multiline_label_errors=%d file_reads=%d api_reads=%d files_skipped=%d",
			st.Lines, st.Joined, st.Truncated, st.Missed, st.Multiline.Groups, st.Multiline.Joined, st.Multiline.Continuations, st.MultilineLabelErrors,
			st.FileReads, st.APIReads, st.FilesSkipped)
	})
	return d.hub.AddSource("docker-logs", src)
}

// setupFilter runs the filter stage's processors on every message: after the events
// source's Enrich, which gives GELF messages the labels the stage reads.
func (d *daemon) setupFilter() {
	if !d.cfg.Filter {
		d.say("filter: off (-filter=false): lines are passed on as they are read")
		return
	}
	mode, _ := filter.ParseMode(d.cfg.Parse) // checked with the rest of the settings
	stage := filter.New(filter.Config{Parse: mode})
	d.hub.Use(stage.Process)
	d.reg.MustRegister(filterstats.Stage(stage))
	d.say("filter: structured lines parsed (%s), levels read from the lines, service names from Compose and Swarm labels", d.cfg.Parse)
	d.final = append(d.final, func() string {
		st := stage.Stats()
		var levels uint64
		for _, n := range st.Levels {
			levels += n
		}
		return fmt.Sprintf("filter json=%d logfmt=%d parse_failures=%d fields_cut=%d levels_read=%d",
			st.JSON, st.Logfmt, st.ParseFailures, st.FieldsCut, levels)
	})
}
