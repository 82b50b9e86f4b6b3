// Package finding is the vocabulary every analyzer reports in: Severity,
// Category, ObjectRef, Location, Finding and Fix. It is a leaf: it imports
// no package of the project, so the scan, the RBAC and NetworkPolicy
// analyzers, and the coming admission webhook, audit detector, CIS and image
// analyzers can all emit findings without depending on one another.
package finding

import (
	"fmt"
	"strconv"
	"strings"
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

// Location is a place in a source file (1-based line and column; 0 when
// unknown).
type Location struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

func (l Location) String() string {
	if l.File == "" {
		return ""
	}
	if l.Line == 0 {
		return l.File
	}
	return l.File + ":" + strconv.Itoa(l.Line) + ":" + strconv.Itoa(l.Column)
}

// Fix is one way to resolve a finding, in the style of go/analysis's
// SuggestedFix: what it does and the edits that do it, on fields of the
// finding's object. A finding's Fixes are alternatives, tried in order: the
// first whose edits change the object is made. The check that reports the
// finding computes its fixes (check.Check.Fix); the fix package only applies
// edits, to manifest text, Helm values or Kustomize patches.
type Fix struct {
	// Message is a verb phrase: "Set allowPrivilegeEscalation: false".
	Message string `json:"message"`
	// Breaking fixes can stop the application working (a capability it
	// needs, a volume it mounts): made only when asked.
	Breaking bool `json:"breaking,omitempty"`
	// Edits are made together.
	Edits []Edit `json:"edits,omitempty"`
	// Creates are objects the fix adds beside the object (a dedicated
	// ServiceAccount, a NetworkPolicy moved out of a Pod).
	Creates []Created `json:"-"`
	// TextEdits make the fix in the finding's file as it was read, when it
	// is a plain manifest (not a chart or a kustomization's output); they
	// are computed on request (SARIF's fixes).
	TextEdits []TextEdit `json:"textEdits,omitempty"`

	// How the fix must be made, for the applier:

	// Alone: the fix was computed from more of the object than the fields
	// it edits (its volumes and mounts, list positions, a field the typed
	// object drops): it is made by itself, on the object as earlier fixes
	// left it.
	Alone bool `json:"-"`
	// Later: another fix of the same object may settle the finding (a
	// limit gives a missing request its value): it is judged again after
	// the other fixes are made rather than made with them.
	Later bool `json:"-"`
	// Rescan: the fix brings findings of its own (a dedicated
	// ServiceAccount mounts its token): the checks run again after it.
	Rescan bool `json:"-"`
	// Regenerate: the fix changes what NetworkPolicy generation reads
	// (ServiceAccount names, pod labels, host networking).
	Regenerate bool `json:"-"`
}

// EditOp is what an edit does at its path.
type EditOp string

// Edit operations.
const (
	// Set assigns Value (YAML text) at Path, adding the keys that lead to it.
	Set EditOp = "set"
	// Delete removes the field or list item at Path.
	Delete EditOp = "delete"
	// Append adds Value as an item of the list at Path, creating the list.
	Append EditOp = "append"
)

// Edit is one change to a field of the finding's object.
type Edit struct {
	Op EditOp `json:"op"`
	// Path is the field path in the object, as Finding.Field writes it.
	Path string `json:"path"`
	// Value is YAML text: "false", `["ALL"]`, "{name: tmp, emptyDir: {}}".
	Value string `json:"value,omitempty"`
	// IfMissing sets only a field that is absent: a non-breaking fix never
	// overwrites a value someone chose.
	IfMissing bool `json:"ifMissing,omitempty"`
}

// TextEdit replaces the text from a position (inclusive) to an end position
// (exclusive) of File with NewText. Positions are 1-based lines and columns;
// an insertion has the end equal to the start.
type TextEdit struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	EndLine   int    `json:"endLine"`
	EndColumn int    `json:"endColumn"`
	NewText   string `json:"newText"`
}

// Created is an object a fix adds, with why.
type Created struct {
	// Object is the Kubernetes object (a runtime.Object).
	Object any
	// Why is shown beside it: "Pod web had a NetworkPolicy inside its spec".
	Why string
	// Namespace is where it lands (the object may name none, to be applied
	// with -n like the manifests it sits beside).
	Namespace string
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
	Field       string    `json:"field"`
	Location    *Location `json:"location"`
	Remediation string    `json:"remediation"`
	// Related are other places that make the finding (the other links of
	// an escalation chain).
	Related []Location `json:"related,omitempty"`
	Fixes   []Fix      `json:"fixes,omitempty"`
}

// Key identifies a finding: the check, the object and the field.
func (f *Finding) Key() string {
	return f.CheckID + "|" + f.Object.String() + "|" + f.Field
}
