// Package inventorystats exposes a container inventory's counts as Prometheus metrics; see
// package promstats for the Hub's and for what every collector of the module has in common.
//
//	qwatch_inventory_containers{state}            gauge    containers by state (the engine's, or destroyed)
//	qwatch_inventory_{expired,evicted}_total       counters destroyed containers gone after their retention; containers evicted at the bound
package inventorystats

import (
	"maps"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/promstats/internal/collect"
)

// states are the states always reported, 0 when no container is in them, so that a series
// does not vanish when its last container leaves the state.
var states = []string{"created", "running", "paused", "restarting", "removing", "exited", "dead", inventory.StateDestroyed}

// Inventory collects an inventory's Stats.
func Inventory(src interface{ Stats() inventory.Stats }) prometheus.Collector {
	type st = inventory.Stats
	b := &collect.Builder[st]{Prefix: "qwatch_inventory_"}
	b.Metrics = append(b.Metrics, collect.ByKey(collect.Family{Name: b.Prefix + "containers",
		Help: "Containers in the inventory, by state.", Labels: []string{"state"}}, prometheus.GaugeValue,
		func(s st) map[string]int {
			byState := make(map[string]int, len(states)+len(s.States))
			for _, state := range states {
				byState[state] = 0
			}
			maps.Copy(byState, s.States)
			return byState
		}, func(n int) float64 { return float64(n) }))
	b.Counter("expired_total", "Destroyed containers that left the inventory after their retention.", func(s st) uint64 { return s.Expired })
	b.Counter("evicted_total", "Containers that left the inventory to make room at its bound.", func(s st) uint64 { return s.Evicted })
	return b.Collector(src.Stats)
}
