// Package check is what the catalog is written in: Check, Scope, Context
// and Registry, with the findings' vocabulary (Severity, Category, Finding,
// Fix, ObjectRef) re-exported from the leaf package finding.
package check

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// The findings' vocabulary lives in the leaf package finding; these names
// keep it reachable from check, where the catalog is written.
type (
	Severity  = finding.Severity
	Category  = finding.Category
	ObjectRef = finding.ObjectRef
	Fix       = finding.Fix
	Edit      = finding.Edit
	Created   = finding.Created
	TextEdit  = finding.TextEdit
	Finding   = finding.Finding
)

// Severities from least to most severe.
const (
	Info     = finding.Info
	Low      = finding.Low
	Medium   = finding.Medium
	High     = finding.High
	Critical = finding.Critical
)

// Categories of the catalog.
const (
	CategorySchema          = finding.CategorySchema
	CategoryPSS             = finding.CategoryPSS
	CategoryContainer       = finding.CategoryContainer
	CategoryCapabilities    = finding.CategoryCapabilities
	CategoryResources       = finding.CategoryResources
	CategoryImages          = finding.CategoryImages
	CategorySecrets         = finding.CategorySecrets
	CategoryServiceAccounts = finding.CategoryServiceAccounts
	CategoryExposure        = finding.CategoryExposure
	CategoryNetworkPolicy   = finding.CategoryNetworkPolicy
	CategoryRBAC            = finding.CategoryRBAC
	CategoryNamespaces      = finding.CategoryNamespaces
	CategoryDeprecatedAPI   = finding.CategoryDeprecatedAPI
	CategorySuppression     = finding.CategorySuppression
)

// Categories lists every category, in the order the docs present them.
var Categories = finding.Categories

// ParseSeverity reads a severity name, case-insensitively.
func ParseSeverity(name string) (Severity, error) { return finding.ParseSeverity(name) }

// Ref points at the standard a check comes from.
type Ref struct {
	// Source is one of: pss, cis, nsa-cisa, mitre, doc.
	Source string `json:"source"`
	ID     string `json:"id,omitempty"`
	Title  string `json:"title,omitempty"`
	URL    string `json:"url,omitempty"`
}

// Scope says which objects a check looks at.
type Scope struct {
	// Kinds lists the kinds the check reads; empty means every object.
	Kinds []string `json:"kinds,omitempty"`
	// PodSpec limits the check to objects that run a pod spec.
	PodSpec bool `json:"podSpec,omitempty"`
}

// Matches reports whether the check should run on o. It depends on o's kind
// and whether o runs a pod, nothing else (the engine caches by that).
func (s Scope) Matches(o *object.Object) bool {
	if s.PodSpec && o.Pod == nil {
		return false
	}
	if len(s.Kinds) == 0 {
		return true
	}
	for _, k := range s.Kinds {
		if k == o.Kind {
			return true
		}
	}
	return false
}

// RunFunc evaluates one object.
type RunFunc func(*Context, *object.Object) []Finding

// FixFunc returns the ways to resolve finding f on o (alternatives, tried
// in order), or none. It reads o as it is now: the fix package calls it
// again after earlier fixes changed the object.
type FixFunc func(ctx *Context, o *object.Object, f *Finding) []Fix

// Check is one rule of the catalog.
type Check struct {
	// ID is stable kebab-case; users put it in ignore annotations.
	ID string
	// Title is short, with no trailing period.
	Title       string
	Severity    Severity
	Category    Category
	Description string
	// Remediation ends with a period; the engine attaches it to every finding.
	Remediation string
	References  []Ref
	Scope       Scope
	// Reads lists what the check reads from the context (Lookup) besides
	// the object it judges: kinds, or Workloads for every object that runs
	// a pod. A webhook or an in-cluster scanner gives the check these and
	// nothing else; TestReadsDeclared holds every check to its list.
	Reads []string
	Run   RunFunc
	// Fix, when set, computes the fixes of the check's findings; the engine
	// calls it when asked (engine.Options.Fixes). A check's fix lives in
	// the check's file, beside Run.
	Fix FixFunc
}

// Workloads in Check.Reads stands for every object that runs a pod.
const Workloads = "workloads"

// NewFinding is a finding on field of o, located in its source.
func NewFinding(o *object.Object, field, message string) Finding {
	f := Finding{
		Message: message,
		Object:  ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name},
		Field:   field,
	}
	if o.File != "" {
		loc := o.Locate(field)
		f.Location = &loc
		if h := o.Hint(field); h != "" {
			f.Message += " (values key " + h + ")"
		}
	}
	return f
}

var kebab = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// Registry is a validated, sorted catalog.
type Registry struct {
	checks []Check
	byID   map[string]int
}

// NewRegistry validates checks: unique kebab-case IDs, a title without a
// trailing period, a description, a remediation ending with a period, a
// category and a Run function.
func NewRegistry(checks []Check) (*Registry, error) {
	r := &Registry{byID: map[string]int{}}
	var problems []string
	for _, c := range checks {
		bad := func(format string, args ...any) {
			problems = append(problems, c.ID+": "+fmt.Sprintf(format, args...))
		}
		if !kebab.MatchString(c.ID) {
			bad("ID is not kebab-case")
		}
		if _, dup := r.byID[c.ID]; dup {
			bad("duplicate ID")
		}
		if c.Title == "" || strings.HasSuffix(c.Title, ".") {
			bad("title is empty or ends with a period")
		}
		if c.Description == "" {
			bad("description is empty")
		}
		if !strings.HasSuffix(c.Remediation, ".") {
			bad("remediation is empty or does not end with a period")
		}
		if c.Category == "" {
			bad("category is empty")
		}
		if c.Severity < Info || c.Severity > Critical {
			bad("severity out of range")
		}
		if c.Run == nil {
			bad("no Run function")
		}
		r.byID[c.ID] = len(r.checks)
		r.checks = append(r.checks, c)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("invalid catalog: %s", strings.Join(problems, "; "))
	}
	sort.Slice(r.checks, func(i, j int) bool { return r.checks[i].ID < r.checks[j].ID })
	for i, c := range r.checks {
		r.byID[c.ID] = i
	}
	return r, nil
}

// Checks returns the catalog sorted by ID.
func (r *Registry) Checks() []Check { return r.checks }

// Get returns the check with id.
func (r *Registry) Get(id string) (Check, bool) {
	i, ok := r.byID[id]
	if !ok {
		return Check{}, false
	}
	return r.checks[i], true
}
