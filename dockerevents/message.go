package dockerevents

import (
	"strings"

	"github.com/docker/docker/api/types/events"

	"github.com/qnib/qwatch/message"
)

// eventAttributes are the attributes the engine adds to a container event besides the
// container's labels.
var eventAttributes = map[string]bool{
	"name": true, "image": true, "exitCode": true, "signal": true, "execID": true,
	"oldName": true, "execDuration": true, "container": true,
}

// toMessage maps one engine event to a message, as the package documentation describes.
func toMessage(ev events.Message, host string) message.Message {
	attrs := ev.Actor.Attributes
	m := message.Message{
		Kind:  message.KindEvent,
		Time:  eventTime(ev),
		Host:  host,
		Level: level(ev),
		Event: message.Event{
			Type:       string(ev.Type),
			Action:     string(ev.Action),
			ActorID:    ev.Actor.ID,
			Scope:      ev.Scope,
			Attributes: attrs,
		},
	}
	name := attrs["name"]
	if ev.Type == events.ContainerEventType {
		m.Container = message.Container{ID: ev.Actor.ID, Name: name, ImageName: attrs["image"]}
		for k, v := range attrs {
			if !eventAttributes[k] {
				if m.Container.Labels == nil {
					m.Container.Labels = make(map[string]string, len(attrs))
				}
				m.Container.Labels[k] = v
			}
		}
	}
	if name == "" {
		name = shortID(ev.Actor.ID)
	}
	var b strings.Builder
	b.WriteString(string(ev.Type))
	b.WriteByte(' ')
	b.WriteString(string(ev.Action))
	if name != "" {
		b.WriteByte(' ')
		b.WriteString(name)
	}
	if img := attrs["image"]; img != "" && ev.Type == events.ContainerEventType {
		b.WriteString(" (")
		b.WriteString(img)
		b.WriteByte(')')
	}
	if code, ok := attrs["exitCode"]; ok && ev.Action == events.ActionDie {
		b.WriteString(" exit code ")
		b.WriteString(code)
	}
	m.Text = b.String()
	return m
}

func level(ev events.Message) message.Level {
	switch {
	case ev.Action == events.ActionOOM:
		return message.LevelErr
	case ev.Action == events.ActionDie && ev.Actor.Attributes["exitCode"] != "0" && ev.Actor.Attributes["exitCode"] != "",
		ev.Action == events.ActionKill,
		ev.Action == events.ActionHealthStatusUnhealthy:
		return message.LevelWarning
	}
	return message.LevelInfo
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) == 64 {
		return id[:12]
	}
	return id
}
