package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qnib/qwatch/internal/dockertest"
	"github.com/qnib/qwatch/internal/searchtest"
)

// TestDaemonInventoryIndex runs qwatchd with -inventory-index against a real OpenSearch node
// and engine: a container that exits with an error is one document, in its newest state
// (exited, exit code 2), and destroyed once removed; the inventory's metrics count it.
func TestDaemonInventoryIndex(t *testing.T) {
	n := searchtest.OpenSearch(t)
	image := dockertest.Image(t)
	run := n.Run(t)
	index := run + "-inventory"
	d := startDaemon(t, "-gelf-udp", "", "-gelf-tcp", "", "-http", "127.0.0.1:0", "-stdout", "none",
		"-es-url", n.URL, "-es-index", run+"-logs-{2006.01.02}", "-inventory-index", index)
	if !strings.Contains(strings.Join(d.stderrLines(), "\n"), "inventory: one document per container in the index "+index) {
		t.Errorf("no word of the inventory index: %v", d.stderrLines())
	}

	name := "inv-qwatchd-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "-")
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	dockertest.DockerErr("run", "--name", name, "--network", "none", "--label", "com.docker.compose.service=crasher",
		image, "/logger", "-no-such-flag") // exits 2
	byName := map[string]any{"term": map[string]any{"container.name": name}}
	// A pattern, not the name: until the writer's first bulk the index does not exist, and a
	// pattern that matches nothing is an empty answer rather than a 404.
	doc := func() (map[string]any, error) {
		docs, err := n.TrySearch(index+"*", byName)
		if err != nil {
			return nil, err
		}
		if len(docs) != 1 {
			return nil, fmt.Errorf("%d documents of %s", len(docs), name)
		}
		return docs[0]["container"].(map[string]any), nil
	}
	waitUntil(t, 2*time.Minute, func() error {
		c, err := doc()
		if err == nil && (c["state"] != "exited" || c["exit_code"] != float64(2)) {
			err = fmt.Errorf("document %v; want exited with code 2", c)
		}
		return err
	})
	docs := n.Search(t, index+"*", byName)
	if svc, _ := docs[0]["service"].(map[string]any); svc["name"] != "crasher" {
		t.Errorf("service of %v", docs[0])
	}
	d.waitMetric(`qwatch_inventory_containers{state="exited"}`, 1, time.Minute)

	dockertest.Docker(t, "rm", name)
	waitUntil(t, 2*time.Minute, func() error {
		c, err := doc()
		if err == nil && c["state"] != "destroyed" {
			err = fmt.Errorf("document %v; want destroyed", c)
		}
		return err
	})
	if code, body := healthz(t, d.http); code != 200 {
		t.Errorf("/healthz %d: %s", code, body)
	}
}
