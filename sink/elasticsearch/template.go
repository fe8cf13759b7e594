package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/olivere/elastic/v7"
)

// TemplateName is the name the index template is installed under.
const TemplateName = "qwatch"

func keyword() map[string]any { return map[string]any{"type": "keyword", "ignore_above": 1024} }

func object(props map[string]any) map[string]any { return map[string]any{"properties": props} }

// Template returns the composable index template (ES 7.8 and later) for the Sink's indices:
// Elastic Common Schema types for the document form, @timestamp as a date, names and IDs
// (service.name and service.namespace among them) as keywords, and the fields that hold
// arbitrary names from containers (fields, container.labels, docker.event.actor.attributes)
// as flattened, so that keys parsed from JSON and logfmt lines never conflict in the mapping.
func (s *Sink) Template() map[string]any {
	mappings := map[string]any{
		"dynamic": true,
		"properties": map[string]any{
			"@timestamp": map[string]any{"type": "date_nanos"},
			"message":    map[string]any{"type": "text"},
			"log":        object(map[string]any{"level": keyword()}),
			"host":       object(map[string]any{"name": keyword()}),
			"service":    object(map[string]any{"name": keyword(), "namespace": keyword()}),
			"qwatch": object(map[string]any{
				"id": keyword(), "kind": keyword(), "source": keyword(), "index": keyword(),
				"full_message": map[string]any{"type": "text"},
			}),
			"container": object(map[string]any{
				"id": keyword(), "name": keyword(),
				"image":  object(map[string]any{"name": keyword(), "id": keyword()}),
				"labels": map[string]any{"type": "flattened"},
			}),
			"process": object(map[string]any{"command_line": keyword()}),
			"tags":    keyword(),
			"event": object(map[string]any{
				"kind": keyword(), "module": keyword(), "dataset": keyword(), "action": keyword(),
			}),
			"docker": object(map[string]any{
				"event": object(map[string]any{
					"type": keyword(), "scope": keyword(),
					"actor": object(map[string]any{"id": keyword(), "attributes": map[string]any{"type": "flattened"}}),
				}),
				"container": object(map[string]any{"created": map[string]any{"type": "date_nanos"}}),
			}),
			"fields": map[string]any{"type": "flattened"},
			"error":  object(map[string]any{"message": map[string]any{"type": "text"}}),
		},
	}
	patterns := []string{s.index.pattern()}
	if p := s.dlq.pattern(); p != patterns[0] && !matches(patterns[0], p) {
		patterns = append(patterns, p)
	}
	t := map[string]any{
		"index_patterns": patterns,
		"priority":       200,
		"template":       map[string]any{"mappings": mappings},
		"_meta":          map[string]any{"description": "qwatch: container logs and Docker engine events"},
	}
	if s.cfg.DataStream {
		t["data_stream"] = map[string]any{}
		t["index_patterns"] = []string{s.index.pattern()}
	}
	return t
}

// matches reports whether a wildcard pattern ending in * covers another.
func matches(pattern, other string) bool {
	p, ok := strings.CutSuffix(pattern, "*")
	return ok && strings.HasPrefix(other, p)
}

// Install puts the index template when Config.InstallTemplate is set, replacing one of the
// same name; otherwise it does nothing. Call it once at start, before the first Write.
func (s *Sink) Install(ctx context.Context) error {
	if !s.cfg.InstallTemplate {
		return nil
	}
	body, err := json.Marshal(s.Template())
	if err != nil {
		return err
	}
	_, err = s.client.PerformRequest(ctx, elastic.PerformRequestOptions{
		Method: "PUT", Path: "/_index_template/" + TemplateName, Body: json.RawMessage(body),
	})
	if err != nil {
		return fmt.Errorf("elasticsearch: installing index template: %w", err)
	}
	return nil
}
