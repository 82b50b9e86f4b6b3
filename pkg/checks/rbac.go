package checks

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// RBAC rule checks read Roles and ClusterRoles rule by rule. Roles named
// system:* are Kubernetes' own bootstrap roles and are not reported; the
// RBAC analyzer judges them by who is bound to them.

var rbacRefs = []check.Ref{
	nsaAuthn,
	k8sDocs("RBAC good practices", "https://kubernetes.io/docs/concepts/security/rbac-good-practices/"),
}

func rulesOf(o *object.Object) ([]rbacv1.PolicyRule, bool) {
	if strings.HasPrefix(o.Name, "system:") || bootstrapRBAC(o) {
		return nil, false
	}
	switch r := o.Typed.(type) {
	case *rbacv1.Role:
		return r.Rules, true
	case *rbacv1.ClusterRole:
		return r.Rules, true
	}
	return nil, false
}

func matchesAny(list []string, want ...string) bool {
	for _, l := range list {
		if l == "*" {
			return true
		}
		for _, w := range want {
			if l == w {
				return true
			}
		}
	}
	return false
}

// resourceMatches follows the RBAC authorizer: "*", the exact
// "resource/subresource", or "*/subresource".
func resourceMatches(rule rbacv1.PolicyRule, resource string) bool {
	_, sub, hasSub := strings.Cut(resource, "/")
	for _, r := range rule.Resources {
		if r == "*" || r == resource || (hasSub && r == "*/"+sub) {
			return true
		}
	}
	return false
}

// grants reports whether rule allows one of verbs on one of resources in
// apiGroup.
func grants(rule rbacv1.PolicyRule, apiGroup string, resources []string, verbs ...string) bool {
	if !matchesAny(rule.APIGroups, apiGroup) || !matchesAny(rule.Verbs, verbs...) {
		return false
	}
	for _, r := range resources {
		if resourceMatches(rule, r) {
			return true
		}
	}
	return false
}

// ruleCheck reports every rule of a Role or ClusterRole for which bad returns
// a message. clusterOnly limits it to ClusterRoles.
func ruleCheck(id string, sev check.Severity, clusterOnly bool, title, why, fix string, refs []check.Ref, bad func(rbacv1.PolicyRule) (string, string)) check.Check {
	kinds := []string{"Role", "ClusterRole"}
	if clusterOnly {
		kinds = []string{"ClusterRole"}
	}
	return check.Check{
		ID: id, Title: title, Severity: sev, Category: check.CategoryRBAC,
		Description: why, Remediation: fix, References: append(refs, rbacRefs...),
		Scope: check.Scope{Kinds: kinds},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			rules, ok := rulesOf(o)
			if !ok {
				return nil
			}
			var out []check.Finding
			for i, r := range rules {
				if field, msg := bad(r); msg != "" {
					path := "rules[" + itoa(i) + "]"
					if field != "" {
						path += "." + field
					}
					out = append(out, check.NewFinding(o, path, o.Kind+" "+o.Name+" rule "+itoa(i)+" "+msg))
				}
			}
			return out
		},
	}
}

var wildcardRef = cis("5.1.3", "Minimize wildcard use in Roles and ClusterRoles")

func rbacWildcardVerbs() check.Check {
	return ruleCheck("rbac-wildcard-verbs", check.High, false, "Role grants every verb",
		"A rule with verbs: [\"*\"] grants every verb, including ones added to the API later, such as escalate, bind and impersonate where they apply.",
		"List the verbs the subject needs, for example get, list, watch.",
		[]check.Ref{wildcardRef},
		func(r rbacv1.PolicyRule) (string, string) {
			if matchesAny(r.Verbs) {
				return "verbs", "grants every verb (*) on " + strings.Join(append(r.Resources, r.NonResourceURLs...), ", ")
			}
			return "", ""
		})
}

func rbacWildcardResources() check.Check {
	return ruleCheck("rbac-wildcard-resources", check.High, false, "Role grants every resource",
		"A rule with resources: [\"*\"] covers every resource of its API groups, Secrets and RBAC objects included, and every resource added later.",
		"List the resources the subject needs.",
		[]check.Ref{wildcardRef},
		func(r rbacv1.PolicyRule) (string, string) {
			if matchesAny(r.Resources) {
				return "resources", "grants " + strings.Join(r.Verbs, ", ") + " on every resource (*)"
			}
			return "", ""
		})
}

func rbacWildcardAPIGroups() check.Check {
	return ruleCheck("rbac-wildcard-api-groups", check.Medium, false, "Role grants every API group",
		"A rule with apiGroups: [\"*\"] applies to every API group, including custom resources installed later.",
		"List the API groups the subject needs (\"\" is the core group).",
		[]check.Ref{wildcardRef},
		func(r rbacv1.PolicyRule) (string, string) {
			if matchesAny(r.APIGroups) {
				return "apiGroups", "applies to every API group (*)"
			}
			return "", ""
		})
}

func rbacSecretsRead() check.Check {
	return ruleCheck("rbac-secrets-cluster-wide", check.High, true, "ClusterRole reads Secrets",
		"A ClusterRole that can get, list or watch Secrets reads every credential of the cluster when bound by a ClusterRoleBinding, ServiceAccount tokens included, which makes it equivalent to the permissions of any ServiceAccount.",
		"Grant Secret access with a Role in the namespace that needs it, limited with resourceNames.",
		[]check.Ref{cis("5.1.2", "Minimize access to secrets")},
		func(r rbacv1.PolicyRule) (string, string) {
			if grants(r, "", []string{"secrets"}, "get", "list", "watch") && len(r.ResourceNames) == 0 {
				return "", "can read Secrets"
			}
			return "", ""
		})
}

func rbacEscalateBind() check.Check {
	return ruleCheck("rbac-escalate-bind", check.High, false, "Role can escalate or bind",
		"The escalate verb lets a subject create or edit roles with permissions it does not have; bind lets it bind any role. Either one is a path to cluster-admin.",
		"Remove escalate and bind; let a reviewed pipeline manage RBAC.",
		[]check.Ref{cis("5.1.8", "Limit use of the Bind, Impersonate and Escalate permissions")},
		func(r rbacv1.PolicyRule) (string, string) {
			if grants(r, "rbac.authorization.k8s.io", []string{"roles", "clusterroles", "rolebindings", "clusterrolebindings"}, "escalate", "bind") {
				return "verbs", "can escalate or bind roles"
			}
			return "", ""
		})
}

func rbacImpersonate() check.Check {
	return ruleCheck("rbac-impersonate", check.High, false, "Role can impersonate",
		"The impersonate verb lets a subject act as another user, group or ServiceAccount, with all of its permissions.",
		"Remove impersonate, or limit it with resourceNames to the identities a tool really needs.",
		[]check.Ref{cis("5.1.8", "Limit use of the Bind, Impersonate and Escalate permissions")},
		func(r rbacv1.PolicyRule) (string, string) {
			if grants(r, "", []string{"users", "groups", "serviceaccounts", "uids", "userextras/scopes"}, "impersonate") ||
				grants(r, "authentication.k8s.io", []string{"userextras/scopes", "uids"}, "impersonate") {
				return "verbs", "can impersonate other identities"
			}
			return "", ""
		})
}

func rbacPodExec() check.Check {
	return ruleCheck("rbac-pod-exec-attach", check.High, false, "Role can exec into pods",
		"pods/exec and pods/attach run commands in, or attach to, any pod the role covers: the subject gets those pods' filesystems, tokens and network position.",
		"Remove pods/exec and pods/attach; use logs, ephemeral debug containers under review, or break-glass access.",
		nil,
		func(r rbacv1.PolicyRule) (string, string) {
			if grants(r, "", []string{"pods/exec", "pods/attach"}, "create", "get") {
				return "resources", "can exec into or attach to pods"
			}
			return "", ""
		})
}

func rbacNodesProxy() check.Check {
	return ruleCheck("rbac-nodes-proxy", check.High, false, "Role can use nodes/proxy",
		"nodes/proxy reaches the kubelet API of every node, which runs commands in any pod on it and bypasses admission and audit of the API server.",
		"Remove nodes/proxy; monitoring can read metrics through nodes/metrics.",
		[]check.Ref{cis("5.1.10", "Minimize access to the proxy sub-resource of nodes")},
		func(r rbacv1.PolicyRule) (string, string) {
			if grants(r, "", []string{"nodes/proxy"}, "get", "create", "update", "patch", "delete", "list", "watch") {
				return "resources", "can use nodes/proxy (the kubelet API)"
			}
			return "", ""
		})
}

func rbacTokenCreate() check.Check {
	return ruleCheck("rbac-sa-token-create", check.High, false, "Role can create ServiceAccount tokens",
		"Creating serviceaccounts/token issues a token for any ServiceAccount the role covers, with all of that ServiceAccount's permissions.",
		"Remove create on serviceaccounts/token, or limit it with resourceNames.",
		[]check.Ref{cis("5.1.13", "Minimize access to the service account token creation")},
		func(r rbacv1.PolicyRule) (string, string) {
			if grants(r, "", []string{"serviceaccounts/token"}, "create") && len(r.ResourceNames) == 0 {
				return "resources", "can create tokens for ServiceAccounts"
			}
			return "", ""
		})
}

func rbacPodCreate() check.Check {
	return ruleCheck("rbac-pod-create", check.Medium, false, "Role can create pods",
		"Whoever can create pods, or create or change workloads that create them (update and patch of a Deployment, DaemonSet, StatefulSet, ReplicaSet, ReplicationController, Job or CronJob replace its pod template, ServiceAccount included), in a namespace can run pods as any ServiceAccount of that namespace and mount its Secrets: the permissions of everything in the namespace.",
		"Limit pod and workload creation and changes to deployment pipelines and controllers.",
		[]check.Ref{cis("5.1.4", "Minimize access to create pods")},
		func(r rbacv1.PolicyRule) (string, string) {
			controllers := grants(r, "", []string{"replicationcontrollers"}, "create", "update", "patch") ||
				grants(r, "apps", []string{"deployments", "replicasets", "statefulsets", "daemonsets"}, "create", "update", "patch") ||
				grants(r, "batch", []string{"jobs", "cronjobs"}, "create", "update", "patch")
			switch {
			case grants(r, "", []string{"pods"}, "create"):
				return "verbs", "can create pods"
			case controllers:
				return "verbs", "can create or change workloads, and so the pods they run"
			}
			return "", ""
		})
}

func rbacWebhookChanges() check.Check {
	return ruleCheck("rbac-admission-webhook-changes", check.High, false, "Role can change admission webhooks",
		"Changing mutating or validating webhook configurations lets a subject disable policy enforcement or intercept, and rewrite, every object sent to the API server.",
		"Leave webhook configurations to the cluster's platform pipeline.",
		[]check.Ref{cis("5.1.12", "Minimize access to webhook configuration objects")},
		func(r rbacv1.PolicyRule) (string, string) {
			if grants(r, "admissionregistration.k8s.io", []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations", "validatingadmissionpolicies", "validatingadmissionpolicybindings", "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"}, "create", "update", "patch", "delete", "deletecollection") {
				return "resources", "can create, change or delete admission webhooks or policies"
			}
			return "", ""
		})
}

// bindingOf returns a binding's role reference and subjects.
func bindingOf(o *object.Object) (rbacv1.RoleRef, []rbacv1.Subject, bool) {
	if strings.HasPrefix(o.Name, "system:") || bootstrapRBAC(o) {
		return rbacv1.RoleRef{}, nil, false
	}
	switch b := o.Typed.(type) {
	case *rbacv1.RoleBinding:
		return b.RoleRef, b.Subjects, true
	case *rbacv1.ClusterRoleBinding:
		return b.RoleRef, b.Subjects, true
	}
	return rbacv1.RoleRef{}, nil, false
}

// bootstrapRBAC reports Kubernetes' own default roles and bindings: the
// ones named cluster-admin, admin, edit and view that carry the label
// kubernetes.io/bootstrapping: rbac-defaults, as the API server creates them
// (the system:* ones are skipped by name). A live scan does not judge what
// every cluster has by design.
func bootstrapRBAC(o *object.Object) bool {
	switch o.Name {
	case "cluster-admin", "admin", "edit", "view":
	default:
		return false // anyone can put the label on their own role
	}
	m, ok := o.Typed.(interface{ GetLabels() map[string]string })
	return ok && m.GetLabels()["kubernetes.io/bootstrapping"] == "rbac-defaults"
}

func systemSubject(s rbacv1.Subject) bool {
	if s.Kind == rbacv1.ServiceAccountKind {
		return systemNamespaces[s.Namespace]
	}
	return strings.HasPrefix(s.Name, "system:")
}

func rbacClusterAdminBinding() check.Check {
	return check.Check{
		ID:          "rbac-cluster-admin-binding",
		Title:       "cluster-admin bound to a non-system subject",
		Severity:    check.Critical,
		Category:    check.CategoryRBAC,
		Description: "cluster-admin can do anything to every object of the cluster. Bound to a user, a group or an application's ServiceAccount, one stolen credential is the whole cluster. Bindings named system:* and subjects in system namespaces or named system:* are not reported.",
		Remediation: "Bind a role with the permissions the subject needs; keep cluster-admin for break-glass access.",
		References:  append([]check.Ref{cis("5.1.1", "Ensure that the cluster-admin role is only used where required")}, rbacRefs...),
		Scope:       check.Scope{Kinds: []string{"ClusterRoleBinding", "RoleBinding"}},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			role, subjects, ok := bindingOf(o)
			if !ok || role.Kind != "ClusterRole" || role.Name != "cluster-admin" {
				return nil
			}
			var out []check.Finding
			for i, s := range subjects {
				if !systemSubject(s) {
					out = append(out, check.NewFinding(o, "subjects["+itoa(i)+"]", o.Kind+" "+o.Name+" grants cluster-admin to "+s.Kind+" "+subjectName(s)))
				}
			}
			return out
		},
	}
}

func subjectName(s rbacv1.Subject) string {
	if s.Kind == rbacv1.ServiceAccountKind && s.Namespace != "" {
		return s.Namespace + "/" + s.Name
	}
	return s.Name
}

var anonymousSubjects = map[string]string{
	"system:anonymous":       "every unauthenticated request",
	"system:unauthenticated": "every unauthenticated request",
	"system:authenticated":   "every authenticated identity, including every ServiceAccount",
}

func rbacAnonymousBinding() check.Check {
	return check.Check{
		ID:          "rbac-binding-anonymous",
		Title:       "Role bound to anonymous or all users",
		Severity:    check.Critical,
		Category:    check.CategoryRBAC,
		Description: "A binding to system:anonymous or system:unauthenticated grants its role to anyone who can reach the API server; system:authenticated grants it to every identity with any credential, every ServiceAccount of every namespace included. Kubernetes' own system:* bindings are not reported.",
		Remediation: "Bind the role to the specific users, groups or ServiceAccounts that need it.",
		References:  append([]check.Ref{cis("5.1.1", "Ensure that the cluster-admin role is only used where required")}, rbacRefs...),
		Scope:       check.Scope{Kinds: []string{"ClusterRoleBinding", "RoleBinding"}},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			role, subjects, ok := bindingOf(o)
			if !ok {
				return nil
			}
			var out []check.Finding
			for i, s := range subjects {
				if who, bad := anonymousSubjects[s.Name]; bad && s.Kind != rbacv1.ServiceAccountKind {
					out = append(out, check.NewFinding(o, "subjects["+itoa(i)+"]", o.Kind+" "+o.Name+" grants "+role.Kind+" "+role.Name+" to "+s.Name+": "+who))
				}
			}
			return out
		},
	}
}
