package checks

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

var saRefs = []check.Ref{
	cis("5.1.6", "Ensure that Service Account Tokens are only mounted where necessary"),
	nsaAuthn,
	ref("mitre", "T1528", "MITRE ATT&CK T1528: Steal Application Access Token", "https://attack.mitre.org/techniques/T1528/"),
}

func serviceAccountName(spec *corev1.PodSpec) string {
	if spec.ServiceAccountName != "" {
		return spec.ServiceAccountName
	}
	if spec.DeprecatedServiceAccount != "" {
		return spec.DeprecatedServiceAccount
	}
	return "default"
}

// saTokenAutomount: a workload whose ServiceAccount has no RBAC binding in
// the scan does not need an API token, so the token must not be mounted:
// automountServiceAccountToken false on the pod, or on its ServiceAccount
// when the pod does not say.
func saTokenAutomount() check.Check {
	return check.Check{
		ID:          "sa-token-automount",
		Reads:       []string{"ServiceAccount", "RoleBinding", "ClusterRoleBinding"},
		Title:       "API token mounted but not needed",
		Severity:    check.Medium,
		Category:    check.CategoryServiceAccounts,
		Description: "Every pod gets its ServiceAccount's API token mounted unless automountServiceAccountToken is false. A workload whose ServiceAccount no Role or ClusterRole is bound to does not call the API, so the token only helps an intruder who reaches the pod. Workloads whose ServiceAccount has a binding in the scan are not reported.",
		Remediation: "Set automountServiceAccountToken: false on the pod spec (or on its ServiceAccount); mount a projected token only where the program calls the API.",
		References:  saRefs,
		Scope:       podScope,
		Fix: func(_ *check.Context, o *object.Object, _ *check.Finding) []check.Fix {
			return one(check.Fix{Message: "Set automountServiceAccountToken: false", Edits: edits(set(o.Pod.SpecPath+".automountServiceAccountToken", "false"))})
		},
		Run: func(ctx *check.Context, o *object.Object) []check.Finding {
			spec := o.Pod.Spec
			if spec.AutomountServiceAccountToken != nil {
				if !*spec.AutomountServiceAccountToken {
					return nil
				}
			} else if sa, ok := ctx.Lookup.ServiceAccount(o.EffectiveNamespace(), serviceAccountName(spec)); ok && sa.AutomountServiceAccountToken != nil && !*sa.AutomountServiceAccountToken {
				return nil
			}
			name := serviceAccountName(spec)
			if ctx.Lookup.HasRoleBinding(o.EffectiveNamespace(), name) {
				return nil
			}
			return []check.Finding{check.NewFinding(o, o.Pod.SpecPath+".automountServiceAccountToken",
				"the API token of ServiceAccount \""+name+"\" is mounted, and no RoleBinding or ClusterRoleBinding in the scan grants it anything")}
		},
	}
}

// defaultServiceAccount: workloads that run as their namespace's default
// ServiceAccount share its identity and permissions with every other such
// workload.
func defaultServiceAccount() check.Check {
	return check.Check{
		ID:          "default-service-account",
		Title:       "Workload uses the default ServiceAccount",
		Severity:    check.Low,
		Category:    check.CategoryServiceAccounts,
		Description: "Every workload that names no ServiceAccount runs as its namespace's default one, so they share one identity: a permission granted to one of them is granted to all, and audit logs cannot tell them apart.",
		Remediation: "Create a ServiceAccount for the workload (automountServiceAccountToken: false unless it calls the API) and set serviceAccountName.",
		References:  []check.Ref{cis("5.1.5", "Ensure that default service accounts are not actively used"), nsaAuthn},
		Scope:       podScope,
		Reads:       []string{"ServiceAccount"}, // by its fix
		Fix:         fixDefaultServiceAccount,
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			if serviceAccountName(o.Pod.Spec) != "default" {
				return nil
			}
			return []check.Finding{check.NewFinding(o, o.Pod.SpecPath+".serviceAccountName", "the pod runs as the namespace's default ServiceAccount")}
		},
	}
}

// legacySATokenSecret: long-lived token Secrets never expire and are not
// bound to a pod.
func legacySATokenSecret() check.Check {
	return check.Check{
		ID:          "legacy-sa-token-secret",
		Title:       "Long-lived ServiceAccount token Secret",
		Severity:    check.Medium,
		Category:    check.CategoryServiceAccounts,
		Description: "A Secret of type kubernetes.io/service-account-token holds a token that never expires and is not bound to any pod: whoever copies it keeps API access until the Secret is deleted. Since Kubernetes 1.24 pods get short-lived, bound tokens instead.",
		Remediation: "Delete the Secret and use bound tokens: projected serviceAccountToken volumes, or kubectl create token for an expiring token.",
		References:  saRefs,
		Scope:       check.Scope{Kinds: []string{"Secret"}},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			if s, ok := o.Typed.(*corev1.Secret); ok && s.Type == corev1.SecretTypeServiceAccountToken {
				return []check.Finding{check.NewFinding(o, "type", "Secret of type kubernetes.io/service-account-token for ServiceAccount \""+s.Annotations[corev1.ServiceAccountNameKey]+"\"")}
			}
			return nil
		},
	}
}

// fixDefaultServiceAccount runs the workload as a ServiceAccount of its own,
// named after it, created (without a mounted token) unless the namespace
// has one of that name. The new ServiceAccount brings its own
// token-mounting finding, and generated NetworkPolicies read the name.
func fixDefaultServiceAccount(ctx *check.Context, o *object.Object, _ *check.Finding) []check.Fix {
	name := strings.ToLower(o.Name)
	fx := check.Fix{Message: "Run as a dedicated ServiceAccount " + name + " (generated)",
		Edits: edits(set(o.Pod.SpecPath+".serviceAccountName", name)), Rescan: true, Regenerate: true}
	if _, ok := ctx.Lookup.ServiceAccount(o.EffectiveNamespace(), name); !ok {
		ns := o.Namespace
		if o.ImplicitNamespace {
			ns = "" // applied where the workload is (-n)
		}
		no := false
		sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, AutomountServiceAccountToken: &no}
		fx.Creates = []check.Created{{Object: sa, Why: o.Kind + " " + o.Name + " ran as the default ServiceAccount", Namespace: o.EffectiveNamespace()}}
	}
	return one(fx)
}
