package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// schemaCheck reports what strict decoding against the k8s.io/api types
// found: unknown fields (a NetworkPolicy written inside a Pod spec, a typo
// in securityContext), duplicate fields and values of the wrong type. The API
// server rejects such objects or, worse, silently drops the field, so the
// setting the author meant never applies.
//
// Applies to: every built-in kind the client-go scheme knows. Custom
// resources are not validated (their schema is not in the scan).
func schemaCheck() check.Check {
	return check.Check{
		ID:          "schema",
		Title:       "Object does not match the Kubernetes API schema",
		Severity:    check.High,
		Category:    check.CategorySchema,
		Description: "Strict decoding against the Kubernetes API types found an unknown field, a duplicate field or a value of the wrong type. The API server rejects the object or drops the field, so the setting never takes effect.",
		Remediation: "Fix the field name, type or position as the message says; a NetworkPolicy, for example, is its own object, not a field of a Pod.",
		References: []check.Ref{
			{Source: "doc", Title: "Kubernetes API reference", URL: "https://kubernetes.io/docs/reference/kubernetes-api/"},
		},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			var out []check.Finding
			for _, e := range o.SchemaErrors {
				f := check.NewFinding(o, e.Path, e.Message)
				if f.Location != nil && e.Line > 0 {
					f.Location.Line, f.Location.Column = e.Line, e.Column
				}
				out = append(out, f)
			}
			return out
		},
	}
}
