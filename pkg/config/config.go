// Package config reads .rampart.yaml: which checks run, severity overrides,
// the image registry allowlist and exceptions with reasons and expiry.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

// FileNames are the names Find looks for, in order.
var FileNames = []string{".rampart.yaml", ".rampart.yml"}

//go:embed schema.json
var schemaJSON []byte

// Config is a parsed .rampart.yaml.
type Config struct {
	// Path is the file it was read from ("" for the empty default).
	Path   string `yaml:"-"`
	Checks struct {
		Disable []string `yaml:"disable"`
		Enable  []string `yaml:"enable"`
	} `yaml:"checks"`
	Severity map[string]string `yaml:"severity"`
	Images   struct {
		AllowedRegistries []string `yaml:"allowedRegistries"`
	} `yaml:"images"`
	Exceptions []Exception `yaml:"exceptions"`
	Fix        struct {
		DefaultResources string `yaml:"defaultResources"`
	} `yaml:"fix"`
	Admission Admission `yaml:"admission"`
}

// Admission is what `rampart webhook serve` reads: default severities and
// exemptions.
type Admission struct {
	Enforce    string      `yaml:"enforce"`
	Warn       string      `yaml:"warn"`
	Audit      string      `yaml:"audit"`
	Exemptions []Exemption `yaml:"exemptions"`
}

// Exemption lets the requests it matches skip checks, with a reason.
type Exemption struct {
	Namespaces []string `yaml:"namespaces"`
	Users      []string `yaml:"users"`
	Groups     []string `yaml:"groups"`
	Checks     []string `yaml:"checks"`
	Reason     string   `yaml:"reason"`
}

// Matches reports whether a request in namespace ns by user (in groups)
// falls under e.
func (e Exemption) Matches(ns, user string, groups []string) bool {
	if len(e.Namespaces) > 0 && !anyGlob(e.Namespaces, ns) {
		return false
	}
	if len(e.Users)+len(e.Groups) == 0 {
		return true
	}
	if anyGlob(e.Users, user) {
		return true
	}
	for _, g := range groups {
		if anyGlob(e.Groups, g) {
			return true
		}
	}
	return false
}

// Covers reports whether e exempts check id (no checks: every check).
func (e Exemption) Covers(id string) bool {
	return len(e.Checks) == 0 || anyGlob(e.Checks, id)
}

func anyGlob(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

// Exception silences matching findings with a reason, until it expires.
type Exception struct {
	Check     string `yaml:"check"`
	Kind      string `yaml:"kind"`
	Namespace string `yaml:"namespace"`
	Name      string `yaml:"name"`
	Container string `yaml:"container"`
	Reason    string `yaml:"reason"`
	Expires   string `yaml:"expires"`
	// Line is where the exception starts in the file.
	Line int `yaml:"-"`
}

// Problem is one thing wrong with a configuration file.
type Problem struct {
	Line    int
	Message string
}

// Error lists a file's problems.
type Error struct {
	Path     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("\n")
		}
		if p.Line > 0 {
			fmt.Fprintf(&b, "%s:%d: %s", e.Path, p.Line, p.Message)
		} else {
			fmt.Fprintf(&b, "%s: %s", e.Path, p.Message)
		}
	}
	return b.String()
}

// Find walks up from start (a file or folder) to the filesystem root and
// returns the first configuration file found, or "".
func Find(start string) string {
	dir, err := filepath.Abs(start)
	if err != nil {
		return ""
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	for {
		for _, n := range FileNames {
			p := filepath.Join(dir, n)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return shorten(p)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// shorten makes p relative to the working folder when it lies below it:
// the form reports show (exception sources, errors), and the same file.
func shorten(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return rel
	}
	return p
}

// Load reads and validates a configuration file against the JSON schema and
// the catalog (reg may be nil to skip catalog checks).
func Load(file string, reg *check.Registry) (*Config, error) {
	data, err := os.ReadFile(file) //nolint:gosec // the user names the file
	if err != nil {
		return nil, fmt.Errorf("reading configuration %s: %w", file, err)
	}
	return Parse(file, data, reg)
}

// Parse validates and decodes configuration data read from file.
func Parse(file string, data []byte, reg *check.Registry) (*Config, error) {
	cfg := &Config{Path: file}
	cerr := &Error{Path: file}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		cerr.Problems = append(cerr.Problems, Problem{Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")})
		return nil, cerr
	}
	if len(root.Content) == 0 {
		return cfg, nil // an empty file configures nothing
	}
	doc := root.Content[0]
	var generic any
	if err := doc.Decode(&generic); err != nil {
		cerr.Problems = append(cerr.Problems, Problem{Line: doc.Line, Message: err.Error()})
		return nil, cerr
	}
	if err := validateSchema(generic); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			for _, leaf := range leaves(ve) {
				loc := leaf.InstanceLocation
				if ap, ok := leaf.ErrorKind.(*kind.AdditionalProperties); ok && len(ap.Properties) > 0 {
					loc = append(append([]string{}, loc...), ap.Properties[0]) // point at the unknown key
				}
				cerr.Problems = append(cerr.Problems, Problem{Line: lineOf(doc, loc), Message: describe(leaf)})
			}
		} else {
			cerr.Problems = append(cerr.Problems, Problem{Message: err.Error()})
		}
		sort.SliceStable(cerr.Problems, func(i, j int) bool { return cerr.Problems[i].Line < cerr.Problems[j].Line })
		return nil, cerr
	}
	if err := doc.Decode(cfg); err != nil {
		cerr.Problems = append(cerr.Problems, Problem{Line: doc.Line, Message: err.Error()})
		return nil, cerr
	}
	if ex := mapValue(doc, "exceptions"); ex != nil {
		for i, n := range ex.Content {
			if i < len(cfg.Exceptions) {
				cfg.Exceptions[i].Line = n.Line
			}
		}
	}
	cerr.Problems = append(cerr.Problems, cfg.validate(doc, reg)...)
	if len(cerr.Problems) > 0 {
		return nil, cerr
	}
	return cfg, nil
}

var (
	compiled *jsonschema.Schema
	printer  = message.NewPrinter(language.English)
)

func validateSchema(v any) error {
	if compiled == nil {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
		if err != nil {
			return fmt.Errorf("embedded schema: %w", err)
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("schema.json", doc); err != nil {
			return fmt.Errorf("embedded schema: %w", err)
		}
		if compiled, err = c.Compile("schema.json"); err != nil {
			return fmt.Errorf("embedded schema: %w", err)
		}
	}
	return compiled.Validate(normalize(v))
}

// normalize turns yaml.v3's generic values into JSON-like ones.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalize(x)
		}
	case []any:
		for i, x := range t {
			t[i] = normalize(x)
		}
	case int:
		return float64(t)
	case time.Time:
		return t.Format("2006-01-02")
	}
	return v
}

func leaves(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return []*jsonschema.ValidationError{ve}
	}
	var out []*jsonschema.ValidationError
	for _, c := range ve.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func describe(ve *jsonschema.ValidationError) string {
	loc := "/" + strings.Join(ve.InstanceLocation, "/")
	return loc + ": " + ve.ErrorKind.LocalizedString(printer)
}

// lineOf finds the line of a JSON-pointer location in the YAML document.
func lineOf(n *yaml.Node, loc []string) int {
	line := n.Line
	for _, seg := range loc {
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
			if !found {
				return line
			}
		case yaml.SequenceNode:
			var idx int
			if _, err := fmt.Sscanf(seg, "%d", &idx); err != nil || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		default:
			return line
		}
	}
	return line
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// validate checks what the schema cannot: check IDs and categories exist,
// globs match some check, dates parse.
func (c *Config) validate(doc *yaml.Node, reg *check.Registry) []Problem {
	var out []Problem
	at := func(loc ...string) int { return lineOf(doc, loc) }
	if reg != nil {
		for _, list := range []struct {
			key   string
			names []string
		}{{"disable", c.Checks.Disable}, {"enable", c.Checks.Enable}} {
			for i, n := range list.names {
				if !KnownName(reg, n) {
					out = append(out, Problem{Line: at("checks", list.key, fmt.Sprint(i)), Message: fmt.Sprintf("checks.%s: unknown check or category %q", list.key, n)})
				}
			}
		}
		for _, id := range sortedKeys(c.Severity) {
			if _, ok := reg.Get(id); !ok {
				out = append(out, Problem{Line: at("severity", id), Message: fmt.Sprintf("severity: unknown check %q", id)})
			}
		}
	}
	for i, e := range c.Exceptions {
		if _, err := path.Match(e.Check, ""); err != nil {
			out = append(out, Problem{Line: e.Line, Message: fmt.Sprintf("exceptions[%d].check: bad pattern %q", i, e.Check)})
		} else if reg != nil && !matchesSomeCheck(reg, e.Check) {
			out = append(out, Problem{Line: e.Line, Message: fmt.Sprintf("exceptions[%d].check: %q matches no check", i, e.Check)})
		}
		for _, g := range []string{e.Kind, e.Namespace, e.Name, e.Container} {
			if _, err := path.Match(g, ""); err != nil {
				out = append(out, Problem{Line: e.Line, Message: fmt.Sprintf("exceptions[%d]: bad pattern %q", i, g)})
			}
		}
		if e.Expires != "" {
			if _, err := time.Parse("2006-01-02", e.Expires); err != nil {
				out = append(out, Problem{Line: e.Line, Message: fmt.Sprintf("exceptions[%d].expires: %q is not a date (YYYY-MM-DD)", i, e.Expires)})
			}
		}
	}
	for i, e := range c.Admission.Exemptions {
		for _, list := range [][]string{e.Namespaces, e.Users, e.Groups, e.Checks} {
			for _, g := range list {
				if _, err := path.Match(g, ""); err != nil {
					out = append(out, Problem{Line: at("admission", "exemptions", fmt.Sprint(i)), Message: fmt.Sprintf("admission.exemptions[%d]: bad pattern %q", i, g)})
				}
			}
		}
		for _, g := range e.Checks {
			if reg != nil && !matchesSomeCheck(reg, g) {
				out = append(out, Problem{Line: at("admission", "exemptions", fmt.Sprint(i)), Message: fmt.Sprintf("admission.exemptions[%d].checks: %q matches no check", i, g)})
			}
		}
	}
	return out
}

// KnownName reports whether n is a check ID or a category of the catalog.
func KnownName(reg *check.Registry, n string) bool {
	if n == "all" {
		return true
	}
	if _, ok := reg.Get(n); ok {
		return true
	}
	for _, c := range check.Categories {
		if string(c) == n {
			return true
		}
	}
	return false
}

func matchesSomeCheck(reg *check.Registry, pattern string) bool {
	if strings.HasPrefix(pattern, "cis-") {
		return true // a benchmark control: rampart cis checks the ID
	}
	for _, c := range reg.Checks() {
		if ok, _ := path.Match(pattern, c.ID); ok {
			return true
		}
	}
	return false
}

// Select applies checks.disable/enable and severity overrides to the
// catalog; names are check IDs or categories.
func (c *Config) Select(all []check.Check) []check.Check {
	in := func(names []string, ch check.Check) bool {
		for _, n := range names {
			if n == "all" || n == ch.ID || n == string(ch.Category) {
				return true
			}
		}
		return false
	}
	var out []check.Check
	for _, ch := range all {
		if in(c.Checks.Disable, ch) && !in(c.Checks.Enable, ch) {
			continue
		}
		if s, ok := c.Severity[ch.ID]; ok {
			if sev, err := check.ParseSeverity(s); err == nil {
				ch.Severity = sev
			}
		}
		out = append(out, ch)
	}
	return out
}

// SuppressionExceptions converts the exceptions for the engine.
func (c *Config) SuppressionExceptions() []suppress.Exception {
	out := make([]suppress.Exception, 0, len(c.Exceptions))
	for _, e := range c.Exceptions {
		se := suppress.Exception{Check: e.Check, Kind: e.Kind, Namespace: e.Namespace, Name: e.Name, Container: e.Container, Reason: e.Reason, Source: fmt.Sprintf("%s:%d", c.Path, e.Line)}
		if e.Expires != "" {
			if t, err := time.Parse("2006-01-02", e.Expires); err == nil {
				se.Expires = t
			}
		}
		out = append(out, se)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
