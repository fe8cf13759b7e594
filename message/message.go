package message

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Message is one log line or one engine event.
type Message struct {
	// ID identifies the message uniquely; the Hub sets it (see [NewID]) when it is empty, so a
	// sink can use it to make retries idempotent.
	ID string
	// Kind tells a log line from an engine event. The zero value is KindLog.
	Kind Kind
	// Time is when the message was produced, as its source reported it.
	Time time.Time
	// Source is the name the producing source was added to the Hub under.
	Source string
	// Host is the host that produced the message.
	Host string
	// Level is the syslog severity. Note that its zero value is LevelEmerg, as in syslog.
	Level Level
	// Text is the short message: one log line, or a one-line summary of an event.
	Text string
	// FullText is the long form, such as a stack trace, when the source has one.
	FullText string
	// Container describes the container the message is about; zero when there is none.
	Container Container
	// Event holds the engine event; zero for a log line.
	Event Event
	// Service names the service the container belongs to, such as a Compose service or a
	// Swarm service; zero when it is not known.
	Service Service
	// Fields holds additional fields. The sources of qwatch put strings, float64 numbers and
	// bools in it; AppendJSON writes whatever encoding/json can.
	Fields map[string]any
}

// Size estimates the bytes of memory m holds: its strings, maps and fixed parts. The Hub
// bounds its queues by it; it is cheap and does not allocate.
func (m *Message) Size() int {
	const (
		fixed    = 352 // the struct itself, with its times and headers
		perEntry = 48  // a map entry's share of buckets and headers
	)
	n := fixed + len(m.ID) + len(m.Source) + len(m.Host) + len(m.Text) + len(m.FullText) +
		len(m.Container.ID) + len(m.Container.Name) + len(m.Container.ImageID) +
		len(m.Container.ImageName) + len(m.Container.Command) + len(m.Container.Tag) +
		len(m.Event.Type) + len(m.Event.Action) + len(m.Event.ActorID) + len(m.Event.Scope) +
		len(m.Service.Name) + len(m.Service.Namespace)
	for k, v := range m.Container.Labels {
		n += perEntry + len(k) + len(v)
	}
	for k, v := range m.Event.Attributes {
		n += perEntry + len(k) + len(v)
	}
	for k, v := range m.Fields {
		n += perEntry + len(k)
		if s, ok := v.(string); ok {
			n += len(s)
		} else {
			n += 16
		}
	}
	return n
}

// Container describes a container.
type Container struct {
	ID        string
	Name      string
	ImageID   string
	ImageName string
	Command   string
	Tag       string
	Created   time.Time
	Labels    map[string]string
}

// Event is an engine event, as the Docker events API reports it.
type Event struct {
	Type       string // container, image, network, volume, daemon, …
	Action     string // create, start, die, …
	ActorID    string
	Scope      string // local or swarm
	Attributes map[string]string
}

// Service names a service, as Elastic Common Schema's service.name and service.namespace do:
// Name is what dashboards group by (a Compose or Swarm service), Namespace the group of
// services it belongs to (a Compose project or a Swarm stack).
type Service struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// Kind tells log lines from events.
type Kind uint8

const (
	KindLog   Kind = iota // a log line
	KindEvent             // an engine event
)

// String returns "log" or "event".
func (k Kind) String() string {
	switch k {
	case KindLog:
		return "log"
	case KindEvent:
		return "event"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind parses the names String returns.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "log":
		return KindLog, nil
	case "event":
		return KindEvent, nil
	}
	return 0, fmt.Errorf("message: unknown kind %q", s)
}

// MarshalText returns the kind's name, so a Kind reads well in JSON, YAML and flags.
func (k Kind) MarshalText() ([]byte, error) {
	if k > KindEvent {
		return nil, fmt.Errorf("message: invalid kind %d", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText parses what ParseKind accepts.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Level is a syslog severity, 0 (most severe) to 7.
type Level uint8

// The syslog severities, numbered as RFC 5424 numbers them.
const (
	LevelEmerg Level = iota
	LevelAlert
	LevelCrit
	LevelErr
	LevelWarning
	LevelNotice
	LevelInfo
	LevelDebug
)

var levelNames = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// String returns the syslog name: emerg alert crit err warning notice info debug.
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// Valid reports whether l is one of the eight syslog severities.
func (l Level) Valid() bool { return l <= LevelDebug }

// ParseLevel parses a syslog severity given as a number 0..7 or a name. Besides the names
// String returns it accepts the common aliases (emergency, panic, critical, error, warn,
// informational, fatal), in any case.
func ParseLevel(s string) (Level, error) {
	if len(s) == 1 && s[0] >= '0' && s[0] <= '7' {
		return Level(s[0] - '0'), nil
	}
	switch strings.ToLower(s) {
	case "emerg", "emergency", "panic":
		return LevelEmerg, nil
	case "alert":
		return LevelAlert, nil
	case "crit", "critical", "fatal":
		return LevelCrit, nil
	case "err", "error":
		return LevelErr, nil
	case "warning", "warn":
		return LevelWarning, nil
	case "notice":
		return LevelNotice, nil
	case "info", "informational":
		return LevelInfo, nil
	case "debug":
		return LevelDebug, nil
	}
	return 0, fmt.Errorf("message: unknown level %q", s)
}

// MarshalText returns the level's name.
func (l Level) MarshalText() ([]byte, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("message: invalid level %d", uint8(l))
	}
	return []byte(levelNames[l]), nil
}

// UnmarshalText parses what ParseLevel accepts.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
