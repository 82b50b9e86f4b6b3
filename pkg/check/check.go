// Package check is the vocabulary shared by the catalog, the engine and the
// reporters: Check, Severity, Category, Finding, Fix, ObjectRef and Registry.
package check

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// Severity orders findings; the zero value is Info.
type Severity int

// Severities from least to most severe.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalText writes the lowercase name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a name written by MarshalText.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// ParseSeverity reads a severity name, case-insensitively.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(i), nil
		}
	}
	return Info, fmt.Errorf("unknown severity %q (want one of %s)", name, strings.Join(severityNames, ", "))
}

// SecurityScore is the CVSS-like score code-scanning tools use to rank.
func (s Severity) SecurityScore() string {
	return [...]string{"0.0", "2.0", "5.0", "7.5", "9.5"}[s]
}

// Category groups checks; users enable and disable by category.
type Category string

// Categories of the catalog.
const (
	CategorySchema          Category = "schema"
	CategoryPSS             Category = "pss"
	CategoryContainer       Category = "container"
	CategoryCapabilities    Category = "capabilities"
	CategoryResources       Category = "resources"
	CategoryImages          Category = "images"
	CategorySecrets         Category = "secrets"
	CategoryServiceAccounts Category = "service-accounts"
	CategoryExposure        Category = "exposure"
	CategoryNetworkPolicy   Category = "network-policy"
	CategoryRBAC            Category = "rbac"
	CategoryNamespaces      Category = "namespaces"
	CategoryDeprecatedAPI   Category = "deprecated-api"
	CategorySuppression     Category = "suppression"
)

// Categories lists every category, in the order the docs present them.
var Categories = []Category{
	CategorySchema, CategoryPSS, CategoryContainer, CategoryCapabilities, CategoryResources,
	CategoryImages, CategorySecrets, CategoryServiceAccounts, CategoryExposure,
	CategoryNetworkPolicy, CategoryRBAC, CategoryNamespaces, CategoryDeprecatedAPI, CategorySuppression,
}

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

// Matches reports whether the check should run on o.
func (s Scope) Matches(o *inventory.Object) bool {
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
type RunFunc func(*Context, *inventory.Object) []Finding

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
	Run         RunFunc
}

// ObjectRef names a Kubernetes object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
}

func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Fix is one way to resolve a finding; Message is a verb phrase.
type Fix struct {
	Message string `json:"message"`
}

// Finding is one problem with one object.
type Finding struct {
	CheckID  string   `json:"checkID"`
	Category Category `json:"category"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	// Message names the object's part and field involved.
	Message string    `json:"message"`
	Object  ObjectRef `json:"object"`
	// Field is the path of the offending field, e.g.
	// spec.template.spec.containers[0].securityContext.privileged.
	Field       string             `json:"field"`
	Location    *manifest.Location `json:"location"`
	Remediation string             `json:"remediation"`
	// Related are other places that make the finding (the other links of
	// an escalation chain).
	Related []manifest.Location `json:"related,omitempty"`
	Fixes   []Fix               `json:"fixes,omitempty"`
}

// NewFinding is a finding on field of o, located in its source.
func NewFinding(o *inventory.Object, field, message string) Finding {
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
