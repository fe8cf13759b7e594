package dockerlogs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"golang.org/x/time/rate"

	"github.com/qnib/qwatch/filter/multiline"
	"github.com/qnib/qwatch/internal/dockerclient"
	"github.com/qnib/qwatch/message"
)

// Defaults of Config.
const (
	DefaultMaxLineBytes   = 1 << 20
	DefaultRelistInterval = 30 * time.Second
	DefaultMaxBackfills   = 4
)

// EnableLabel is the container label that turns following off: a container labelled
// qwatch.enable=false (in any case) is not followed. Any other value, or none, leaves the
// decision to Config.
const EnableLabel = "qwatch.enable"

// readableDrivers are the log drivers whose logs the engine can read back.
var readableDrivers = map[string]bool{"json-file": true, "local": true, "journald": true}

// Config sets up a Source. The zero value follows every container of the engine from the
// environment, from when Run starts, keeping no checkpoints, and groups the lines of each
// container's stdout and stderr into multi-line events by multiline.Auto.
type Config struct {
	// Client talks to the engine; nil means one from the environment, with API version
	// negotiation, which the Source closes when Run returns.
	Client *client.Client
	// StateDir holds a checkpoint per container, so that after a restart each container's
	// logs resume exactly where they stopped. Empty: no checkpoints, and containers already
	// running when Run starts are followed from then on.
	StateDir string
	// Flush, when set, is called before checkpoints are written; it should return once every
	// message emitted so far is safe (written, or in a spool). qwatchd passes Hub.Sync, so a
	// checkpoint never runs ahead of what a crash would keep.
	Flush func(ctx context.Context) error
	// IncludeGELF lets containers that log with the GELF driver be followed too, which the
	// engine reads back only from its dual-logging cache (DualLogging); by default they are
	// skipped, as the GELF source receives their lines.
	IncludeGELF bool
	// DualLogging follows containers whose driver the engine cannot read back (syslog,
	// fluentd, …) through the engine's dual-logging cache, which keeps only recent lines, and
	// not always all of them: Docker 20.10 was seen to keep every other line of a GELF
	// container. The Source emits what the cache holds, as docker logs shows it.
	DualLogging bool
	// ExcludeNames skips containers whose name matches one of these path.Match patterns.
	ExcludeNames []string
	// SelfID is the ID, or a prefix of it, of the container this program runs in, which is
	// never followed: what the program prints would come back to it as lines to emit, again
	// and again. Empty: NewSource finds it in /proc/self/mountinfo (the engine mounts
	// /etc/hostname, /etc/hosts and /etc/resolv.conf from DATA-ROOT/containers/ID/), else
	// in /proc/self/cgroup (/docker/ID, docker-ID.scope); outside a container it finds none.
	// "none" turns this off: every container is followed, the program's own too.
	SelfID string
	// MaxLineBytes caps a line put back together from the engine's 16 KiB pieces
	// (DefaultMaxLineBytes); the rest is cut off and counted.
	MaxLineBytes int
	// MaxBackfills is how many containers at a time read what they wrote while not followed
	// (from their checkpoints, after a restart of the program), so that a host with hundreds
	// of containers does not ask the engine for all their backlogs at once
	// (DefaultMaxBackfills). Following live output is not limited.
	MaxBackfills int
	// RelistInterval is how often the running containers are listed again, to catch a start
	// whose event was missed (DefaultRelistInterval).
	RelistInterval time.Duration
	// Multiline bounds and times the grouping of each container's stdout and stderr into
	// multi-line events (a stack trace as one message); the zero value means package
	// multiline's defaults.
	Multiline multiline.Config
	// MultilineRule groups the lines of containers without the labels qwatch.multiline and
	// qwatch.multiline.start (see the package documentation). The zero Rule is
	// multiline.Auto, which knows the stack traces of the common runtimes; multiline.Off
	// turns grouping off.
	MultilineRule multiline.Rule
	// MultilineBytes bounds the text bytes of the lines all containers' streams hold together
	// while they wait to be grouped (multiline.DefaultBudget); see multiline.Budget.
	MultilineBytes int
	// Reader says how containers' logs are read: ReaderAuto (or empty) reads the json-file
	// of a json-file container from the file system when the engine is on this host (its
	// client talks through a unix socket) and the file can be opened, else through the
	// engine's logs API; ReaderAPI always through the API; ReaderFile reads the files of a
	// remote engine too (its data root mounted here, see DataRoot), falling back to the API
	// for a container whose file cannot be opened. See the package documentation.
	Reader string
	// DataRoot is where the engine's data root (docker info's DockerRootDir,
	// /var/lib/docker by default) is mounted in this program's file system when it is not
	// at the same path: a program in a container with -v /var/lib/docker:/host/docker:ro
	// sets /host/docker. Empty: log paths are read as the engine gives them.
	DataRoot string
	// Logger reports what goes wrong: the engine out of reach, a container or checkpoint
	// that cannot be read or written, output lost (nil: slog.Default()).
	Logger *slog.Logger
}

// Stats counts a Source's work.
type Stats struct {
	Containers int    // followed now
	Lines      uint64 // emitted, alone or in a multi-line message
	Bytes      uint64 // of the lines emitted, without the newlines that join a multi-line message
	Joined     uint64 // lines put back together from the engine's 16 KiB pieces
	// Truncated counts lines cut at MaxLineBytes, and the output of quick --rm containers
	// cut at the 4 MiB held for each (see Missed).
	Truncated uint64
	// Skipped counts containers not followed, by reason: self, label, name, gelf_driver,
	// unreadable_driver. A container is counted at each of its starts.
	Skipped map[string]uint64
	Resumed uint64 // lines skipped because a checkpoint shows them taken
	// AttachErrors counts failures to inspect a container or read its logs: an error answer,
	// or a stream that broke.
	AttachErrors     uint64
	CheckpointErrors uint64 // checkpoint files that could not be read or written
	Connected        bool   // the engine's container events are being followed now
	Missed           uint64 // --rm containers gone before their output could be read (or that printed nothing)
	Backfilling      int    // containers reading what they wrote while not followed, now
	BackfillsWaiting int    // containers waiting for a place to do so, now
	// Multiline counts the grouping of lines into multi-line events, over every container:
	// Multiline.Groups messages hold Multiline.Joined lines. Evicted stays 0: the Source keeps
	// a stream of its own for each container's stdout and stderr.
	Multiline multiline.Stats
	// FileReads and APIReads count the reads of containers' logs by the reader used: their
	// json-files, or the engine's logs API. A container is counted at each of its starts.
	FileReads, APIReads uint64
	// FilesSkipped counts rotated log files not read: compressed (the json-file driver's
	// compress option) before the reader got to them.
	FilesSkipped uint64
	// FileErrors counts lines of json-files that could not be decoded, and were skipped.
	FileErrors uint64
	// FellBehind counts the times a file reader, done with a file, found that the engine had
	// already deleted it (it was rotated out of max-file while being read): the files written
	// after it may have been deleted unread too, and their lines lost. Raise the container's
	// max-size or max-file when it is not 0.
	FellBehind uint64
	// MultilineLabelErrors counts containers whose label qwatch.multiline or
	// qwatch.multiline.start could not be read; their lines were grouped by
	// Config.MultilineRule.
	MultilineLabelErrors uint64
}

// Source is a qwatch.Source over the logs of every container. Create it with NewSource.
type Source struct {
	cfg       Config
	client    *client.Client
	ownClient bool
	log       *slog.Logger
	started   atomic.Bool
	host      string
	runStart  time.Time

	mu        sync.Mutex
	following map[string]*follower
	skipped   map[string]uint64
	positions map[string]*checkpoint // per container, how far its streams were taken
	early     map[string]*capture    // attachments to containers just created
	decided   map[string]string      // why a container just created is skipped
	passed    map[string]bool        // running containers skipped at their start: a listing leaves them
	badLabels map[string]bool        // containers with an invalid multiline label, logged once each

	lines, bytes, joined, truncated, resumed, attachErrors, checkpointErrors atomic.Uint64
	connected                                                                atomic.Bool
	missed                                                                   atomic.Uint64
	missLog                                                                  rate.Sometimes
	backfills                                                                chan struct{} // a place per backfill running
	backfillsWaiting                                                         atomic.Int64
	budget                                                                   *multiline.Budget // shared by every container's streams
	labelErrors                                                              atomic.Uint64
	fileReads, apiReads, filesSkipped, fileErrors, fellBehind                atomic.Uint64
	local                                                                    bool   // the engine is on this host: its log paths are ours
	rootDir                                                                  string // the engine's data root, as it names it
}

// NewSource checks cfg, finds Config.SelfID when it is empty, and returns a Source. It does
// not contact the engine.
func NewSource(cfg Config) (*Source, error) {
	if cfg.MaxLineBytes <= 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	if cfg.MaxBackfills <= 0 {
		cfg.MaxBackfills = DefaultMaxBackfills
	}
	if cfg.RelistInterval <= 0 {
		cfg.RelistInterval = DefaultRelistInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch cfg.SelfID {
	case "":
		cfg.SelfID = selfContainerID()
	case "none":
		cfg.SelfID = ""
	}
	switch cfg.Reader {
	case "":
		cfg.Reader = ReaderAuto
	case ReaderAuto, ReaderAPI, ReaderFile:
	default:
		return nil, fmt.Errorf("dockerlogs: reader %q: want auto, api or file", cfg.Reader)
	}
	for _, p := range cfg.ExcludeNames {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("dockerlogs: exclude pattern %q: %w", p, err)
		}
	}
	s := &Source{cfg: cfg, client: cfg.Client, log: cfg.Logger,
		following: map[string]*follower{}, skipped: map[string]uint64{}, positions: map[string]*checkpoint{}, early: map[string]*capture{}, decided: map[string]string{}, passed: map[string]bool{},
		badLabels: map[string]bool{}, backfills: make(chan struct{}, cfg.MaxBackfills), missLog: rate.Sometimes{Interval: time.Second},
		budget: multiline.NewBudget(int64(cfg.MultilineBytes))}
	if s.client == nil {
		c, err := dockerclient.New("")
		if err != nil {
			return nil, fmt.Errorf("dockerlogs: client from the environment: %w", err)
		}
		s.client, s.ownClient = c, true
	}
	s.local = strings.HasPrefix(s.client.DaemonHost(), "unix://")
	return s, nil
}

// Stats returns the Source's counters.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	skipped := make(map[string]uint64, len(s.skipped))
	for k, v := range s.skipped {
		skipped[k] = v
	}
	n := len(s.following)
	s.mu.Unlock()
	return Stats{Containers: n, Lines: s.lines.Load(), Bytes: s.bytes.Load(), Joined: s.joined.Load(),
		Truncated: s.truncated.Load(), Skipped: skipped, Resumed: s.resumed.Load(),
		AttachErrors: s.attachErrors.Load(), CheckpointErrors: s.checkpointErrors.Load(), Connected: s.connected.Load(), Missed: s.missed.Load(),
		Backfilling: len(s.backfills), BackfillsWaiting: int(s.backfillsWaiting.Load()),
		Multiline: s.budget.Stats(), MultilineLabelErrors: s.labelErrors.Load(),
		FileReads: s.fileReads.Load(), APIReads: s.apiReads.Load(), FilesSkipped: s.filesSkipped.Load(), FileErrors: s.fileErrors.Load(), FellBehind: s.fellBehind.Load()}
}

// Run follows every container's logs until ctx is done, writes the checkpoints a last time,
// and returns nil. While the engine cannot be reached, or its events stream breaks, Run logs
// a warning and tries again every second; the containers followed already go on meanwhile.
// Run may be called once, and not after RunBatch; a second call returns an error.
func (s *Source) Run(ctx context.Context, emit func(message.Message)) error {
	return s.RunBatch(ctx, eachOf(emit))
}

// RunBatch is Run handing over batches (qwatch.BatchSource): the events of a container that
// one read brought, at most 128, in order. The Source reuses batch once emit has returned. A
// container's streams are checkpointed only after emit returned their events.
func (s *Source) RunBatch(ctx context.Context, emit func(batch []message.Message)) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("dockerlogs: Run called twice")
	}
	if s.ownClient {
		defer s.client.Close()
	}
	s.runStart = time.Now()
	var wg sync.WaitGroup
	followCtx, stopFollowing := context.WithCancel(context.WithoutCancel(ctx))
	var saver sync.WaitGroup
	saver.Go(func() { s.saveCheckpoints(ctx) })
	defer func() {
		stopFollowing()
		wg.Wait()
		saver.Wait()
		s.checkpoint(context.WithoutCancel(ctx), true)
	}()
	for ctx.Err() == nil {
		err := s.watch(ctx, followCtx, &wg, emit)
		if ctx.Err() != nil {
			break
		}
		s.log.Warn("dockerlogs: engine events stream ended; listing again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// saveCheckpoints writes the checkpoints once a second until ctx is done. It runs apart from
// the events loop, because Config.Flush waits for slow sinks: the engine skips the events of a
// subscriber that falls behind, and a missed start would be a container not followed.
func (s *Source) saveCheckpoints(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.checkpoint(ctx, false)
		}
	}
}

// watch subscribes to container events, lists the containers, and follows them until the
// events stream ends or ctx is done.
func (s *Source) watch(ctx, followCtx context.Context, wg *sync.WaitGroup, emit func([]message.Message)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.host == "" {
		info, err := s.client.Info(ctx)
		if err != nil {
			return fmt.Errorf("engine info: %w", err)
		}
		s.host, s.rootDir = info.Name, info.DockerRootDir
	}
	// Subscribed before listing, so that a container started in between is not missed.
	msgs, errs := s.client.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", "container"), filters.Arg("event", "create"), filters.Arg("event", "start"),
		filters.Arg("event", "die"), filters.Arg("event", "destroy"))})
	if err := s.relist(ctx, followCtx, wg, emit, true); err != nil {
		return err
	}
	s.connected.Store(true)
	defer s.connected.Store(false)
	relist := time.NewTicker(s.cfg.RelistInterval)
	defer relist.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			return err
		case ev := <-msgs:
			switch ev.Action {
			case events.ActionCreate:
				s.attachEarly(followCtx, wg, ev.Actor.ID)
			case events.ActionStart:
				s.follow(followCtx, wg, ev.Actor.ID, true, ev.Actor.Attributes, emit)
			case events.ActionDie:
				s.died(ev.Actor.ID)
			case events.ActionDestroy:
				s.destroy(ev.Actor.ID)
			}
		case <-relist.C:
			if err := s.relist(ctx, followCtx, wg, emit, false); err != nil {
				s.log.Warn("dockerlogs: listing containers", "err", err)
			}
		}
	}
}

// relist follows every running container not followed yet. At the first listing of a
// connection it also removes the checkpoints of containers that no longer exist, and reads
// the stopped containers with a checkpoint to their end: they may have written lines after
// it while not followed.
func (s *Source) relist(ctx, followCtx context.Context, wg *sync.WaitGroup, emit func([]message.Message), first bool) error {
	list, err := s.client.ContainerList(ctx, container.ListOptions{All: first})
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	if first {
		s.expireCheckpoints(list)
	}
	listed := map[string]bool{}
	for _, c := range list {
		listed[c.ID] = true
		s.mu.Lock()
		passed := s.passed[c.ID]
		s.mu.Unlock()
		// A container created moments ago is left to its events, which may still be on
		// their way: following it from here would miss the attachment made at its creation.
		// One skipped already is looked at again when it starts again.
		switch {
		case c.State == "running" && !passed && (first || time.Since(time.Unix(c.Created, 0)) > 5*time.Second):
			s.follow(followCtx, wg, c.ID, false, nil, emit)
		case first && c.State == "exited" && s.loadCheckpoint(c.ID) != nil:
			s.follow(followCtx, wg, c.ID, false, nil, emit)
		}
	}
	s.mu.Lock()
	maps.DeleteFunc(s.passed, func(id string, _ bool) bool { return !listed[id] })
	s.mu.Unlock()
	return nil
}

// follow starts following the container unless it is followed already or is to be skipped.
func (s *Source) follow(ctx context.Context, wg *sync.WaitGroup, id string, fresh bool, attrs map[string]string, emit func([]message.Message)) {
	s.mu.Lock()
	if _, ok := s.following[id]; ok {
		s.mu.Unlock()
		return
	}
	f := &follower{src: s, id: id, died: make(chan struct{}, 1)}
	s.following[id] = f
	s.mu.Unlock()
	wg.Go(func() {
		reason := f.run(ctx, fresh, attrs, emit)
		s.mu.Lock()
		delete(s.following, id)
		if reason == "" {
			delete(s.passed, id) // a rename, say, changed the decision
		} else {
			s.skipped[reason]++
			s.passed[id] = true
		}
		destroyed := f.destroyed
		s.mu.Unlock()
		if destroyed {
			s.destroy(id)
		}
	})
}

// destroy forgets a destroyed container: what its attachment read, why it is skipped, its
// checkpoint. A quick --rm container is destroyed moments after its start, often before its
// follower has taken what the attachment read: while a follower works on the container, the
// follower forgets it when it ends.
func (s *Source) destroy(id string) {
	s.mu.Lock()
	if f, ok := s.following[id]; ok {
		f.destroyed = true
		s.mu.Unlock()
		return
	}
	delete(s.decided, id)
	delete(s.badLabels, id)
	s.mu.Unlock()
	s.dropEarly(id)
	s.forget(id)
}

// died tells the container's follower, if any, that a die event came.
func (s *Source) died(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.following[id]; ok {
		select {
		case f.died <- struct{}{}:
		default:
		}
	}
}

// skipByAttributes decides what it can from a start event's attributes (name and labels),
// before the container is inspected.
func (s *Source) skipByAttributes(id string, attrs map[string]string) string {
	switch {
	case s.isSelf(id):
		return "self"
	case strings.EqualFold(attrs[EnableLabel], "false"):
		return "label"
	}
	for _, p := range s.cfg.ExcludeNames {
		if ok, _ := path.Match(p, attrs["name"]); ok {
			return "name"
		}
	}
	return ""
}

func (s *Source) isSelf(id string) bool {
	return s.cfg.SelfID != "" && strings.HasPrefix(id, s.cfg.SelfID)
}

// skip says why a container is not followed, or "" when it is.
func (s *Source) skip(info container.InspectResponse) string {
	name := strings.TrimPrefix(info.Name, "/")
	driver := ""
	if info.HostConfig != nil {
		driver = info.HostConfig.LogConfig.Type
	}
	switch {
	case s.isSelf(info.ID):
		return "self"
	case info.Config != nil && strings.EqualFold(info.Config.Labels[EnableLabel], "false"):
		return "label"
	case driver == "gelf" && !s.cfg.IncludeGELF:
		return "gelf_driver"
	case !readableDrivers[driver] && driver != "" && !s.cfg.DualLogging:
		return "unreadable_driver"
	}
	for _, p := range s.cfg.ExcludeNames {
		if ok, _ := path.Match(p, name); ok {
			return "name"
		}
	}
	return ""
}

// rule returns the grouping rule a container's labels choose (multiline.RuleFromLabels:
// qwatch.multiline.start, else qwatch.multiline), else Config.MultilineRule. A label that
// cannot be read is counted and logged once for the container, and Config.MultilineRule used.
func (s *Source) rule(id, name string, labels map[string]string) multiline.Rule {
	r, chosen, err := multiline.RuleFromLabels(labels)
	if err == nil {
		if chosen {
			return r
		}
		return s.cfg.MultilineRule
	}
	s.mu.Lock()
	first := !s.badLabels[id]
	s.badLabels[id] = true
	s.mu.Unlock()
	if first {
		s.labelErrors.Add(1)
		s.log.Warn("dockerlogs: invalid label; grouping the container's lines by the default rule",
			"container", name, "default", s.cfg.MultilineRule.String(), "err", err)
	}
	return s.cfg.MultilineRule
}
