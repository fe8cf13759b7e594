package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/olivere/elastic/v7"
)

// TemplateName is the name the index template is installed under by default
// (Config.TemplateName).
const TemplateName = "qwatch"

func keyword() map[string]any { return map[string]any{"type": "keyword", "ignore_above": 1024} }

func object(props map[string]any) map[string]any { return map[string]any{"properties": props} }

// Template returns the composable index template for the Sink's indices on the engine e:
// Elastic Common Schema types for the document form, @timestamp as a date, names and IDs
// (service.name and service.namespace among them) as keywords, and the fields that hold
// arbitrary names from containers (fields, container.labels, docker.event.actor.attributes)
// as one field each, so that keys parsed from JSON and logfmt lines never conflict in the
// mapping: flattened on Elasticsearch, flat_object on OpenSearch 2.7 and later, and, on an
// engine with neither (an oss build of Elasticsearch before 7.13, OpenSearch before 2.7), an
// object kept in _source but not indexed. The error says why the engine can take no template
// of ours: Elasticsearch before 7.8 has no composable templates, and data streams need
// Elasticsearch 7.9 with x-pack, or OpenSearch.
func (s *Sink) Template(e Engine) (map[string]any, error) {
	f, err := featuresOf(e)
	if err != nil {
		return nil, err
	}
	if s.cfg.DataStream && !f.dataStreams {
		return nil, fmt.Errorf("%v has no data streams (Elasticsearch 7.9 and later with x-pack, or OpenSearch)", e)
	}
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
				"labels": f.freeFormMapping(),
			}),
			"process": object(map[string]any{"command_line": keyword()}),
			"tags":    keyword(),
			"event": object(map[string]any{
				"kind": keyword(), "module": keyword(), "dataset": keyword(), "action": keyword(),
			}),
			"docker": object(map[string]any{
				"event": object(map[string]any{
					"type": keyword(), "scope": keyword(),
					"actor": object(map[string]any{"id": keyword(), "attributes": f.freeFormMapping()}),
				}),
				"container": object(map[string]any{"created": map[string]any{"type": "date_nanos"}}),
			}),
			"fields": f.freeFormMapping(),
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
	return t, nil
}

func (f features) freeFormMapping() map[string]any {
	if f.freeForm == notIndexed {
		return map[string]any{"type": "object", "enabled": false}
	}
	return map[string]any{"type": f.freeForm}
}

// matches reports whether a wildcard pattern ending in * covers another.
func matches(pattern, other string) bool {
	p, ok := strings.CutSuffix(pattern, "*")
	return ok && strings.HasPrefix(other, p)
}

// Install asks the first node which engine it runs (GET /) and puts the index template made
// for that engine (see Template) under Config.TemplateName, replacing one of the same name.
// It does nothing unless Config.InstallTemplate is set. Call it at start, before the first
// Write. The engine found and the reason the template is not in place (the engine refused
// it, or did not answer) stay in Stats until the next Install.
func (s *Sink) Install(ctx context.Context) error {
	if !s.cfg.InstallTemplate {
		return nil
	}
	e, err := s.install(ctx)
	s.installed.set(e, err)
	return err
}

func (s *Sink) install(ctx context.Context) (Engine, error) {
	e, err := s.engine(ctx)
	if err != nil {
		return Engine{}, fmt.Errorf("elasticsearch: installing the index template: %w", err)
	}
	t, err := s.Template(e)
	if err != nil {
		return e, fmt.Errorf("elasticsearch: installing the index template: %w", err)
	}
	body, err := json.Marshal(t)
	if err != nil {
		return e, err
	}
	_, err = s.client.PerformRequest(ctx, elastic.PerformRequestOptions{
		Method: "PUT", Path: "/_index_template/" + url.PathEscape(s.cfg.TemplateName), Body: json.RawMessage(body),
	})
	var refused *elastic.Error
	switch {
	case errors.As(err, &refused):
		return e, fmt.Errorf("elasticsearch: %v refused the index template %s: %s (%w)", e, s.cfg.TemplateName, innermostCause(refused), err)
	case err != nil:
		return e, fmt.Errorf("elasticsearch: putting the index template %s: %w", s.cfg.TemplateName, err)
	}
	return e, nil
}

// installState is what the last Install found, for Stats.
type installState struct {
	mu     sync.Mutex
	engine Engine
	err    string
}

func (st *installState) set(e Engine, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.engine, st.err = e, ""
	if err != nil {
		st.err = err.Error()
	}
}

func (st *installState) get() (Engine, string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.engine, st.err
}
