package checks

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
	"github.com/rampart-k8s/rampart/pkg/rbac"
)

// rbacEscalationPath reports each subject that reaches cluster-admin power
// or the cluster's Secrets through a chain of permissions (create pods as a
// powerful ServiceAccount, read its token, ...) rather than directly, once,
// on the binding that starts the chain; the bindings of the other links are
// related locations. The subjects and chains are rbac risky's, from the same
// code. Kubernetes' own identities are not judged.
func rbacEscalationPath() check.Check {
	return check.Check{
		ID:          "rbac-escalation-path",
		Reads:       rbacReads,
		Title:       "Subject can escalate through a chain of permissions",
		Severity:    check.High,
		Category:    check.CategoryRBAC,
		Description: "A subject whose own permissions look modest can still reach cluster-admin power or every Secret: creating pods or workloads in a namespace runs them as any ServiceAccount there, reading token Secrets or creating tokens yields ServiceAccount credentials, and those ServiceAccounts may hold more. The finding shows the chain, with the binding and role of each step.",
		Remediation: "Break the chain at its first step: remove the permission (or move the powerful ServiceAccount out of the namespace), then check again with rampart rbac paths.",
		References:  append([]check.Ref{cis("5.1.4", "Minimize access to create pods"), cis("5.1.2", "Minimize access to secrets")}, rbacRefs...),
		Scope:       check.Scope{Kinds: []string{"RoleBinding", "ClusterRoleBinding"}},
		Run: func(ctx *check.Context, o *object.Object) []check.Finding {
			_, subjects, ok := bindingOf(o)
			if !ok {
				return nil
			}
			var out []check.Finding
			ref := rbac.NewRef(o.Kind, bindingNamespace(o), o.Name)
			for _, e := range rbacGraph(ctx).Escalations()[ref] {
				for i, s := range subjects {
					if rbac.RiskySubject(s, o.Namespace) != e.Subject {
						continue
					}
					var chain []string
					for _, st := range e.Path.Steps {
						chain = append(chain, st.From+" "+st.Action)
					}
					f := check.NewFinding(o, "subjects["+itoa(i)+"]", e.Subject+" reaches "+string(e.Path.Goal)+": "+strings.Join(chain, "; then "))
					for _, st := range e.Related {
						if st.Grant == nil {
							continue
						}
						b := st.Grant.Binding
						if ro := ctx.Lookup.Find(b.Kind, b.Namespace, b.Name); ro != nil && ro.File != "" {
							f.Related = append(f.Related, ro.Locate(""))
						}
					}
					out = append(out, f)
					break
				}
			}
			return out
		},
	}
}

// bindingNamespace is the namespace the RBAC graph keys a binding by.
func bindingNamespace(o *object.Object) string {
	if o.Kind == "ClusterRoleBinding" {
		return ""
	}
	return o.Namespace
}

// rbacGraph is the RBAC graph of the scan's Roles, bindings, ServiceAccounts
// and Secrets, built once per scan and shared by the checks that read it.
func rbacGraph(ctx *check.Context) *rbac.Graph {
	return ctx.Memo("rbac", func() any { return rbac.New(rbacObjects(ctx.Lookup)) }).(*rbac.Graph)
}

// rbacObjects are the objects of the inventory the RBAC graph is made of.
func rbacObjects(l check.Lookup) []runtime.Object {
	var objs []runtime.Object
	for _, kind := range rbacReads {
		for _, o := range l.OfKind(kind) {
			switch o.Typed.(type) {
			case *rbacv1.Role, *rbacv1.ClusterRole, *rbacv1.RoleBinding, *rbacv1.ClusterRoleBinding, *corev1.ServiceAccount, *corev1.Secret:
				objs = append(objs, o.Typed)
			}
		}
	}
	return objs
}

// rbacReads are the kinds the RBAC graph is made of: what the checks that
// read it declare in Reads.
var rbacReads = []string{"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount", "Secret"}
