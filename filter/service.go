package filter

import (
	"strings"

	"github.com/qnib/qwatch/message"
)

// The labels Docker Compose and Swarm put on the containers they start.
const (
	labelComposeService = "com.docker.compose.service"
	labelComposeProject = "com.docker.compose.project"
	labelSwarmService   = "com.docker.swarm.service.name"
	labelStackNamespace = "com.docker.stack.namespace"
)

// Service names the service of a message's container from its labels, where m.Service does
// not name it already: Service.Name from com.docker.compose.service, else from
// com.docker.swarm.service.name less its stack's "namespace_" prefix (Swarm names a stack's
// services "shop_web"); then, when the service has a name, Service.Namespace from
// com.docker.compose.project, else from com.docker.stack.namespace. It reads only m.Container.Labels, so for GELF messages, whose
// labels the inventory fills in, it must run after that enrichment. It works on logs and
// events alike, never drops a message (it returns true), and is safe for concurrent use: use
// it as a qwatch.Processor.
func Service(m *message.Message) bool {
	labels := m.Container.Labels
	if len(labels) == 0 {
		return true
	}
	if m.Service.Name == "" {
		if name := labels[labelComposeService]; name != "" {
			m.Service.Name = name
		} else if name := labels[labelSwarmService]; name != "" {
			if stack := labels[labelStackNamespace]; stack != "" {
				if rest, ok := strings.CutPrefix(name, stack); ok && len(rest) > 1 && rest[0] == '_' {
					name = rest[1:]
				}
			}
			m.Service.Name = name
		}
	}
	if m.Service.Name != "" && m.Service.Namespace == "" {
		m.Service.Namespace = first(labels, labelComposeProject, labelStackNamespace)
	}
	return true
}

// first returns the value of the first of the keys that labels holds with a value.
func first(labels map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := labels[k]; v != "" {
			return v
		}
	}
	return ""
}
