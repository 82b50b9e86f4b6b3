package checks

import (
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
		Fix: fixNetworkPolicyInPod,
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

// fixNetworkPolicyInPod turns a NetworkPolicy written inside a Pod spec (an
// unknown field the API server drops) into a NetworkPolicy object selecting
// the pod, labelling the pod first when it has no labels. It reads what the
// typed Pod dropped, so it is made alone; the pod's labels change, so
// generated policies are computed again.
func fixNetworkPolicyInPod(_ *check.Context, o *object.Object, f *check.Finding) []check.Fix {
	if o.Kind != "Pod" || f.Field != "spec.networkPolicy" || o.Pod == nil {
		return nil
	}
	var spec networkingv1.NetworkPolicySpec
	if !o.DecodeStrict(f.Field, &spec) {
		return nil
	}
	var es []check.Edit
	sel := o.Pod.Meta.Labels
	if len(sel) == 0 {
		sel = map[string]string{"app": o.Name}
		es = append(es, set("metadata.labels.app", o.Name))
	}
	es = append(es, del(f.Field))
	if len(spec.PolicyTypes) == 0 {
		spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(spec.Egress) > 0 {
			spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
	spec.PodSelector = metav1.LabelSelector{MatchLabels: sel}
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: strings.ToLower(o.Name) + "-network-policy", Namespace: o.EffectiveNamespace()},
		Spec:       spec,
	}
	return one(check.Fix{
		Message: "Move the NetworkPolicy written inside the Pod into its own object (generated)",
		Edits:   es,
		Creates: []check.Created{{Object: np, Why: "Pod " + o.Name + " had a NetworkPolicy inside its spec", Namespace: o.EffectiveNamespace()}},
		Alone:   true, Regenerate: true,
	})
}
