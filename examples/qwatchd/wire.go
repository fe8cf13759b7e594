package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/client"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/dockerevents"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

func (d *daemon) setupGELF() error {
	if d.cfg.GELFUDP == "" && d.cfg.GELFTCP == "" && d.cfg.GELFHTTP == "" {
		d.say("gelf: off")
		return nil
	}
	src, err := gelf.Listen(gelf.Config{UDPAddr: d.cfg.GELFUDP, TCPAddr: d.cfg.GELFTCP, HTTPAddr: d.cfg.GELFHTTP,
		JoinDockerLines: d.cfg.GELFJoin, Logger: d.log})
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
	d.metrics = append(d.metrics, func(e expo) { writeGELFMetrics(e, src.Stats()) })
	d.final = append(d.final, func() string {
		st := src.Stats()
		return fmt.Sprintf("gelf messages=%d rejected=%d expired=%d evicted=%d", st.Messages, sum(st.Rejected), st.Expired, st.Evicted)
	})
	return d.hub.AddSource("gelf", src)
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
		if _, err := os.Stat("/var/run/docker.sock"); err == nil {
			return "unix:///var/run/docker.sock", ""
		}
		return "", "no engine found (DOCKER_HOST is unset and /var/run/docker.sock does not exist); events and container names off"
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
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithHost(host), client.WithAPIVersionNegotiation())
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
		d.log.Warn("docker: engine does not answer", "host", host, "err", err)
	}
	src, err := dockerevents.NewSource(dockerevents.Config{
		Client:        c,
		IgnoreActions: []string{"exec_create", "exec_start", "exec_die"},
		Logger:        d.log,
	})
	if err != nil {
		return err
	}
	d.say("docker: events from %s (%s)", host, version)
	d.hub.Use(src.Enrich)
	d.metrics = append(d.metrics, func(e expo) { writeDockerMetrics(e, src.Stats()) })
	return d.hub.AddSource("docker", src)
}

func (d *daemon) setupElasticsearch(ctx context.Context) error {
	if len(d.cfg.ESURLs) == 0 {
		return nil
	}
	headers := http.Header{}
	for _, h := range d.cfg.ESHeaders {
		name, value, _ := strings.Cut(h, ":")
		headers.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	s, err := elasticsearch.New(elasticsearch.Config{
		URLs: d.cfg.ESURLs, Index: d.cfg.ESIndex, Headers: headers,
		Username: d.cfg.ESUser, Password: d.cfg.ESPassword, APIKey: d.cfg.ESAPIKey, CAFile: d.cfg.ESCAFile,
		InstallTemplate: d.cfg.ESTemplate, Logger: d.log,
	})
	if err != nil {
		return err
	}
	if !d.cfg.ESWait {
		pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := s.Ping(pingCtx); err != nil {
			return fmt.Errorf("%w (start with -es-wait to queue documents until it answers)", err)
		}
		if err := s.Install(pingCtx); err != nil {
			return err
		}
	}
	d.say("elasticsearch: indexing into %s at %s", d.cfg.ESIndex, strings.Join(d.cfg.ESURLs, ", "))
	d.metrics = append(d.metrics, func(e expo) { writeESMetrics(e, s.Stats()) })
	return d.hub.AddSink("elasticsearch", s, qwatch.WithQueueSize(50000), qwatch.WithBatch(1000, time.Second))
}
