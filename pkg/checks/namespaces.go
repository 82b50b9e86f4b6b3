package checks

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// systemNamespaces host the control plane's own components, which need
// privileges; PSS enforcement there is the cluster operator's choice.
var systemNamespaces = map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true}

// namespacePSSNotEnforced: every Namespace enforces a Pod Security level
// other than privileged (system namespaces excepted).
func namespacePSSNotEnforced() check.Check {
	return check.Check{
		ID:          "namespace-pss-not-enforced",
		Title:       "Namespace does not enforce Pod Security",
		Severity:    check.Medium,
		Category:    check.CategoryNamespaces,
		Description: "Without a pod-security.kubernetes.io/enforce label (or with enforce: privileged) the Pod Security admission controller lets any pod into the namespace, whatever this scan says about the manifests in git. kube-system, kube-public and kube-node-lease are not reported.",
		Remediation: "Label the Namespace pod-security.kubernetes.io/enforce: restricted (or baseline), with enforce-version pinned if upgrades must not change the rules.",
		References: []check.Ref{
			cis("5.2.1", "Ensure that the cluster has at least one active policy control mechanism in place"),
			nsaPodSecurity,
			k8sDocs("Pod Security Admission", "https://kubernetes.io/docs/concepts/security/pod-security-admission/"),
		},
		Scope: check.Scope{Kinds: []string{"Namespace"}},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			ns, ok := o.Typed.(*corev1.Namespace)
			if !ok || systemNamespaces[o.Name] {
				return nil
			}
			level, set := ns.Labels[api.EnforceLevelLabel]
			switch {
			case !set:
				return []check.Finding{check.NewFinding(o, "metadata.labels", "Namespace "+o.Name+" has no "+api.EnforceLevelLabel+" label")}
			case level == string(api.LevelPrivileged):
				return []check.Finding{check.NewFinding(o, `metadata.labels["`+api.EnforceLevelLabel+`"]`, "Namespace "+o.Name+" enforces the privileged level, which allows everything")}
			}
			return nil
		},
	}
}

func namespaceCheck(id, ns string, sev check.Severity, title, why, fix string) check.Check {
	return check.Check{
		ID: id, Title: title, Severity: sev, Category: check.CategoryNamespaces,
		Description: why, Remediation: fix,
		References: []check.Ref{cis("5.6.1", "Create administrative boundaries between resources using namespaces"), cis("5.6.4", "The default namespace should not be used")},
		Scope:      podScope,
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			if o.Namespace != ns || o.ImplicitNamespace {
				return nil
			}
			return []check.Finding{check.NewFinding(o, "metadata.namespace", o.Kind+" "+o.Name+" runs in namespace "+ns)}
		},
	}
}

// workloadInDefaultNamespace: only an explicit namespace: default is
// reported; manifests without a namespace are usually applied with -n.
func workloadInDefaultNamespace() check.Check {
	return namespaceCheck("workload-in-default-namespace", "default", check.Low, "Workload in the default namespace",
		"The default namespace is where everything lands by accident: it usually has no NetworkPolicies, no Pod Security label and broad RoleBindings, and mixing workloads there blurs ownership and blast radius. Manifests that name no namespace are not reported.",
		"Create a namespace per application or team and move the workload there.")
}

// workloadInKubeSystem: application workloads in kube-system share the
// control plane's namespace and its privileged service accounts.
func workloadInKubeSystem() check.Check {
	return namespaceCheck("workload-in-kube-system", "kube-system", check.Medium, "Workload in kube-system",
		"kube-system holds the control plane's components and highly privileged ServiceAccounts; a workload placed there can use them, and is usually exempt from Pod Security enforcement.",
		"Run the workload in its own namespace; keep kube-system for cluster components.")
}
