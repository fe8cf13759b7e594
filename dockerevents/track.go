package dockerevents

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/client"

	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/message"
)

// DefaultInspectWorkers is how many containers the Source inspects at once by default.
const DefaultInspectWorkers = 4

// maxInspectsWaiting bounds the containers waiting for an inspect; beyond it a container
// keeps what its events say until its next event.
const maxInspectsWaiting = 10000

// rebuild makes the inventory hold the containers of a fresh list (those it held and the
// list lacks were removed while the Source did not listen), and has each inspected for what
// the list does not say. What an earlier inspect found stays until the new one answers.
func (s *Source) rebuild(list []container.Summary) {
	cs := make([]inventory.Container, 0, len(list))
	for _, l := range list {
		c := inventory.Container{ID: l.ID, Image: l.Image, ImageID: l.ImageID, Command: l.Command,
			Labels: l.Labels, State: string(l.State), Created: time.Unix(l.Created, 0)}
		if len(l.Names) > 0 {
			c.Name = strings.TrimPrefix(l.Names[0], "/")
		}
		if old, ok := s.inv.Lookup(l.ID); ok && old.State != inventory.StateDestroyed {
			c.Health, c.Started, c.Finished, c.ExitCode, c.RestartCount = old.Health, old.Started, old.Finished, old.ExitCode, old.RestartCount
			if !old.Created.IsZero() {
				c.Created = old.Created // the inspect's, to the nanosecond
			}
		}
		cs = append(cs, c)
	}
	s.inv.Replace(cs)
	for _, c := range cs {
		s.inspects.want(c.ID)
	}
}

// track keeps the inventory current with a container event: at once with what the event
// says, then, for all but destroy, with an inspect of the container, which runs beside the
// events and never holds them up.
func (s *Source) track(ev events.Message, m *message.Message) {
	if ev.Type != events.ContainerEventType || ev.Actor.ID == "" {
		return
	}
	action, detail, _ := strings.Cut(string(ev.Action), ":")
	if strings.HasPrefix(action, "exec_") {
		return // a command run in the container says nothing of the container
	}
	at, attrs := eventTime(ev), ev.Actor.Attributes
	change := func(c *inventory.Container) {
		if n := attrs["name"]; n != "" {
			c.Name = n
		}
		if img := attrs["image"]; img != "" {
			c.Image = img
		}
		switch events.Action(action) {
		case events.ActionCreate:
			c.State, c.Created, c.Labels = "created", at, m.Container.Labels
		case events.ActionStart, events.ActionRestart, events.ActionUnPause:
			c.State = string(container.StateRunning)
			if action != string(events.ActionUnPause) {
				c.Started = at
			}
		case events.ActionDie:
			c.State, c.Finished = string(container.StateExited), at
			if code, err := strconv.Atoi(attrs["exitCode"]); err == nil {
				c.ExitCode = code
			}
		case events.ActionPause:
			c.State = string(container.StatePaused)
		case "health_status":
			c.Health = strings.TrimSpace(detail)
		case events.ActionDestroy:
			c.State = inventory.StateDestroyed
		}
	}
	s.inspects.event(ev.Actor.ID, events.Action(action) != events.ActionDestroy, func() {
		if !s.inv.Update(ev.Actor.ID, change) && events.Action(action) != events.ActionDestroy {
			c := inventory.Container{ID: ev.Actor.ID, Labels: m.Container.Labels}
			change(&c)
			s.inv.Put(c)
		}
	})
}

// inspector inspects containers on behalf of the inventory with a few workers. A container
// asked for again while it waits is inspected once; one asked for while it is inspected is
// inspected again after, so that the last inspect always follows the last event, and the
// answer of the inspect under way is dropped: it may be older than the event, which the
// next inspect, or, if that fails, the event itself, tells better.
type inspector struct {
	client *client.Client
	inv    *inventory.Inventory

	mu      sync.Mutex
	state   map[string]inspectState
	queue   []string
	wake    chan struct{} // has a value when the queue may hold work
	errors  uint64
	skipped uint64
}

type inspectState uint8

const (
	queued inspectState = iota + 1
	running
	runAgain
)

func newInspector(c *client.Client, inv *inventory.Inventory) *inspector {
	return &inspector{client: c, inv: inv, state: map[string]inspectState{}, wake: make(chan struct{}, 1)}
}

// want asks for an inspect of the container.
func (in *inspector) want(id string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.wantLocked(id)
}

// event applies what an event says of a container (apply), and asks for an inspect of it
// when inspect is set, in one step with respect to the inspects' answers, so that an answer
// older than the event never overwrites it.
func (in *inspector) event(id string, inspect bool, apply func()) {
	in.mu.Lock()
	defer in.mu.Unlock()
	apply()
	if inspect {
		in.wantLocked(id)
	} else if in.state[id] == running {
		in.state[id] = runAgain // drops the answer under way; done forgets it
	}
}

func (in *inspector) wantLocked(id string) {
	switch in.state[id] {
	case 0:
		if len(in.state) >= maxInspectsWaiting {
			in.skipped++
			return
		}
		in.state[id] = queued
		in.queue = append(in.queue, id)
		in.signal()
	case running:
		in.state[id] = runAgain
	}
}

func (in *inspector) signal() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// run inspects with n workers until ctx is done.
func (in *inspector) run(ctx context.Context, n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				id, ok := in.next()
				if !ok {
					select {
					case <-in.wake:
						continue
					case <-ctx.Done():
						return
					}
				}
				in.done(id, in.inspect(ctx, id))
			}
		})
	}
	wg.Wait()
}

func (in *inspector) next() (string, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.queue) == 0 {
		in.queue = nil // lets the array go
		return "", false
	}
	id := in.queue[0]
	in.queue = in.queue[1:]
	in.state[id] = running
	if len(in.queue) > 0 {
		in.signal() // another worker may take the next
	}
	return id, true
}

func (in *inspector) done(id string, again bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.state[id] == runAgain && again {
		in.state[id] = queued
		in.queue = append(in.queue, id)
		in.signal()
		return
	}
	delete(in.state, id)
}

// inspectTimeout bounds one inspect, so that an engine that does not answer for one
// container does not hold a worker for good.
const inspectTimeout = 10 * time.Second

// inspect asks the engine about a container and puts the answer in the inventory, unless an
// event came meanwhile. When the engine does not answer, what the events said stays; a
// container the engine no longer has is left to its destroy event. It reports whether the
// container may still need an inspect: not once the engine says it has no such container.
func (in *inspector) inspect(ctx context.Context, id string) bool {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	resp, err := in.client.ContainerInspect(ctx, id)
	in.mu.Lock()
	defer in.mu.Unlock()
	if err != nil {
		if client.IsErrNotFound(err) {
			return false
		}
		if ctx.Err() == nil {
			in.errors++
		}
		return true
	}
	if in.state[id] == runAgain {
		return true // an event came while the engine answered: the next inspect tells
	}
	found := fromInspect(resp)
	in.inv.Update(id, func(c *inventory.Container) {
		if c.State == inventory.StateDestroyed {
			return // the destroy event came while the engine answered
		}
		if found.Image == "" {
			found.Image = c.Image
		}
		*c = found
	})
	return true
}

func (in *inspector) stats() (errors, skipped uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.errors, in.skipped
}

// fromInspect is what an inspect says of a container.
func fromInspect(r container.InspectResponse) inventory.Container {
	c := inventory.Container{}
	if r.ContainerJSONBase != nil {
		c.ID, c.Name, c.ImageID = r.ID, strings.TrimPrefix(r.Name, "/"), r.Image
		c.Created = parseTime(r.Created)
		c.RestartCount = r.RestartCount
		c.Command = strings.TrimSpace(strings.Join(append([]string{r.Path}, r.Args...), " "))
		if st := r.State; st != nil {
			c.State, c.ExitCode = string(st.Status), st.ExitCode
			c.Started, c.Finished = parseTime(st.StartedAt), parseTime(st.FinishedAt)
			if st.Health != nil {
				c.Health = string(st.Health.Status)
			}
		}
	}
	if r.Config != nil {
		c.Image, c.Labels = r.Config.Image, r.Config.Labels
	}
	return c
}

// parseTime reads the engine's RFC 3339 times; its "0001-01-01T00:00:00Z" for never, and
// anything unreadable, is the zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}
