package dockerevents

import (
	"maps"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/qnib/qwatch/message"
)

// containerInfo is what the inventory knows of a container.
type containerInfo struct {
	name   string
	image  string
	labels map[string]string // shared, never changed after it is stored
}

// inventory maps container IDs to what they are. Reads (Enrich, on every log line, from many
// goroutines) take a read lock; writes come from the one goroutine that follows the events.
type inventory struct {
	mu      sync.RWMutex
	byID    map[string]containerInfo
	byShort map[string]string // the 12-character short ID to the full one
}

func newInventory() *inventory {
	return &inventory{byID: map[string]containerInfo{}, byShort: map[string]string{}}
}

// reset replaces the inventory with a fresh list of containers.
func (inv *inventory) reset(list []container.Summary) {
	byID := make(map[string]containerInfo, len(list))
	byShort := make(map[string]string, len(list))
	for _, c := range list {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		byID[c.ID] = containerInfo{name: name, image: c.Image, labels: maps.Clone(c.Labels)}
		byShort[shortID(c.ID)] = c.ID
	}
	inv.mu.Lock()
	inv.byID, inv.byShort = byID, byShort
	inv.mu.Unlock()
}

// apply keeps the inventory current with a container event.
func (inv *inventory) apply(ev events.Message, m *message.Message) {
	if ev.Type != events.ContainerEventType || ev.Actor.ID == "" {
		return
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if ev.Action == events.ActionDestroy {
		delete(inv.byID, ev.Actor.ID)
		delete(inv.byShort, shortID(ev.Actor.ID))
		return
	}
	info, known := inv.byID[ev.Actor.ID]
	if n := ev.Actor.Attributes["name"]; n != "" {
		info.name = n
	}
	if img := ev.Actor.Attributes["image"]; img != "" {
		info.image = img
	}
	if !known || ev.Action == events.ActionCreate {
		info.labels = m.Container.Labels
	}
	inv.byID[ev.Actor.ID] = info
	inv.byShort[shortID(ev.Actor.ID)] = ev.Actor.ID
}

func (inv *inventory) lookup(id string) (containerInfo, bool) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	if len(id) < 64 {
		full, ok := inv.byShort[id]
		if !ok {
			return containerInfo{}, false
		}
		id = full
	}
	info, ok := inv.byID[id]
	return info, ok
}

func (inv *inventory) len() int {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return len(inv.byID)
}
