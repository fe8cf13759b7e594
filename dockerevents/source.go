package dockerevents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"golang.org/x/time/rate"

	"github.com/qnib/qwatch/internal/backoff"
	"github.com/qnib/qwatch/internal/dockerclient"
	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/message"
)

// Defaults of Config.
const (
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = 10 * time.Second
	DefaultSeamTimeout = 2 * time.Second
	// DefaultMaxBacklogBytes holds some 30,000 events of a typical size.
	DefaultMaxBacklogBytes = 16 << 20
)

// Config sets up a Source. The zero value works on a Docker host: the engine from the
// environment (DOCKER_HOST and friends, else the local socket), every event from now on.
type Config struct {
	// Client talks to the engine; nil means one from the environment, with API version
	// negotiation, which the Source closes when Run returns.
	Client *client.Client
	// Filters narrows the events as the engine's API does: keys type, event, container,
	// image, label, network, volume, daemon, plugin, node, service, secret, config, scope;
	// for example {"type": {"container", "image"}, "label": {"com.example.team=web"}}.
	Filters map[string][]string
	// IgnoreActions drops events whose action, up to a colon, is one of these; for example
	// "exec_create", "exec_start", "exec_die" for the noise of health checks and docker exec.
	IgnoreActions []string
	// Since is the time of the first event wanted; zero means from when Run starts. A
	// position read from StateFile takes its place.
	Since time.Time
	// MinBackoff and MaxBackoff bound the wait between reconnection attempts
	// (DefaultMinBackoff, DefaultMaxBackoff): MinBackoff after a stream that delivered
	// events, doubled after each attempt that did not, up to MaxBackoff. Each wait is spread
	// by ±20%, so that many programs do not reconnect in step.
	MinBackoff, MaxBackoff time.Duration
	// SeamTimeout is how long, after reconnecting, the Source waits for the engine to replay
	// the last event it saw before it reports a gap (DefaultSeamTimeout).
	SeamTimeout time.Duration
	// StateFile, when set, is where the Source keeps its position (the newest event time,
	// saved at most once a second and when Run returns), so that after a restart it resumes
	// there instead of from now: the events in between are emitted, replays of those already
	// emitted are dropped, and if the engine cannot replay back that far (it keeps only its
	// last 256 events, and none across its own restart) a gap is reported.
	StateFile string
	// MaxBacklogBytes bounds the events read from the engine and not yet emitted while emit
	// blocks (DefaultMaxBacklogBytes). The Source reads the engine's stream all the time,
	// because the engine silently skips the events of a subscriber that falls behind; an
	// event read while the backlog is full is dropped, counted in Stats.Dropped and reported
	// as a gap with the window of the events dropped.
	MaxBacklogBytes int
	// Inventory, when set, is kept current with the engine's containers, for readers of
	// its own (a page, an index): rebuilt from a list of the containers when Run starts and
	// after every reconnection, updated by every container event, and completed by an
	// inspect of each container (state, start and finish times, exit code, restart count,
	// health) that runs beside the events and never holds them up; when an inspect fails,
	// what the events said stays. Destroyed containers stay for the Inventory's retention.
	// Nil: the Source keeps one of its own, for Enrich and Labels.
	Inventory *inventory.Inventory
	// InspectWorkers bounds the inspects run at once (DefaultInspectWorkers).
	InspectWorkers int
	// Logger reports reconnections and gaps (nil: slog.Default()).
	Logger *slog.Logger
}

// filterKeys are the filters the engine's events API takes.
var filterKeys = map[string]bool{
	"config": true, "container": true, "daemon": true, "event": true, "image": true, "label": true,
	"network": true, "node": true, "plugin": true, "scope": true, "secret": true, "service": true,
	"type": true, "volume": true,
}

// Stats counts a Source's work.
type Stats struct {
	Events      uint64 // events received and emitted
	Duplicates  uint64 // events the engine replayed twice at a seam, dropped
	Ignored     uint64 // events dropped by IgnoreActions
	Reconnects  uint64 // times the stream broke or could not be opened, each followed by a new attempt
	Gaps        uint64 // gaps reported
	Dropped     uint64 // events dropped because the backlog was full (reported as gaps)
	Backlog     int    // events read from the engine and not yet emitted, now
	StateErrors uint64 // failures to read or save the state file
	// InspectErrors counts inspects of containers the engine did not answer (the
	// inventory keeps what the events said); InspectsSkipped those not asked for because
	// too many waited.
	InspectErrors, InspectsSkipped uint64
	Containers                     int  // containers in the inventory now, the destroyed ones aside
	Connected                      bool // whether a stream is up now
}

// Source is a qwatch.Source over the engine's events. Create it with NewSource.
type Source struct {
	cfg       Config
	client    *client.Client
	ownClient bool
	log       *slog.Logger
	inv       *inventory.Inventory
	inspects  *inspector
	started   atomic.Bool

	events, duplicates, ignored, reconnects, gaps, dropped, stateErrors atomic.Uint64
	connected                                                           atomic.Bool
	backlog                                                             atomic.Int64
	saved                                                               int64 // time_nano last saved; Run's goroutine only
	stateLog                                                            rate.Sometimes
	host                                                                atomic.Pointer[string]
}

// NewSource checks cfg and returns a Source. It does not contact the engine.
func NewSource(cfg Config) (*Source, error) {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return nil, fmt.Errorf("dockerevents: MaxBackoff %v is less than MinBackoff %v", cfg.MaxBackoff, cfg.MinBackoff)
	}
	for k := range cfg.Filters {
		if !filterKeys[k] {
			return nil, fmt.Errorf("dockerevents: unknown filter %q (want one of config, container, daemon, event, image, label, network, node, plugin, scope, secret, service, type, volume)", k)
		}
	}
	if cfg.SeamTimeout <= 0 {
		cfg.SeamTimeout = DefaultSeamTimeout
	}
	if cfg.MaxBacklogBytes <= 0 {
		cfg.MaxBacklogBytes = DefaultMaxBacklogBytes
	}
	if cfg.InspectWorkers <= 0 {
		cfg.InspectWorkers = DefaultInspectWorkers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Inventory == nil {
		cfg.Inventory = inventory.New()
	}
	s := &Source{cfg: cfg, client: cfg.Client, log: cfg.Logger, inv: cfg.Inventory, stateLog: rate.Sometimes{Interval: time.Second}}
	if s.client == nil {
		c, err := dockerclient.New("")
		if err != nil {
			return nil, fmt.Errorf("dockerevents: client from the environment: %w", err)
		}
		s.client, s.ownClient = c, true
	}
	s.inspects = newInspector(s.client, s.inv)
	empty := ""
	s.host.Store(&empty)
	return s, nil
}

// Stats returns the Source's counters.
func (s *Source) Stats() Stats {
	inspectErrors, inspectsSkipped := s.inspects.stats()
	inv := s.inv.Stats()
	return Stats{
		InspectErrors:   inspectErrors,
		InspectsSkipped: inspectsSkipped,
		Events:          s.events.Load(),
		Duplicates:      s.duplicates.Load(),
		Ignored:         s.ignored.Load(),
		Reconnects:      s.reconnects.Load(),
		Gaps:            s.gaps.Load(),
		Dropped:         s.dropped.Load(),
		Backlog:         int(s.backlog.Load()),
		StateErrors:     s.stateErrors.Load(),
		Containers:      inv.Containers - inv.States[inventory.StateDestroyed],
		Connected:       s.connected.Load(),
	}
}

// Enrich fills Container.Name, ImageName and Labels, where they are empty, of a log message
// that carries a container ID (full or the 12-character short form) known to the inventory.
// It never drops a message. It is safe for concurrent use, and cheap: use it as a
// qwatch.Processor (hub.Use(src.Enrich)).
func (s *Source) Enrich(m *message.Message) bool {
	if m.Kind != message.KindLog || m.Container.ID == "" {
		return true
	}
	c, ok := s.lookup(m.Container.ID)
	if !ok {
		return true
	}
	if m.Container.Name == "" {
		m.Container.Name = c.Name
	}
	if m.Container.ImageName == "" {
		m.Container.ImageName = c.Image
	}
	if len(m.Container.Labels) == 0 {
		m.Container.Labels = c.Labels
	}
	return true
}

// lookup finds a container the engine has now: not one destroyed, though the inventory
// still shows it.
func (s *Source) lookup(id string) (inventory.Container, bool) {
	c, ok := s.inv.Lookup(id)
	if !ok || c.State == inventory.StateDestroyed {
		return inventory.Container{}, false
	}
	return c, true
}

// Labels returns the labels of the container with the given ID (full or the 12-character
// short form), as the inventory knows them, and whether it knows the container. The map is
// shared: the caller must not change it. It is safe for concurrent use; a GELF source asks it
// which multi-line rule a container's labels choose, as its messages carry no labels.
func (s *Source) Labels(id string) (map[string]string, bool) {
	c, ok := s.lookup(id)
	return c.Labels, ok
}

// seamSlack is how far before the newest event seen a reconnection asks the engine to
// replay from. The live stream is not in timeNano order (the engine stamps an event before
// it takes its publishing lock), so an event stamped a little earlier than the newest one
// seen may not have been delivered yet when the stream broke.
const seamSlack = time.Second

// recentLimit bounds how many event identities the Source remembers to drop replays by.
const recentLimit = 8192

// seam is what the Source remembers of the events it emitted, to resume after a break: the
// newest event time, and the identities of recent events, to drop them when a reconnection
// replays them. It never drops an event of a live stream for its time.
type seam struct {
	nanos  int64            // the newest timeNano seen
	recent map[string]int64 // identity → timeNano of recent events
	order  []string         // identities in the order seen, to forget the oldest
}

func newSeam(nanos int64) *seam { return &seam{nanos: nanos, recent: map[string]int64{}} }

// seen reports whether an event with this identity was emitted already.
func (s *seam) seen(key string) bool { _, ok := s.recent[key]; return ok }

// add remembers an emitted event.
func (s *seam) add(key string, nanos int64) {
	s.nanos = max(s.nanos, nanos)
	s.recent[key] = nanos
	s.order = append(s.order, key)
	if len(s.order) > recentLimit {
		delete(s.recent, s.order[0])
		s.order = slices.Delete(s.order, 0, len(s.order)-recentLimit)
	}
}

// since is the time a reconnection asks the engine to replay from.
func (s *seam) since() int64 { return s.nanos - int64(seamSlack) }

// eventKey identifies an event: two events alike in all of these are the same event.
func eventKey(ev events.Message) string {
	attrs := make([]string, 0, len(ev.Actor.Attributes))
	for k, v := range ev.Actor.Attributes {
		attrs = append(attrs, k+"="+v)
	}
	slices.Sort(attrs)
	return string(ev.Type) + "\x00" + string(ev.Action) + "\x00" + ev.Actor.ID + "\x00" +
		strconv.FormatInt(ev.TimeNano, 10) + "\x00" + strings.Join(attrs, "\x00")
}

func eventTime(ev events.Message) time.Time {
	if ev.TimeNano != 0 {
		return time.Unix(0, ev.TimeNano)
	}
	return time.Unix(ev.Time, 0)
}

// Run follows the events until ctx is done, reconnecting whenever the stream breaks or the
// engine cannot be reached, and returns nil. Run may be called once; a second call returns an
// error.
func (s *Source) Run(ctx context.Context, emit func(message.Message)) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("dockerevents: Run called twice")
	}
	if s.ownClient {
		defer s.client.Close()
	}
	last, resume := s.start(emit)
	defer s.saveState(last)
	inspectCtx, stopInspects := context.WithCancel(ctx)
	var inspects sync.WaitGroup
	inspects.Go(func() { s.inspects.run(inspectCtx, s.cfg.InspectWorkers) })
	defer func() {
		stopInspects()
		inspects.Wait()
	}()
	retries := backoff.New(s.cfg.MinBackoff, s.cfg.MaxBackoff, 0.2) // spread so many clients do not reconnect in step
	for ctx.Err() == nil {
		healthy, err := s.stream(ctx, last, resume, emit)
		resume = true
		if ctx.Err() != nil {
			break
		}
		s.connected.Store(false)
		s.reconnects.Add(1)
		if healthy {
			retries.Reset()
		}
		wait := retries.Next()
		s.log.Warn("dockerevents: event stream ended; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		backoff.Sleep(ctx, wait)
	}
	s.connected.Store(false)
	return nil
}

// stream follows one connection to the engine until it breaks. It reports whether the stream
// got far enough to count as healthy (so the backoff starts over).
// With resume, the stream follows a break (or a restart with a saved position): the engine
// replays from a little before the newest event seen, replays of events already emitted are
// dropped by identity, and a replay that does not reach back to them is reported as a gap.
func (s *Source) stream(ctx context.Context, last *seam, resume bool, emit func(message.Message)) (healthy bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	info, err := s.client.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("engine info: %w", err)
	}
	host := info.Name
	s.host.Store(&host)

	args := filters.NewArgs()
	for k, vs := range s.cfg.Filters {
		for _, v := range vs {
			args.Add(k, v)
		}
	}
	// The engine replays buffered events whose time is at or after since: events already
	// emitted come again, which proves the replay reaches back far enough.
	since := last.nanos
	if resume {
		since = last.since()
	}
	msgs, errs := s.client.Events(ctx, events.ListOptions{
		Since:   fmt.Sprintf("%d.%09d", since/1e9, since%1e9),
		Filters: args,
	})
	// Listing after subscribing: a change in between shows up as an event after the list.
	list, err := s.client.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return false, fmt.Errorf("listing containers: %w", err)
	}
	s.rebuild(list)
	s.connected.Store(true)

	queue := newBacklog(s.cfg.MaxBacklogBytes, &s.backlog, &s.dropped)
	var reader sync.WaitGroup
	reader.Go(func() { queue.fill(msgs, errs) })
	defer func() {
		cancel()
		reader.Wait()
	}()

	// With no event seen since the position (none came while it was kept) there is nothing
	// the replay could prove, and no gap to report.
	seam := &seamCheck{pending: resume && len(last.recent) > 0, at: time.Now()}
	var seamTimer <-chan time.Time
	if resume {
		t := time.NewTimer(s.cfg.SeamTimeout)
		defer t.Stop()
		seamTimer = t.C
	}
	save := time.NewTicker(time.Second)
	defer save.Stop()
	for {
		select {
		case <-save.C:
			s.saveState(last)
			s.inv.Expire()
			continue
		case <-seamTimer:
			// Not reported before the events already read are handled: one may prove the seam.
			seam.overdue, seamTimer = true, nil
		case <-queue.ready:
		}
		// A few hundred at a time, so that saves and the seam check have their turn.
		evs, dropped, more, ended, err := queue.take(256)
		for _, ev := range evs {
			healthy = true
			s.handle(ev, last, seam, host, emit)
			s.backlog.Add(-1)
		}
		if dropped.n > 0 {
			s.reportGap(emit, dropped.from, dropped.to, host, fmt.Sprintf(
				"%d events came while %d bytes of events waited to be emitted, and were dropped", dropped.n, s.cfg.MaxBacklogBytes))
		}
		if more {
			queue.signal()
			continue
		}
		if seam.pending && seam.overdue {
			s.reportGap(emit, last.nanos, seam.at.UnixNano(), host,
				"the engine did not replay the last event seen: it restarted, or its buffer of recent events moved on")
			seam.pending = false
		}
		if ended {
			// The events read before the end, shutdown included, are all emitted by now.
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return healthy, nil
			}
			if err == nil {
				err = errors.New("stream closed")
			}
			return healthy, err
		}
	}
}

// seamCheck follows, after a reconnection, whether the engine's replay reaches back to the
// events already emitted.
type seamCheck struct {
	pending bool      // not proven or reported yet
	overdue bool      // the replay did not come within SeamTimeout
	at      time.Time // when the stream was subscribed
}

// handle emits one event from the engine, unless a replay repeats one already emitted.
func (s *Source) handle(ev events.Message, last *seam, check *seamCheck, host string, emit func(message.Message)) {
	if ev.TimeNano == 0 {
		ev.TimeNano = ev.Time * 1e9
	}
	key := eventKey(ev)
	if last.seen(key) {
		s.duplicates.Add(1)
		check.pending = false // the replay reaches back: nothing lost
		return
	}
	// An event newer than all seen, before the replay showed one seen already, means the
	// engine's buffer no longer reaches back. One not newer was missed at the break (the live
	// stream is not in time order) and is recovered here.
	if check.pending && ev.TimeNano > last.nanos {
		s.reportGap(emit, last.nanos, ev.TimeNano, host, "the engine's replay does not reach back to the last event seen")
		check.pending = false
	}
	last.add(key, ev.TimeNano)
	m := toMessage(ev, host)
	s.track(ev, &m)
	if s.ignore(ev.Action) {
		s.ignored.Add(1)
		return
	}
	s.events.Add(1)
	emit(m)
}

func (s *Source) ignore(action events.Action) bool {
	a, _, _ := strings.Cut(string(action), ":")
	for _, ig := range s.cfg.IgnoreActions {
		if a == ig {
			return true
		}
	}
	return false
}

// reportGap emits a warning message for a window whose events may be lost.
func (s *Source) reportGap(emit func(message.Message), from, to int64, host, why string) {
	s.gaps.Add(1)
	f, t := time.Unix(0, from).UTC(), time.Unix(0, to).UTC()
	fromText := f.Format(time.RFC3339Nano)
	if from == 0 {
		fromText = "unknown"
	}
	text := fmt.Sprintf("events from %s to %s may be lost: %s", fromText, t.Format(time.RFC3339Nano), why)
	s.log.Warn("dockerevents: "+text, "from", fromText, "to", t)
	emit(message.Message{
		Kind:  message.KindEvent,
		Time:  time.Now(),
		Host:  host,
		Level: message.LevelWarning,
		Text:  text,
		Event: message.Event{Type: "qwatch", Action: "gap", Attributes: map[string]string{
			"from": fromText, "to": t.Format(time.RFC3339Nano), "reason": why,
		}},
	})
}
