package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/olivere/elastic/v7"

	"github.com/qnib/qwatch/internal/redact"
)

// Engine is the search engine a node runs, as its answer to GET / names it.
type Engine struct {
	// Distribution is "opensearch" or "elasticsearch" (Elasticsearch does not name itself: a
	// version without a distribution is Elasticsearch), or "" when the answer gives no
	// version, as from a server of the bulk protocol only.
	Distribution string
	Version      string // version.number, such as "2.19.6"
	// BuildFlavor is Elasticsearch 7's version.build_flavor: an "oss" build has no x-pack,
	// so no flattened fields before 7.13 and no data streams.
	BuildFlavor string
}

// The values of Engine.Distribution.
const (
	openSearch    = "opensearch"
	elasticSearch = "elasticsearch"
)

func (e Engine) String() string {
	switch {
	case e.Distribution == "":
		return "a server that names no version"
	case e.BuildFlavor == "oss":
		return e.Distribution + " " + e.Version + " (oss)"
	}
	return e.Distribution + " " + e.Version
}

// parseEngine reads the answer to GET /.
func parseEngine(body []byte) (Engine, error) {
	var root struct {
		Version struct {
			Distribution string `json:"distribution"`
			Number       string `json:"number"`
			BuildFlavor  string `json:"build_flavor"`
		} `json:"version"`
	}
	if err := json.Unmarshal(body, &root); err != nil {
		return Engine{}, fmt.Errorf("reading the answer to GET /: %w", err)
	}
	v := root.Version
	if v.Number == "" {
		return Engine{}, nil
	}
	e := Engine{Distribution: strings.ToLower(v.Distribution), Version: v.Number, BuildFlavor: v.BuildFlavor}
	if e.Distribution == "" {
		e.Distribution = elasticSearch
	}
	return e, nil
}

// atLeast reports whether the engine's version is major.minor or later. A version that does
// not parse counts as the latest: the engine's own answer to the template then tells.
func (e Engine) atLeast(major, minor int) bool {
	parts := strings.SplitN(e.Version, ".", 3)
	if len(parts) < 2 {
		return true
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return true
	}
	return ma > major || ma == major && mi >= minor
}

// features is what the index template may use on an engine.
type features struct {
	// freeForm maps an object whose keys the sender chooses (container labels, GELF's
	// additional fields) as one field, so that their names cannot explode or conflict in
	// the mapping: flattened (Elasticsearch), flat_object (OpenSearch 2.7), or, on an engine
	// with neither, an object kept in _source but not indexed.
	freeForm    string
	dataStreams bool
}

// Field types of features.freeForm; notIndexed maps an object with "enabled": false.
const (
	flattened  = "flattened"
	flatObject = "flat_object"
	notIndexed = "object"
)

// featuresOf says what the engine takes. A server that names no version is taken for a
// current Elasticsearch. The error says why no template of ours can go on the engine.
func featuresOf(e Engine) (features, error) {
	switch {
	case e.Distribution == openSearch:
		// OpenSearch reports 7.10.2 when told to pass for Elasticsearch
		// (compatibility.override_main_response_version): a 2.x, or later.
		if e.atLeast(2, 7) {
			return features{freeForm: flatObject, dataStreams: true}, nil
		}
		return features{freeForm: notIndexed, dataStreams: true}, nil
	case e.Distribution == "":
		return features{freeForm: flattened, dataStreams: true}, nil
	case !e.atLeast(7, 8):
		return features{}, fmt.Errorf("%v has no composable index templates (Elasticsearch 7.8 and later)", e)
	case e.BuildFlavor == "oss":
		// x-pack holds data streams, and flattened fields before 7.13.
		if e.atLeast(7, 13) {
			return features{freeForm: flattened}, nil
		}
		return features{freeForm: notIndexed}, nil
	}
	return features{freeForm: flattened, dataStreams: e.atLeast(7, 9)}, nil
}

// engine asks the first node what it runs.
func (s *Sink) engine(ctx context.Context) (Engine, error) {
	resp, err := s.client.PerformRequest(ctx, elastic.PerformRequestOptions{Method: "GET", Path: "/"})
	if err != nil {
		return Engine{}, fmt.Errorf("asking %s what it runs: %w", redact.URL(s.cfg.URLs[0]), err)
	}
	return parseEngine(resp.Body)
}

// innermostCause is the engine's innermost reason for refusing a request: the outer reasons
// of a refused template only say that it is invalid, the innermost which field and type.
func innermostCause(e *elastic.Error) string {
	if e.Details == nil {
		return fmt.Sprintf("status %d", e.Status)
	}
	reason, cause := e.Details.Reason, e.Details.CausedBy
	for cause != nil {
		if r, ok := cause["reason"].(string); ok {
			reason = r
		}
		cause, _ = cause["caused_by"].(map[string]any)
	}
	return reason
}
