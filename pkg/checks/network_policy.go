package checks

import (
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// NetworkPolicy semantics used here, as the API defines them:
//   - a policy applies only to pods of its own namespace;
//   - an empty podSelector selects every pod of the namespace;
//   - policyTypes, when omitted, is Ingress, plus Egress when the policy has
//     egress rules;
//   - a policy that isolates a direction and has no rules for it denies all
//     traffic in that direction to the pods it selects.
// Whole-namespace findings are reported once per namespace: on its Namespace
// object when the scan has it, else on the namespace's first workload.

var netpolRefs = []check.Ref{
	cis("5.3.2", "Ensure that all Namespaces have NetworkPolicies defined"),
	nsaNetworkSeparation,
	k8sDocs("Network Policies", "https://kubernetes.io/docs/concepts/services-networking/network-policies/"),
}

func policyDirections(np *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(np.Spec.PolicyTypes) == 0 {
		return true, len(np.Spec.Egress) > 0
	}
	for _, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}

func selects(np *networkingv1.NetworkPolicy, podLabels map[string]string) bool {
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return false // an invalid selector is rejected by the API server
	}
	return sel.Matches(labels.Set(podLabels))
}

// selectsIn is selects with the selector compiled once by the inventory.
func selectsIn(inv check.Lookup, np *networkingv1.NetworkPolicy, podLabels map[string]string) bool {
	return inv.Selects(np, podLabels)
}

// namespaceReads: the whole-namespace checks read the Namespace, its
// workloads (to pick the representative) and its NetworkPolicies.
var namespaceReads = []string{"Namespace", "NetworkPolicy", check.Workloads}

// namespaceRepresentative returns the namespace o stands for in whole-
// namespace findings, or "" when o is not its namespace's representative or
// the namespace has no workloads.
func namespaceRepresentative(inv check.Lookup, o *object.Object) string {
	if o.Kind == "Namespace" && o.APIVersion == "v1" {
		if len(inv.Workloads(o.Name)) > 0 {
			return o.Name
		}
		return ""
	}
	if o.Pod == nil {
		return ""
	}
	ns := o.EffectiveNamespace()
	if _, ok := inv.Namespace(ns); ok {
		return ""
	}
	if ws := inv.Workloads(ns); len(ws) > 0 && sameObject(ws[0], o) {
		return ns
	}
	return ""
}

// sameObject reports whether a and b are one object of the input: the same
// pointer, or a copy of it (a lookup that holds its own copy of a target).
func sameObject(a, b *object.Object) bool {
	return a == b || (a.Kind == b.Kind && a.Namespace == b.Namespace && a.Name == b.Name &&
		a.File == b.File && a.Doc == b.Doc && a.Item == b.Item)
}

func namespaceField(o *object.Object) string {
	if o.Kind == "Namespace" {
		return "metadata.name"
	}
	return "metadata.namespace"
}

// namespaceWithoutNetworkPolicy: a namespace with workloads and no policy
// lets every pod in the cluster reach them, and them reach everything.
func namespaceWithoutNetworkPolicy() check.Check {
	return check.Check{
		ID:          "namespace-without-networkpolicy",
		Title:       "Namespace has workloads but no NetworkPolicy",
		Severity:    check.Medium,
		Category:    check.CategoryNetworkPolicy,
		Description: "Kubernetes allows all traffic by default: in a namespace without any NetworkPolicy every pod of the cluster can reach the workloads, and they can reach everything, which turns one compromised pod into lateral movement across the cluster.",
		Remediation: "Add a default-deny NetworkPolicy for ingress and egress in the namespace, then policies that allow the traffic each workload needs (rampart fix can generate them).",
		References:  netpolRefs,
		Reads:       namespaceReads,
		Run: func(ctx *check.Context, o *object.Object) []check.Finding {
			ns := namespaceRepresentative(ctx.Lookup, o)
			if ns == "" || len(ctx.Lookup.NetworkPolicies(ns)) > 0 {
				return nil
			}
			return []check.Finding{check.NewFinding(o, namespaceField(o), "namespace "+ns+" has "+itoa(len(ctx.Lookup.Workloads(ns)))+" workload(s) and no NetworkPolicy")}
		},
	}
}

func defaultDenyCheck(id string, egress bool) check.Check {
	dir, Dir := "ingress", "Ingress"
	if egress {
		dir, Dir = "egress", "Egress"
	}
	return check.Check{
		ID:          id,
		Title:       "No default-deny " + dir + " policy",
		Severity:    check.Low,
		Category:    check.CategoryNetworkPolicy,
		Description: "The namespace has NetworkPolicies but none that denies all " + dir + " by default (an empty podSelector with policyTypes " + Dir + " and no " + dir + " rules). Pods that no policy selects keep unrestricted " + dir + ", and every new workload starts open. Namespaces with no policy at all are reported by namespace-without-networkpolicy instead.",
		Remediation: "Add a NetworkPolicy with podSelector: {} and policyTypes: [" + Dir + "] and no " + dir + " rules, then allow what each workload needs.",
		References:  netpolRefs,
		Reads:       namespaceReads,
		Run: func(ctx *check.Context, o *object.Object) []check.Finding {
			ns := namespaceRepresentative(ctx.Lookup, o)
			if ns == "" {
				return nil
			}
			policies := ctx.Lookup.NetworkPolicies(ns)
			if len(policies) == 0 {
				return nil
			}
			for _, np := range policies {
				in, eg := policyDirections(np)
				if len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.PodSelector.MatchExpressions) == 0 &&
					((!egress && in && len(np.Spec.Ingress) == 0) || (egress && eg && len(np.Spec.Egress) == 0)) {
					return nil
				}
			}
			return []check.Finding{check.NewFinding(o, namespaceField(o), "namespace "+ns+" has no default-deny "+dir+" NetworkPolicy")}
		},
	}
}

func noDefaultDenyIngress() check.Check { return defaultDenyCheck("no-default-deny-ingress", false) }
func noDefaultDenyEgress() check.Check  { return defaultDenyCheck("no-default-deny-egress", true) }

func notSelectedCheck(id string, egress bool) check.Check {
	dir := "ingress"
	if egress {
		dir = "egress"
	}
	return check.Check{
		ID:          id,
		Title:       "Workload not isolated for " + dir,
		Severity:    check.Low,
		Category:    check.CategoryNetworkPolicy,
		Description: "No NetworkPolicy of the workload's namespace selects its pods for " + dir + ", so their " + dir + " is unrestricted even though the namespace uses NetworkPolicies. Namespaces with no policy at all are reported by namespace-without-networkpolicy instead.",
		Remediation: "Add a NetworkPolicy that selects the workload's pod labels for " + dir + ", or a default-deny " + dir + " policy for the namespace.",
		References:  netpolRefs,
		Scope:       podScope,
		Reads:       []string{"NetworkPolicy"},
		Run: func(ctx *check.Context, o *object.Object) []check.Finding {
			policies := ctx.Lookup.NetworkPolicies(o.EffectiveNamespace())
			if len(policies) == 0 {
				return nil
			}
			for _, np := range policies {
				in, eg := policyDirections(np)
				if ((egress && eg) || (!egress && in)) && selectsIn(ctx.Lookup, np, o.Pod.Meta.Labels) {
					return nil
				}
			}
			return []check.Finding{check.NewFinding(o, o.Pod.MetaPath+".labels", "no NetworkPolicy in namespace "+o.EffectiveNamespace()+" selects these pods for "+dir)}
		},
	}
}

func workloadNotSelectedIngress() check.Check {
	return notSelectedCheck("workload-not-selected-ingress", false)
}

func workloadNotSelectedEgress() check.Check {
	return notSelectedCheck("workload-not-selected-egress", true)
}

// networkPolicySelectsNothing: a policy whose selector matches none of the
// namespace's workloads in the scan protects nothing, usually because of a
// label typo. Namespaces without workloads in the scan are not judged.
func networkPolicySelectsNothing() check.Check {
	return check.Check{
		ID:          "networkpolicy-selects-nothing",
		Reads:       []string{check.Workloads},
		Title:       "NetworkPolicy selects no workload",
		Severity:    check.Low,
		Category:    check.CategoryNetworkPolicy,
		Description: "The policy's podSelector matches none of the workloads of its namespace in this scan, so it protects nothing; usually a label typo or a policy left behind.",
		Remediation: "Fix the podSelector to match the intended pods' labels, or delete the policy.",
		References:  netpolRefs,
		Scope:       check.Scope{Kinds: []string{"NetworkPolicy"}},
		Run: func(ctx *check.Context, o *object.Object) []check.Finding {
			np, ok := o.Typed.(*networkingv1.NetworkPolicy)
			if !ok {
				return nil
			}
			workloads := ctx.Lookup.Workloads(o.EffectiveNamespace())
			if len(workloads) == 0 {
				return nil
			}
			for _, w := range workloads {
				if selectsIn(ctx.Lookup, np, w.Pod.Meta.Labels) {
					return nil
				}
			}
			return []check.Finding{check.NewFinding(o, "spec.podSelector", "podSelector matches none of the "+itoa(len(workloads))+" workload(s) of namespace "+o.EffectiveNamespace())}
		},
	}
}
