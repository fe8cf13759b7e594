package elasticsearch_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qnib/qwatch/sink/elasticsearch"
)

// freeFormPaths are the fields whose keys containers choose, as paths into a template's
// mapping properties.
var freeFormPaths = [][]string{
	{"fields"},
	{"container", "properties", "labels"},
	{"docker", "properties", "event", "properties", "actor", "properties", "attributes"},
}

// property returns the mapping of the field at path in a template.
func property(t *testing.T, tmpl map[string]any, path []string) map[string]any {
	t.Helper()
	// A JSON round trip gives the form the engine reads.
	b, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	cur := m["template"].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
	for i, name := range path {
		next, ok := cur[name].(map[string]any)
		if !ok {
			t.Fatalf("template has no %s", strings.Join(path[:i+1], "."))
		}
		cur = next
	}
	return cur
}

// TestTemplateForEngine: the template fits what each engine takes, and an engine that takes
// none of ours is said so.
func TestTemplateForEngine(t *testing.T) {
	flattened := map[string]any{"type": "flattened"}
	flatObject := map[string]any{"type": "flat_object"}
	notIndexed := map[string]any{"type": "object", "enabled": false}
	tests := []struct {
		name       string
		engine     elasticsearch.Engine
		dataStream bool
		want       map[string]any // each free-form field's mapping
		wantErr    string
	}{
		{"opensearch 2.19", elasticsearch.Engine{Distribution: "opensearch", Version: "2.19.6"}, false, flatObject, ""},
		{"opensearch 2.19 data stream", elasticsearch.Engine{Distribution: "opensearch", Version: "2.19.6"}, true, flatObject, ""},
		{"opensearch 2.7", elasticsearch.Engine{Distribution: "opensearch", Version: "2.7.0"}, false, flatObject, ""},
		{"opensearch 2.6 has no flat_object", elasticsearch.Engine{Distribution: "opensearch", Version: "2.6.0"}, false, notIndexed, ""},
		{"opensearch 1.3 data stream", elasticsearch.Engine{Distribution: "opensearch", Version: "1.3.19"}, true, notIndexed, ""},
		{"opensearch passing for elasticsearch 7.10", elasticsearch.Engine{Distribution: "opensearch", Version: "7.10.2"}, false, flatObject, ""},
		{"opensearch 3", elasticsearch.Engine{Distribution: "opensearch", Version: "3.1.0"}, true, flatObject, ""},
		{"elasticsearch 7.17 without x-pack", elasticsearch.Engine{Distribution: "elasticsearch", Version: "7.17.28", BuildFlavor: "unknown"}, false, flattened, ""},
		{"elasticsearch 8 data stream", elasticsearch.Engine{Distribution: "elasticsearch", Version: "8.15.0", BuildFlavor: "default"}, true, flattened, ""},
		{"elasticsearch 9", elasticsearch.Engine{Distribution: "elasticsearch", Version: "9.1.0", BuildFlavor: "default"}, false, flattened, ""},
		{"elasticsearch 7.9 data stream", elasticsearch.Engine{Distribution: "elasticsearch", Version: "7.9.0", BuildFlavor: "default"}, true, flattened, ""},
		{"elasticsearch 7.8 has no data streams", elasticsearch.Engine{Distribution: "elasticsearch", Version: "7.8.1", BuildFlavor: "default"}, true, nil, "elasticsearch 7.8.1 has no data streams"},
		{"elasticsearch 7.7 has no composable templates", elasticsearch.Engine{Distribution: "elasticsearch", Version: "7.7.1", BuildFlavor: "default"}, false, nil, "elasticsearch 7.7.1 has no composable index templates"},
		{"elasticsearch 6", elasticsearch.Engine{Distribution: "elasticsearch", Version: "6.8.23"}, false, nil, "no composable index templates"},
		{"elasticsearch 7.10 oss has no flattened", elasticsearch.Engine{Distribution: "elasticsearch", Version: "7.10.2", BuildFlavor: "oss"}, false, notIndexed, ""},
		{"elasticsearch 7.10 oss has no data streams", elasticsearch.Engine{Distribution: "elasticsearch", Version: "7.10.2", BuildFlavor: "oss"}, true, nil, "elasticsearch 7.10.2 (oss) has no data streams"},
		{"elasticsearch 7.13 oss has flattened", elasticsearch.Engine{Distribution: "elasticsearch", Version: "7.13.0", BuildFlavor: "oss"}, false, flattened, ""},
		{"a server that names no version", elasticsearch.Engine{}, true, flattened, ""},
		{"a version that does not parse", elasticsearch.Engine{Distribution: "elasticsearch", Version: "main-SNAPSHOT"}, false, flattened, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, elasticsearch.Config{DataStream: tt.dataStream})
			tmpl, err := s.Template(tt.engine)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Template(%+v) = %v, want an error containing %q", tt.engine, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range freeFormPaths {
				if diff := cmp.Diff(tt.want, property(t, tmpl, path)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", strings.Join(path, "."), diff)
				}
			}
			if _, ok := tmpl["data_stream"]; ok != tt.dataStream {
				t.Errorf("data_stream in the template: %v, want %v", ok, tt.dataStream)
			}
			if got := property(t, tmpl, []string{"@timestamp"})["type"]; got != "date_nanos" {
				t.Errorf("@timestamp mapped as %v", got)
			}
		})
	}
}

// engineServer answers GET / and PUT /_index_template/NAME as a test tells it, and records
// the templates put.
type engineServer struct {
	srv *httptest.Server

	mu   sync.Mutex
	root func(w http.ResponseWriter)              // answers GET /
	put  func(w http.ResponseWriter, name string) // answers PUT /_index_template/NAME
	puts map[string]map[string]any                // templates put, by name
}

func newEngineServer(t *testing.T) *engineServer {
	e := &engineServer{puts: map[string]map[string]any{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		switch name, ok := strings.CutPrefix(r.URL.Path, "/_index_template/"); {
		case r.Method == http.MethodGet && r.URL.Path == "/":
			e.root(w)
		case r.Method == http.MethodPut && ok:
			var tmpl map[string]any
			if err := json.NewDecoder(r.Body).Decode(&tmpl); err != nil {
				t.Errorf("template put is not JSON: %v", err)
			}
			e.puts[name] = tmpl
			e.put(w, name)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() {
		e.srv.CloseClientConnections()
		e.srv.Close()
	})
	return e
}

func (e *engineServer) templates() map[string]map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.puts
}

// answer writes a status and a body read from testdata (an answer captured from a real node).
func answer(t *testing.T, status int, file string) func(http.ResponseWriter) {
	body, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}
}

func acknowledged(w http.ResponseWriter, _ string) { io.WriteString(w, `{"acknowledged":true}`) }

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestInstall(t *testing.T) {
	opensearch := elasticsearch.Engine{Distribution: "opensearch", Version: "2.19.6"}
	es717 := elasticsearch.Engine{Distribution: "elasticsearch", Version: "7.17.28", BuildFlavor: "unknown"}
	tests := []struct {
		name       string
		dataStream bool
		root       func(*testing.T) func(http.ResponseWriter)
		put        func(*testing.T) func(http.ResponseWriter, string)
		wantEngine elasticsearch.Engine
		wantType   string // the type of fields in the template put; "" when none is put
		wantErr    string // in the error and in Stats.TemplateError
	}{
		{
			name:       "opensearch takes flat_object",
			root:       func(t *testing.T) func(http.ResponseWriter) { return answer(t, 200, "root-opensearch-2.19.6.json") },
			wantEngine: opensearch, wantType: "flat_object",
		},
		{
			name:       "opensearch data stream",
			dataStream: true,
			root:       func(t *testing.T) func(http.ResponseWriter) { return answer(t, 200, "root-opensearch-2.19.6.json") },
			wantEngine: opensearch, wantType: "flat_object",
		},
		{
			name:       "elasticsearch 7.17 takes flattened",
			root:       func(t *testing.T) func(http.ResponseWriter) { return answer(t, 200, "root-elasticsearch-7.17.28.json") },
			wantEngine: es717, wantType: "flattened",
		},
		{
			name:       "victorialogs passes for elasticsearch 8.9",
			root:       func(t *testing.T) func(http.ResponseWriter) { return answer(t, 200, "root-victorialogs-1.110.0.json") },
			wantEngine: elasticsearch.Engine{Distribution: "elasticsearch", Version: "8.9.0"}, wantType: "flattened",
		},
		{
			name: "refused: the engine's innermost reason is told",
			root: func(t *testing.T) func(http.ResponseWriter) { return answer(t, 200, "root-opensearch-2.19.6.json") },
			put: func(t *testing.T) func(http.ResponseWriter, string) {
				a := answer(t, 400, "refused-flattened-opensearch-2.19.6.json")
				return func(w http.ResponseWriter, _ string) { a(w) }
			},
			wantEngine: opensearch, wantType: "flat_object",
			wantErr: "opensearch 2.19.6 refused the index template qwatch: No handler for type [flattened] declared on field [fields]",
		},
		{
			name:       "refused: a data stream without x-pack",
			dataStream: true,
			root:       func(t *testing.T) func(http.ResponseWriter) { return answer(t, 200, "root-elasticsearch-7.17.28.json") },
			put: func(t *testing.T) func(http.ResponseWriter, string) {
				a := answer(t, 400, "refused-data-stream-elasticsearch-7.17.28.json")
				return func(w http.ResponseWriter, _ string) { a(w) }
			},
			wantEngine: es717, wantType: "flattened",
			wantErr: "elasticsearch 7.17.28 refused the index template qwatch: [index_template] unknown field [data_stream]",
		},
		{
			name: "refused without a reason",
			root: func(t *testing.T) func(http.ResponseWriter) { return answer(t, 200, "root-opensearch-2.19.6.json") },
			put: func(*testing.T) func(http.ResponseWriter, string) {
				return func(w http.ResponseWriter, _ string) { w.WriteHeader(http.StatusForbidden) }
			},
			wantEngine: opensearch, wantType: "flat_object",
			wantErr: "opensearch 2.19.6 refused the index template qwatch: status 403",
		},
		{
			name: "connection dropped on the template",
			root: func(t *testing.T) func(http.ResponseWriter) { return answer(t, 200, "root-opensearch-2.19.6.json") },
			put: func(*testing.T) func(http.ResponseWriter, string) {
				return func(w http.ResponseWriter, _ string) { drop(w) }
			},
			wantEngine: opensearch, wantType: "flat_object",
			wantErr: "putting the index template qwatch",
		},
		{
			name: "an engine that takes no template of ours",
			root: func(*testing.T) func(http.ResponseWriter) {
				return func(w http.ResponseWriter) {
					io.WriteString(w, `{"version":{"number":"7.7.1","build_flavor":"default"}}`)
				}
			},
			wantEngine: elasticsearch.Engine{Distribution: "elasticsearch", Version: "7.7.1", BuildFlavor: "default"},
			wantErr:    "elasticsearch 7.7.1 has no composable index templates",
		},
		{
			name: "GET / fails",
			root: func(*testing.T) func(http.ResponseWriter) {
				return func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }
			},
			wantErr: "asking http://127.0.0.1",
		},
		{
			name:    "GET / dropped",
			root:    func(*testing.T) func(http.ResponseWriter) { return drop },
			wantErr: "asking http://127.0.0.1",
		},
		{
			name: "GET / answers no JSON",
			root: func(*testing.T) func(http.ResponseWriter) {
				return func(w http.ResponseWriter) { io.WriteString(w, "<html>a proxy's page</html>") }
			},
			wantErr: "reading the answer to GET /",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newEngineServer(t)
			srv.root = tt.root(t)
			srv.put = acknowledged
			if tt.put != nil {
				srv.put = tt.put(t)
			}
			s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}, InstallTemplate: true, DataStream: tt.dataStream})
			err := s.Install(context.Background())
			st := s.Stats()
			if tt.wantErr == "" {
				if err != nil || st.TemplateError != "" {
					t.Fatalf("Install() = %v, Stats.TemplateError %q", err, st.TemplateError)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Install() = %v, want an error containing %q", err, tt.wantErr)
				}
				if st.TemplateError != err.Error() {
					t.Errorf("Stats.TemplateError %q, want the error Install returned", st.TemplateError)
				}
			}
			if st.Engine != tt.wantEngine {
				t.Errorf("Stats.Engine %+v, want %+v", st.Engine, tt.wantEngine)
			}
			puts := srv.templates()
			if tt.wantType == "" {
				if len(puts) != 0 {
					t.Errorf("templates put: %v, want none", puts)
				}
				return
			}
			tmpl, ok := puts[elasticsearch.TemplateName]
			if !ok || len(puts) != 1 {
				t.Fatalf("templates put: %v, want one named %s", puts, elasticsearch.TemplateName)
			}
			if got := property(t, tmpl, []string{"fields"})["type"]; got != tt.wantType {
				t.Errorf("fields mapped as %v, want %s", got, tt.wantType)
			}
		})
	}
}

// TestInstallAgain: a later Install that puts the template clears the error of an earlier one
// in Stats; the template goes under Config.TemplateName.
func TestInstallAgain(t *testing.T) {
	srv := newEngineServer(t)
	srv.root = answer(t, 200, "root-opensearch-2.19.6.json")
	refused := answer(t, 400, "refused-flattened-opensearch-2.19.6.json")
	srv.put = func(w http.ResponseWriter, _ string) { refused(w) }
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}, InstallTemplate: true, TemplateName: "qwatch-web"})
	if err := s.Install(context.Background()); err == nil || s.Stats().TemplateError == "" {
		t.Fatalf("Install() = %v, Stats.TemplateError %q: want the refusal in both", err, s.Stats().TemplateError)
	}
	srv.mu.Lock()
	srv.put = acknowledged
	srv.mu.Unlock()
	if err := s.Install(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.TemplateError != "" {
		t.Errorf("Stats.TemplateError %q after a successful Install", st.TemplateError)
	}
	if _, ok := srv.templates()["qwatch-web"]; !ok {
		t.Errorf("templates put: %v, want qwatch-web", srv.templates())
	}
}

// TestInstallNotAsked: without InstallTemplate, Install sends nothing.
func TestInstallNotAsked(t *testing.T) {
	srv := newEngineServer(t)
	srv.root = func(http.ResponseWriter) { t.Error("Install asked GET / without InstallTemplate") }
	s := newSink(t, elasticsearch.Config{URLs: []string{srv.srv.URL}})
	if err := s.Install(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Engine != (elasticsearch.Engine{}) || st.TemplateError != "" {
		t.Errorf("stats %+v", st)
	}
}
