package message

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/qnib/qwatch/internal/jsonw"
	"github.com/qnib/qwatch/internal/rfc3339"
)

// AppendJSON appends the JSON document form of m to dst and returns the extended buffer. It
// writes no newline. Map keys are written in sorted order, so equal messages encode to equal
// bytes. Strings that are not valid UTF-8 have each bad byte replaced by U+FFFD, as
// encoding/json does. Field values that are not strings, numbers or bools are encoded with
// encoding/json; a value encoding/json cannot encode is written as its fmt %v string, and so
// are NaN and the infinities, which JSON has no number for.
func (m Message) AppendJSON(dst []byte) []byte {
	b := append(dst, '{')
	o := object{}
	if !m.Time.IsZero() {
		b = o.key(b, "@timestamp")
		b = appendTime(b, m.Time)
	}
	if m.Text != "" {
		b = o.key(b, "message")
		b = jsonw.AppendString(b, m.Text)
	}
	b = o.key(b, "log")
	b = append(b, `{"level":`...)
	b = jsonw.AppendString(b, m.Level.String())
	b = append(b, '}')
	if m.Host != "" {
		b = o.key(b, "host")
		b = append(b, `{"name":`...)
		b = jsonw.AppendString(b, m.Host)
		b = append(b, '}')
	}
	if m.Service != (Service{}) {
		b = o.key(b, "service")
		b = m.Service.appendJSON(b)
	}

	b = o.key(b, "qwatch")
	b = m.appendQwatch(b)
	if c := &m.Container; c.ID != "" || c.Name != "" || c.ImageName != "" || c.ImageID != "" || len(c.Labels) > 0 {
		b = o.key(b, "container")
		b = c.appendJSON(b)
	}
	if m.Container.Command != "" {
		b = o.key(b, "process")
		b = append(b, `{"command_line":`...)
		b = jsonw.AppendString(b, m.Container.Command)
		b = append(b, '}')
	}
	if m.Container.Tag != "" {
		b = o.key(b, "tags")
		b = append(b, '[')
		b = jsonw.AppendString(b, m.Container.Tag)
		b = append(b, ']')
	}
	if m.Kind == KindEvent {
		b = o.key(b, "event")
		b = append(b, `{"kind":"event","module":"docker","dataset":"docker.events"`...)
		if m.Event.Action != "" {
			b = append(b, `,"action":`...)
			b = jsonw.AppendString(b, m.Event.Action)
		}
		b = append(b, '}')
	}
	if e := &m.Event; e.Type != "" || e.ActorID != "" || e.Scope != "" || len(e.Attributes) > 0 || !m.Container.Created.IsZero() {
		b = o.key(b, "docker")
		b = m.appendDocker(b)
	}
	if len(m.Fields) > 0 {
		b = o.key(b, "fields")
		b = appendFields(b, m.Fields)
	}
	return append(b, '}')
}

func (m *Message) appendQwatch(b []byte) []byte {
	o := object{}
	b = append(b, '{')
	if m.ID != "" {
		b = o.key(b, "id")
		b = jsonw.AppendString(b, m.ID)
	}
	b = o.key(b, "kind")
	b = jsonw.AppendString(b, m.Kind.String())
	if m.Source != "" {
		b = o.key(b, "source")
		b = jsonw.AppendString(b, m.Source)
	}
	if m.FullText != "" {
		b = o.key(b, "full_message")
		b = jsonw.AppendString(b, m.FullText)
	}
	return append(b, '}')
}

func (s *Service) appendJSON(b []byte) []byte {
	o := object{}
	b = append(b, '{')
	if s.Name != "" {
		b = o.key(b, "name")
		b = jsonw.AppendString(b, s.Name)
	}
	if s.Namespace != "" {
		b = o.key(b, "namespace")
		b = jsonw.AppendString(b, s.Namespace)
	}
	return append(b, '}')
}

func (c *Container) appendJSON(b []byte) []byte {
	o := object{}
	b = append(b, '{')
	if c.ID != "" {
		b = o.key(b, "id")
		b = jsonw.AppendString(b, c.ID)
	}
	if c.Name != "" {
		b = o.key(b, "name")
		b = jsonw.AppendString(b, c.Name)
	}
	if c.ImageName != "" || c.ImageID != "" {
		b = o.key(b, "image")
		io := object{}
		b = append(b, '{')
		if c.ImageName != "" {
			b = io.key(b, "name")
			b = jsonw.AppendString(b, c.ImageName)
		}
		if c.ImageID != "" {
			b = io.key(b, "id")
			b = jsonw.AppendString(b, c.ImageID)
		}
		b = append(b, '}')
	}
	if len(c.Labels) > 0 {
		b = o.key(b, "labels")
		b = appendStringMap(b, c.Labels)
	}
	return append(b, '}')
}

func (m *Message) appendDocker(b []byte) []byte {
	o := object{}
	b = append(b, '{')
	if e := &m.Event; e.Type != "" || e.ActorID != "" || e.Scope != "" || len(e.Attributes) > 0 {
		b = o.key(b, "event")
		eo := object{}
		b = append(b, '{')
		if e.Type != "" {
			b = eo.key(b, "type")
			b = jsonw.AppendString(b, e.Type)
		}
		if e.ActorID != "" || len(e.Attributes) > 0 {
			b = eo.key(b, "actor")
			ao := object{}
			b = append(b, '{')
			if e.ActorID != "" {
				b = ao.key(b, "id")
				b = jsonw.AppendString(b, e.ActorID)
			}
			if len(e.Attributes) > 0 {
				b = ao.key(b, "attributes")
				b = appendStringMap(b, e.Attributes)
			}
			b = append(b, '}')
		}
		if e.Scope != "" {
			b = eo.key(b, "scope")
			b = jsonw.AppendString(b, e.Scope)
		}
		b = append(b, '}')
	}
	if !m.Container.Created.IsZero() {
		b = o.key(b, "container")
		b = append(b, `{"created":`...)
		b = appendTime(b, m.Container.Created)
		b = append(b, '}')
	}
	return append(b, '}')
}

// object writes the commas between the members of one JSON object.
type object struct{ n int }

func (o *object) key(b []byte, k string) []byte {
	if o.n > 0 {
		b = append(b, ',')
	}
	o.n++
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

// appendTime writes t in UTC as a quoted RFC 3339 time with 3, 6 or 9 digits of fraction,
// the fewest that keep it exact, so a time the GELF decoder kept to the microsecond survives
// the trip.
func appendTime(b []byte, t time.Time) []byte {
	if year := t.UTC().Year(); year < 0 || year > 9999 {
		return t.UTC().AppendFormat(b, `"2006-01-02T15:04:05.999999999Z07:00"`)
	}
	digits := 3
	switch ns := t.Nanosecond(); {
	case ns%1e3 != 0:
		digits = 9
	case ns%1e6 != 0:
		digits = 6
	}
	b = append(b, '"')
	b = rfc3339.AppendUTC(b, t, digits)
	return append(b, '"')
}

// sortedKeys returns the keys of m in order, in dst when it has room (so that the small maps
// of labels and fields cost no allocation).
func sortedKeys[V any](dst []string, m map[string]V) []string {
	keys := dst[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendStringMap(b []byte, m map[string]string) []byte {
	var buf [16]string
	b = append(b, '{')
	for i, k := range sortedKeys(buf[:], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonw.AppendString(b, k)
		b = append(b, ':')
		b = jsonw.AppendString(b, m[k])
	}
	return append(b, '}')
}

func appendFields(b []byte, m map[string]any) []byte {
	var buf [16]string
	b = append(b, '{')
	for i, k := range sortedKeys(buf[:], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonw.AppendString(b, k)
		b = append(b, ':')
		b = appendValue(b, m[k])
	}
	return append(b, '}')
}

func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return jsonw.AppendString(b, v)
	case bool:
		return strconv.AppendBool(b, v)
	case float64:
		return appendFloat(b, v)
	case float32:
		return appendFloat(b, float64(v))
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case nil:
		return append(b, "null"...)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return jsonw.AppendString(b, fmt.Sprint(v))
	}
	return append(b, j...)
}

// appendFloat writes f as encoding/json does; JSON has no NaN or infinities, so those become
// strings rather than an invalid document.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return jsonw.AppendString(b, strconv.FormatFloat(f, 'g', -1, 64))
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}

// MarshalJSON returns the JSON document form; see AppendJSON.
func (m Message) MarshalJSON() ([]byte, error) {
	return m.AppendJSON(make([]byte, 0, 512)), nil
}

// document is the JSON document form, for reading it back.
type document struct {
	Timestamp time.Time `json:"@timestamp"`
	Message   string    `json:"message"`
	Log       struct {
		Level string `json:"level"`
	} `json:"log"`
	Host struct {
		Name string `json:"name"`
	} `json:"host"`
	Service struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"service"`
	Qwatch struct {
		ID          string `json:"id"`
		Kind        string `json:"kind"`
		Source      string `json:"source"`
		FullMessage string `json:"full_message"`
	} `json:"qwatch"`
	Container struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Image struct {
			Name string `json:"name"`
			ID   string `json:"id"`
		} `json:"image"`
		Labels map[string]string `json:"labels"`
	} `json:"container"`
	Process struct {
		CommandLine string `json:"command_line"`
	} `json:"process"`
	Tags  []string `json:"tags"`
	Event struct {
		Action string `json:"action"`
	} `json:"event"`
	Docker struct {
		Event struct {
			Type  string `json:"type"`
			Actor struct {
				ID         string            `json:"id"`
				Attributes map[string]string `json:"attributes"`
			} `json:"actor"`
			Scope string `json:"scope"`
		} `json:"event"`
		Container struct {
			Created time.Time `json:"created"`
		} `json:"container"`
	} `json:"docker"`
	Fields map[string]any `json:"fields"`
}

// UnmarshalJSON reads the JSON document form back into m. A document without log.level reads
// as LevelInfo; one without qwatch.kind as KindLog. Numbers in Fields read as float64.
func (m *Message) UnmarshalJSON(data []byte) error {
	var d document
	if err := json.Unmarshal(data, &d); err != nil {
		return fmt.Errorf("message: reading document: %w", err)
	}
	level := LevelInfo
	if d.Log.Level != "" {
		l, err := ParseLevel(d.Log.Level)
		if err != nil {
			return err
		}
		level = l
	}
	kind := KindLog
	if d.Qwatch.Kind != "" {
		k, err := ParseKind(d.Qwatch.Kind)
		if err != nil {
			return err
		}
		kind = k
	}
	var tag string
	if len(d.Tags) > 0 {
		tag = d.Tags[0]
	}
	*m = Message{
		ID:       d.Qwatch.ID,
		Kind:     kind,
		Time:     d.Timestamp,
		Source:   d.Qwatch.Source,
		Host:     d.Host.Name,
		Level:    level,
		Text:     d.Message,
		FullText: d.Qwatch.FullMessage,
		Container: Container{
			ID:        d.Container.ID,
			Name:      d.Container.Name,
			ImageID:   d.Container.Image.ID,
			ImageName: d.Container.Image.Name,
			Command:   d.Process.CommandLine,
			Tag:       tag,
			Created:   d.Docker.Container.Created,
			Labels:    d.Container.Labels,
		},
		Event: Event{
			Type:       d.Docker.Event.Type,
			Action:     d.Event.Action,
			ActorID:    d.Docker.Event.Actor.ID,
			Scope:      d.Docker.Event.Scope,
			Attributes: d.Docker.Event.Actor.Attributes,
		},
		Service: Service{Name: d.Service.Name, Namespace: d.Service.Namespace},
		Fields:  d.Fields,
	}
	return nil
}
