package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/docker/docker/client"

	"github.com/qnib/qwatch/promstats/inventorystats"
	"github.com/qnib/qwatch/sink/elasticsearch"
)

// esConfig is how to reach the Elasticsearch cluster: its URLs, headers and credentials.
func (d *daemon) esConfig() elasticsearch.Config {
	headers := http.Header{}
	for _, h := range d.cfg.ESHeaders {
		name, value, _ := strings.Cut(h, ":")
		headers.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return elasticsearch.Config{URLs: d.cfg.ESURLs, Headers: headers, Username: d.cfg.ESUser,
		Password: d.cfg.ESPassword, APIKey: d.cfg.ESAPIKey, CAFile: d.cfg.ESCAFile, Logger: d.log}
}

// setupInventory exports the inventory's counts as metrics and, with -inventory-index, keeps
// one document per container in that index, named for the engine's host; /healthz says when
// writing them fails.
func (d *daemon) setupInventory(ctx context.Context, c *client.Client) error {
	d.reg.MustRegister(inventorystats.Inventory(d.inv))
	if d.cfg.InventoryIndex == "" {
		return nil
	}
	infoCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	host := ""
	if info, err := c.Info(infoCtx); err == nil {
		host = info.Name
	}
	cfg := d.esConfig()
	cfg.Index = d.cfg.InventoryIndex
	w, err := elasticsearch.NewInventoryWriter(elasticsearch.InventoryConfig{Config: cfg, Host: host}, d.inv)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	d.checks = append(d.checks, func() []string {
		st := w.Stats()
		var problems []string
		if st.MappingError != "" {
			problems = append(problems, "inventory index: created without its mapping: "+st.MappingError)
		}
		if !st.Healthy {
			problems = append(problems, "inventory index: bulk requests failing, retrying: "+st.LastError)
		}
		return problems
	})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(runCtx)
	}()
	d.closers = append(d.closers, func() { stop(); <-done })
	d.say("inventory: one document per container in the index %s", d.cfg.InventoryIndex)
	return nil
}
