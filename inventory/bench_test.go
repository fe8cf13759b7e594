package inventory_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/message"
)

// globalLock counts as the first form of Count did: one write lock for every line, and the
// counts in maps. It is the baseline Count is measured against.
type globalLock struct {
	mu   sync.Mutex
	logs map[string]*inventory.Logs
}

func (g *globalLock) count(m *message.Message) {
	stream, _ := m.Fields["stream"].(string)
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.logs[m.Container.ID]
	l.Lines[stream]++
	l.Bytes[stream] += uint64(len(m.Text) + len(m.FullText))
	l.ByLevel[m.Level.String()]++
	if !m.Time.Before(l.Last) {
		l.Last, l.LastText = m.Time, m.Text
	}
}

// BenchmarkCount counts lines of 50 containers, from one goroutine (serial) and from
// GOMAXPROCS goroutines (parallel), with Count and with the global-lock baseline.
func BenchmarkCount(b *testing.B) {
	const containers = 50
	inv := inventory.New()
	base := &globalLock{logs: map[string]*inventory.Logs{}}
	msgs := make([]*message.Message, containers)
	for i := range msgs {
		cid := fmt.Sprintf("%064x", i+1)
		inv.Put(inventory.Container{ID: cid, State: "running"})
		base.logs[cid] = &inventory.Logs{Lines: map[string]uint64{}, Bytes: map[string]uint64{}, ByLevel: map[string]uint64{}}
		msgs[i] = logLine(cid, "stdout", "GET /index.html 200", message.LevelInfo, time.Now())
	}
	for _, impl := range []struct {
		name  string
		count func(*message.Message)
	}{
		{"Count", func(m *message.Message) { inv.Count(m) }},
		{"global-lock", base.count},
	} {
		b.Run(impl.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				impl.count(msgs[i%containers])
				i++
			}
		})
		b.Run(impl.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					impl.count(msgs[i%containers])
					i++
				}
			})
		})
	}
}
