// Package cis evaluates a cluster against the CIS Kubernetes Benchmark: a
// node's files (node mode: static pod manifests, the kubelet's unit and
// configuration, kubeconfigs, PKI, etcd's data) or a live cluster (mirror
// pods, each kubelet's configz, and node results published by the node job),
// with section 5 answered by the catalog's checks. Every control gets one
// Result; failing and manual ones become findings of the Finding model.
//
// The benchmarks are data (benchmarks/*.yaml), read by Load.
package cis

import (
	"embed"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rampart-k8s/rampart/pkg/finding"
)

//go:embed benchmarks/*.yaml
var benchmarkFS embed.FS

// DefaultBenchmark is the benchmark `rampart cis` evaluates unless told.
const DefaultBenchmark = "cis-1.12"

// Benchmark is one version of the CIS Kubernetes Benchmark.
type Benchmark struct {
	ID         string                `yaml:"benchmark"`
	Title      string                `yaml:"title"`
	Kubernetes string                `yaml:"kubernetes"`
	Sections   []Section             `yaml:"sections"`
	Files      map[string]*FileSpec  `yaml:"files"`
	Components map[string]*Component `yaml:"components"`
	Controls   []*Control            `yaml:"controls"`
	// Profiles are the managed platforms' shares of responsibility.
	Profiles map[string]*Profile `yaml:"-"`
}

// Section is a section or group of controls ("1", "1.2").
type Section struct {
	ID    string `yaml:"id"`
	Title string `yaml:"title"`
}

// FileSpec says where node mode finds a file the controls inspect.
type FileSpec struct {
	// Flag, when the component gives it, names the file.
	Flag *FileFlag `yaml:"flag"`
	// Paths are tried in order; the first that exists is the file (all of
	// them that exist with Each).
	Paths []string `yaml:"paths"`
	// Kind is "file" (default) or "dir".
	Kind string `yaml:"kind"`
	// Recursive reads everything under a dir; Match keeps the names that
	// match (path.Match).
	Recursive bool   `yaml:"recursive"`
	Match     string `yaml:"match"`
	// Each inspects every path that exists, not only the first.
	Each bool `yaml:"each"`
	// Dropins: the paths are a systemd unit's, in systemd's order; the
	// files are the unit and its drop-ins (NAME.d/*.conf).
	Dropins bool `yaml:"dropins"`
	// Component: the file belongs to a component; on a node where it does
	// not run (no static pod manifest), its controls do not apply.
	Component string `yaml:"component"`
}

// FileFlag is the flag (or configuration key, or environment variable)
// that names a file.
type FileFlag struct {
	Component string `yaml:"component"`
	Name      string `yaml:"name"`
	Config    string `yaml:"config"`
	Env       string `yaml:"env"`
}

// Component is a program whose flags controls read.
type Component struct {
	Name     string   `yaml:"-"`
	Binary   string   `yaml:"binary"`
	Manifest string   `yaml:"manifest"`
	Bools    []string `yaml:"bools"`
	Lists    []string `yaml:"lists"`
	Maps     []string `yaml:"maps"`
	// Defaults are the flags' values when absent; ConfigDefaults, the
	// configuration file keys' values when absent from it.
	Defaults       map[string]string `yaml:"defaults"`
	ConfigDefaults map[string]string `yaml:"configDefaults"`
}

func (c *Component) isBool(flag string) bool { return slices.Contains(c.Bools, flag) }
func (c *Component) isList(flag string) bool { return slices.Contains(c.Lists, flag) }
func (c *Component) isMap(flag string) bool  { return slices.Contains(c.Maps, flag) }

// Control is one recommendation of the benchmark.
type Control struct {
	ID        string           `yaml:"id"`
	Title     string           `yaml:"title"`
	Automated bool             `yaml:"automated"`
	Severity  finding.Severity `yaml:"severity"`
	File      *FileTest        `yaml:"file"`
	Test      *Test            `yaml:"test"`
	Policy    []string         `yaml:"policy"`
	// Field limits a policy control to findings on a field ending so.
	Field  string `yaml:"field"`
	Manual string `yaml:"manual"`
	// WhoCan answers the control with the RBAC graph: the subjects other
	// than Kubernetes' own that may make the request fail it.
	WhoCan *WhoCan `yaml:"whoCan"`
	// BindsGroup fails the control when a binding names the group.
	BindsGroup string `yaml:"bindsGroup"`
	// Breaking: the fix can cut clients off (bind addresses,
	// authentication, admission plugins that need configuration); rampart
	// fix makes it only with --breaking.
	Breaking bool `yaml:"breaking"`

	severitySet bool
}

// Section is the control's group ("1.2" for "1.2.6").
func (c *Control) Section() string {
	if i := strings.LastIndexByte(c.ID, '.'); i > 0 {
		return c.ID[:i]
	}
	return c.ID
}

// WhoCan is an RBAC request.
type WhoCan struct {
	Verb        string `yaml:"verb"`
	APIGroup    string `yaml:"apiGroup"`
	Resource    string `yaml:"resource"`
	Subresource string `yaml:"subresource"`
}

// FileTest inspects a file's permissions or owner.
type FileTest struct {
	Target   string `yaml:"target"`
	Mode     string `yaml:"mode"`
	Owner    string `yaml:"owner"`
	Optional bool   `yaml:"optional"`
	mode     uint32
}

// Test inspects a component's flags.
type Test struct {
	Component string  `yaml:"component"`
	Any       bool    `yaml:"any"`
	Items     []*Item `yaml:"items"`
}

// Item is one comparison on a flag (or its configuration key).
type Item struct {
	Flag string `yaml:"flag"`
	// Key is the key of a map flag (--feature-gates) to read.
	Key string `yaml:"key"`
	// Config is the configuration file key (dotted path) read when the
	// flag is not given.
	Config  string `yaml:"config"`
	Env     string `yaml:"env"`
	Op      string `yaml:"op"`
	Value   string `yaml:"value"`
	Special string `yaml:"special"`
	re      *regexp.Regexp
}

var ops = map[string]bool{"eq": true, "noteq": true, "gte": true, "has": true, "nothave": true, "valid_elements": true, "regex": true, "set": true, "unset": true, "bitmask": true}

// Load reads a built-in benchmark by ID.
func Load(id string) (*Benchmark, error) {
	if id == "" {
		id = DefaultBenchmark
	}
	data, err := benchmarkFS.ReadFile("benchmarks/" + id + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("unknown benchmark %q (want one of %s)", id, strings.Join(Benchmarks(), ", "))
	}
	b, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("benchmark %s: %w", id, err)
	}
	if b.Profiles, err = loadProfiles(b); err != nil {
		return nil, fmt.Errorf("benchmark %s: %w", id, err)
	}
	return b, nil
}

// Benchmarks lists the built-in benchmarks.
func Benchmarks() []string {
	ents, _ := benchmarkFS.ReadDir("benchmarks")
	var ids []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !strings.Contains(n, ".profiles") {
			ids = append(ids, n)
		}
	}
	sort.Strings(ids)
	return ids
}

// Parse reads a benchmark and reports every problem in it at once.
func Parse(data []byte) (*Benchmark, error) {
	var b Benchmark
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&b); err != nil {
		return nil, err
	}
	var errs []error
	bad := func(c *Control, format string, args ...any) {
		errs = append(errs, fmt.Errorf("control %s: %s", c.ID, fmt.Sprintf(format, args...)))
	}
	for name, c := range b.Components {
		c.Name = name
		if c.Manifest != "" && b.Files[c.Manifest] == nil {
			errs = append(errs, fmt.Errorf("component %s: unknown file %q", name, c.Manifest))
		}
	}
	for name, f := range b.Files {
		if len(f.Paths) == 0 {
			errs = append(errs, fmt.Errorf("file %s: no paths", name))
		}
		if f.Component != "" && b.Components[f.Component] == nil {
			errs = append(errs, fmt.Errorf("file %s: unknown component %q", name, f.Component))
		}
		if f.Flag != nil && b.Components[f.Flag.Component] == nil {
			errs = append(errs, fmt.Errorf("file %s: unknown component %q", name, f.Flag.Component))
		}
	}
	sections := map[string]bool{}
	for _, s := range b.Sections {
		sections[s.ID] = true
	}
	seen := map[string]bool{}
	for _, c := range b.Controls {
		if c.ID == "" || c.Title == "" {
			bad(c, "needs an id and a title")
		}
		if seen[c.ID] {
			bad(c, "duplicate id")
		}
		seen[c.ID] = true
		if !sections[c.Section()] {
			bad(c, "no section %s", c.Section())
		}
		kinds := 0
		rbacQ := c.WhoCan != nil || c.BindsGroup != ""
		for _, set := range []bool{c.File != nil, c.Test != nil, len(c.Policy) > 0, rbacQ, c.Manual != "" && len(c.Policy) == 0 && !rbacQ} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			bad(c, "needs exactly one of file, test, policy, whoCan or bindsGroup, manual")
		}
		if f := c.File; f != nil {
			if b.Files[f.Target] == nil {
				bad(c, "unknown file %q", f.Target)
			}
			if (f.Mode == "") == (f.Owner == "") {
				bad(c, "a file test has a mode or an owner")
			}
			if f.Mode != "" {
				m, err := strconv.ParseUint(f.Mode, 8, 32)
				if err != nil {
					bad(c, "mode %q is not octal", f.Mode)
				}
				f.mode = uint32(m)
			}
			if f.Owner != "" && !strings.Contains(f.Owner, ":") {
				bad(c, "owner %q is not user:group", f.Owner)
			}
		}
		if t := c.Test; t != nil {
			comp := b.Components[t.Component]
			if comp == nil {
				bad(c, "unknown component %q", t.Component)
			}
			if len(t.Items) == 0 {
				bad(c, "a test needs items")
			}
			for _, it := range t.Items {
				if it.Special != "" {
					if it.Special != "encryption-providers" {
						bad(c, "unknown special %q", it.Special)
					}
					continue
				}
				if !strings.HasPrefix(it.Flag, "--") {
					bad(c, "flag %q does not start with --", it.Flag)
				}
				if !ops[it.Op] || it.Op == "bitmask" {
					bad(c, "unknown op %q", it.Op)
				}
				if it.Key != "" && comp != nil && !comp.isMap(it.Flag) {
					bad(c, "key on %s, which is not a map flag of %s", it.Flag, t.Component)
				}
				if it.Op == "regex" {
					re, err := regexp.Compile(it.Value)
					if err != nil {
						bad(c, "regex: %v", err)
					}
					it.re = re
				}
				if it.Op == "gte" {
					if _, err := strconv.ParseFloat(it.Value, 64); err != nil {
						bad(c, "gte needs a number, got %q", it.Value)
					}
				}
			}
		}
		if rbacQ && (c.Manual == "" || !strings.HasPrefix(c.ID, "5.")) {
			bad(c, "an RBAC question is in section 5 and has manual guidance for its remediation")
		}
		if c.Manual == "" && c.Test == nil && c.File == nil && len(c.Policy) == 0 {
			bad(c, "no way to evaluate")
		}
	}
	for _, c := range b.Controls {
		c.severitySet = c.Severity != finding.Info
		if !c.severitySet {
			c.Severity = finding.Medium
		}
	}
	return &b, errors.Join(errs...)
}

// Control returns the control with an ID.
func (b *Benchmark) Control(id string) *Control {
	for _, c := range b.Controls {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// SectionTitle returns a section's title.
func (b *Benchmark) SectionTitle(id string) string {
	for _, s := range b.Sections {
		if s.ID == id {
			return s.Title
		}
	}
	return ""
}

// matchName reports whether a file name matches a FileSpec's Match.
func (f *FileSpec) matchName(name string) bool {
	if f.Match == "" {
		return true
	}
	ok, _ := path.Match(f.Match, name)
	return ok
}
