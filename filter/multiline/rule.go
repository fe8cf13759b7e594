package multiline

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// kinds is a set of the runtimes whose traces the built-in rules know.
type kinds uint8

const (
	kJava kinds = 1 << iota
	kPython
	kPyGroup // Python's exception groups: a candidate of their own, labelled python
	kGo
	kNode
	kDotnet
	kRuby
	kPHP

	kAll = kJava | kPython | kPyGroup | kGo | kNode | kDotnet | kRuby | kPHP
	// kMessage are the runtimes whose exception message may run over several lines between
	// the header and the first frame.
	kMessage = kJava | kGo | kNode | kDotnet | kRuby
)

// ruleNames are the built-in rules' names, in the order [RuleByName]'s error lists them,
// with the kinds each enables.
var ruleNames = []struct {
	name  string
	kinds kinds
}{
	{"java", kJava},
	{"python", kPython | kPyGroup},
	{"go", kGo},
	{"node", kNode},
	{"dotnet", kDotnet},
	{"ruby", kRuby},
	{"php", kPHP},
}

// aliases are other names RuleByName accepts for a built-in rule.
var aliases = map[string]string{
	"jvm": "java", "kotlin": "java", "scala": "java",
	"golang":     "go",
	"javascript": "node", "js": "node", "nodejs": "node",
	".net": "dotnet", "csharp": "dotnet",
}

// label is the value of Fields["multiline"] on a group of kind k (one kind).
func (k kinds) label() string {
	switch k {
	case kJava:
		return "java"
	case kPython, kPyGroup:
		return "python"
	case kGo:
		return "go"
	case kNode:
		return "node"
	case kDotnet:
		return "dotnet"
	case kRuby:
		return "ruby"
	case kPHP:
		return "php"
	}
	return "custom"
}

// Rule says which lines of a stream form one event. The zero Rule is [Auto].
//
// A built-in rule (Auto, or one of [RuleByName]'s names) groups stack traces only: it knows
// each runtime's trace line by line and leaves every line it does not know alone. A custom
// rule ([Start], [Continue]) groups by a regular expression, as Filebeat's and Vector's
// multiline settings do, and merges whatever its expression says.
type Rule struct {
	kinds kinds // the built-in kinds; 0 with off false and no pattern: all of them
	off   bool
	start *regexp.Regexp
	cont  *regexp.Regexp
}

var (
	// Auto recognises the traces of every built-in rule: java (and the other JVM languages),
	// python, go, node (JavaScript), dotnet, ruby and php. It is the zero Rule.
	Auto = Rule{}
	// Off groups nothing: every line is emitted as it comes, at once.
	Off = Rule{off: true}
)

// enabled returns the kinds r recognises; 0 for Off and custom rules.
func (r Rule) enabled() kinds {
	switch {
	case r.off || r.start != nil || r.cont != nil:
		return 0
	case r.kinds == 0:
		return kAll
	}
	return r.kinds
}

// String returns the rule's name as RuleByName takes it ("auto", "off", "java,go"), or
// "start:EXPR" / "continue:EXPR" for a custom rule.
func (r Rule) String() string {
	switch {
	case r.off:
		return "off"
	case r.start != nil:
		return "start:" + r.start.String()
	case r.cont != nil:
		return "continue:" + r.cont.String()
	case r.kinds == 0 || r.kinds == kAll:
		return "auto"
	}
	var names []string
	for _, n := range ruleNames {
		if r.kinds&n.kinds != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// RuleByName returns the rule a name selects, as the label qwatch.multiline and
// configuration files give it: "auto" (or ""), "off", or one or more of java, python, go,
// node, dotnet, ruby and php separated by commas ("java,python"). Case and spaces around the
// names do not matter; jvm, kotlin and scala are java, golang is go, javascript, js and nodejs
// are node, .net and csharp are dotnet.
func RuleByName(name string) (Rule, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	switch name {
	case "", "auto":
		return Auto, nil
	case "off":
		return Off, nil
	}
	var r Rule
	for _, part := range strings.Split(name, ",") {
		part = strings.TrimSpace(part)
		if a, ok := aliases[part]; ok {
			part = a
		}
		found := false
		for _, n := range ruleNames {
			if n.name == part {
				r.kinds |= n.kinds
				found = true
			}
		}
		if !found {
			known := make([]string, len(ruleNames))
			for i, n := range ruleNames {
				known[i] = n.name
			}
			return Rule{}, fmt.Errorf("multiline: unknown rule %q: want auto, off, or some of %s separated by commas",
				part, strings.Join(known, ", "))
		}
	}
	return r, nil
}

// Start returns a custom rule: a line that re matches starts a group, and every line after
// it that re does not match continues that group. A line that re does not match while no
// group is open (the first lines of a stream, or after a group closed at a gap or on idle)
// stays alone. It is Filebeat's negate: true, match: after, and Vector's start_pattern.
// Start panics if re is nil.
func Start(re *regexp.Regexp) Rule {
	if re == nil {
		panic("multiline: Start with a nil regexp")
	}
	return Rule{start: re}
}

// Continue returns a custom rule: a line that re matches continues the open group, and every
// line that re does not match starts a group. It is Filebeat's negate: false, match: after,
// and Vector's condition_pattern with continue_through. Continue panics if re is nil.
func Continue(re *regexp.Regexp) Rule {
	if re == nil {
		panic("multiline: Continue with a nil regexp")
	}
	return Rule{cont: re}
}

// errEmptyPattern is returned for an empty pattern, which would match every line.
var errEmptyPattern = errors.New("empty pattern")

// ParseStart compiles expr (RE2 syntax, as regexp takes it) into a [Start] rule, as the label
// qwatch.multiline.start gives it.
func ParseStart(expr string) (Rule, error) {
	re, err := compile(expr)
	if err != nil {
		return Rule{}, fmt.Errorf("multiline: start pattern %q: %w", expr, err)
	}
	return Start(re), nil
}

// ParseContinue compiles expr (RE2 syntax) into a [Continue] rule.
func ParseContinue(expr string) (Rule, error) {
	re, err := compile(expr)
	if err != nil {
		return Rule{}, fmt.Errorf("multiline: continue pattern %q: %w", expr, err)
	}
	return Continue(re), nil
}

func compile(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, errEmptyPattern
	}
	return regexp.Compile(expr)
}

// The container labels that choose a container's rule.
const (
	// LabelRule names a built-in rule, as [RuleByName] reads it: auto, off, or rule names.
	LabelRule = "qwatch.multiline"
	// LabelStart gives a pattern for the first lines of a custom rule, as [ParseStart]
	// reads it; it wins over LabelRule.
	LabelStart = "qwatch.multiline.start"
)

// RuleFromLabels returns the rule a container's labels choose, and false when they choose
// none (the caller's default applies). A label whose value is not understood is an error
// that names it; the caller should count it, say so, and use its default.
func RuleFromLabels(labels map[string]string) (Rule, bool, error) {
	if expr, ok := labels[LabelStart]; ok {
		r, err := ParseStart(expr)
		if err != nil {
			return Rule{}, false, fmt.Errorf("label %s: %w", LabelStart, err)
		}
		return r, true, nil
	}
	if name, ok := labels[LabelRule]; ok {
		r, err := RuleByName(name)
		if err != nil {
			return Rule{}, false, fmt.Errorf("label %s: %w", LabelRule, err)
		}
		return r, true, nil
	}
	return Rule{}, false, nil
}
