package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"golang.org/x/net/netutil"
)

// pprofMaxConns bounds the connections the profiling listener serves at once: it is for a
// person with a profiler, not for the network.
const pprofMaxConns = 4

// pprofMaxSeconds is the longest CPU profile or trace the listener takes: the server's write
// timeout is a little longer, as net/http/pprof refuses a profile longer than that timeout.
const pprofMaxSeconds = 120

// setupPprof serves Go's profiles (net/http/pprof, under /debug/pprof/) on -pprof's address,
// on a listener of its own so that profiling is never exposed by turning on /metrics. It is
// off unless -pprof is set; the address must be loopback unless -listen-all (config.validate).
func (d *daemon) setupPprof() error {
	if d.cfg.Pprof == "" {
		return nil
	}
	ln, err := net.Listen("tcp", d.cfg.Pprof)
	if err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: (pprofMaxSeconds + 10) * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(netutil.LimitListener(ln, pprofMaxConns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("pprof: serving profiles", "err", err)
		}
	}()
	d.closers = append(d.closers, func() {
		srv.Close()
		<-done
	})
	d.say("pprof: serving /debug/pprof/ on %s", ln.Addr())
	return nil
}
