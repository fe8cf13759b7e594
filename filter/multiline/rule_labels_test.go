package multiline_test

import (
	"strings"
	"testing"

	"github.com/qnib/qwatch/filter/multiline"
)

func TestRuleFromLabels(t *testing.T) {
	start, err := multiline.ParseStart(`^\d{4}-`)
	if err != nil {
		t.Fatal(err)
	}
	java, err := multiline.RuleByName("java")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		labels  map[string]string
		want    multiline.Rule
		chosen  bool
		wantErr string
	}{
		{"no labels", nil, multiline.Rule{}, false, ""},
		{"other labels", map[string]string{"app": "web"}, multiline.Rule{}, false, ""},
		{"off", map[string]string{multiline.LabelRule: "off"}, multiline.Off, true, ""},
		{"a built-in rule", map[string]string{multiline.LabelRule: "Java"}, java, true, ""},
		{"a start pattern wins", map[string]string{multiline.LabelRule: "off", multiline.LabelStart: `^\d{4}-`}, start, true, ""},
		{"an unknown rule", map[string]string{multiline.LabelRule: "cobol"}, multiline.Rule{}, false, "label qwatch.multiline: "},
		{"a broken pattern", map[string]string{multiline.LabelStart: "(unclosed"}, multiline.Rule{}, false, "label qwatch.multiline.start: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, ok, err := multiline.RuleFromLabels(tt.labels)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || ok != tt.chosen || r.String() != tt.want.String() {
				t.Errorf("RuleFromLabels = %v, %v, %v; want %v, %v", r, ok, err, tt.want, tt.chosen)
			}
		})
	}
}
