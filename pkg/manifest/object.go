// Package manifest reads Kubernetes manifests (YAML and JSON files, folders,
// stdin) into Objects that keep their source position, decodes built-in kinds
// strictly against k8s.io/api types and reports input errors with file and line.
package manifest

import (
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rampart-k8s/rampart/pkg/finding"
)

// Location is a place in a source file (the findings' vocabulary's type).
type Location = finding.Location

// Object is one Kubernetes object and where it came from.
type Object struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string

	// File is the path as given or found by the walk; empty for live objects.
	File string
	// Doc is the 0-based index of the YAML document in File.
	Doc int
	// Item is the index in a List's items, or -1.
	Item int
	// ImplicitNamespace is set when the source named no namespace and the
	// object was put in the default one (-n, or "default").
	ImplicitNamespace bool
	// SourceName is the name the object has in the file it came from, when
	// a build (kustomize's namePrefix, say) renamed it.
	SourceName string

	// Typed is the strictly decoded object for built-in kinds, nil otherwise.
	Typed runtime.Object
	// SchemaErrors are unknown fields, duplicate fields and wrong types.
	SchemaErrors []FieldError

	pos        positions // field positions; nil for live objects
	locator    func(path string) (line, col int, hint string)
	node       *yaml.Node // kept only for kinds the scheme does not know
	lineOffset int        // added to index lines: the document's first line in File
}

// FieldError is a schema problem at a field.
type FieldError struct {
	Path    string
	Message string
	Line    int
	Column  int
}

// String names the object as kind/namespace/name.
func (o *Object) String() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Locate returns the position of the field at path (see ParsePath), or of its
// nearest ancestor that exists when the field itself is absent.
func (o *Object) Locate(path string) Location {
	loc := Location{File: o.File}
	if o.locator != nil {
		loc.Line, loc.Column, _ = o.locator(path)
		return loc
	}
	return o.LocateParsed(path)
}

// LocateParsed is Locate in the text that was parsed, ignoring a locator:
// for a Helm template, the line in the rendered output.
func (o *Object) LocateParsed(path string) Location {
	loc := Location{File: o.File}
	if o.pos == nil {
		return loc
	}
	line, col := o.pos.locatePath(path)
	loc.Line, loc.Column = line+o.lineOffset, col
	return loc
}

// NewLiveObject wraps an object that has no source file.
func NewLiveObject(apiVersion, kind, namespace, name string, typed runtime.Object) *Object {
	return &Object{APIVersion: apiVersion, Kind: kind, Namespace: namespace, Name: name, Typed: typed, Item: -1}
}

// UseSourceOf makes o point at src's file and positions: for an object built
// from src (by kustomize, say), findings then name the file and line a person
// edits. Fields src lacks resolve to their nearest ancestor in src.
func (o *Object) UseSourceOf(src *Object) {
	o.File, o.Doc, o.Item = src.File, src.Doc, src.Item
	o.pos, o.lineOffset = src.pos, src.lineOffset
	o.SourceName = src.Name
	for i := range o.SchemaErrors {
		loc := o.Locate(o.SchemaErrors[i].Path)
		o.SchemaErrors[i].Line, o.SchemaErrors[i].Column = loc.Line, loc.Column
	}
}

// SetLocator replaces position lookup, for objects whose source is not the
// YAML that was parsed (a Helm template): locate returns the line and column
// of a field path and, optionally, a hint such as the values key it comes from.
func (o *Object) SetLocator(locate func(path string) (line, col int, hint string)) {
	o.locator = locate
	for i := range o.SchemaErrors {
		o.SchemaErrors[i].Line, o.SchemaErrors[i].Column, _ = locate(o.SchemaErrors[i].Path)
	}
}

// Hint returns what the locator knows about where a field's value comes from
// (for Helm charts, the values key), or "".
func (o *Object) Hint(path string) string {
	if o.locator == nil {
		return ""
	}
	_, _, h := o.locator(path)
	return h
}

// HasParsed reports whether the text that was parsed has the field at path.
func (o *Object) HasParsed(path string) bool { return o.pos != nil && o.pos.has(path) }

// Has reports whether the object's source has the field at path (false for
// objects without positions).
func (o *Object) Has(path string) bool {
	if o.pos == nil {
		return false
	}
	return o.pos.has(path)
}
