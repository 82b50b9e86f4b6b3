package checks

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/rbac"
)

// rbacEscalationPath reports, on each binding, the subjects that can reach
// cluster-admin power or the cluster's Secrets through a chain of
// permissions (create pods as a powerful ServiceAccount, read its token,
// ...) rather than directly. The chain is in the message. Kubernetes' own
// identities are not judged (see rampart rbac risky).
func rbacEscalationPath() check.Check {
	return check.Check{
		ID:          "rbac-escalation-path",
		Title:       "Subject can escalate through a chain of permissions",
		Severity:    check.High,
		Category:    check.CategoryRBAC,
		Description: "A subject whose own permissions look modest can still reach cluster-admin power or every Secret: creating pods or workloads in a namespace runs them as any ServiceAccount there, reading Secrets or creating tokens yields ServiceAccount credentials, and those ServiceAccounts may hold more. The finding shows the chain, with the binding and role of each step.",
		Remediation: "Break the chain at its first step: remove the permission (or move the powerful ServiceAccount out of the namespace), then check again with rampart rbac paths.",
		References:  append([]check.Ref{cis("5.1.4", "Minimize access to create pods"), cis("5.1.2", "Minimize access to secrets")}, rbacRefs...),
		Scope:       check.Scope{Kinds: []string{"RoleBinding", "ClusterRoleBinding"}},
		Run: func(ctx *check.Context, o *inventory.Object) []check.Finding {
			_, subjects, ok := bindingOf(o)
			if !ok {
				return nil
			}
			g := ctx.Inventory.RBAC()
			var out []check.Finding
			for i, s := range subjects {
				name, u := subjectIdentity(s, o.Namespace)
				if name == "" || controlPlaneIdentity(name) {
					continue
				}
				for _, p := range g.Paths(u) {
					if len(p.Steps) < 2 {
						continue // direct power: the per-rule RBAC checks report it
					}
					var chain []string
					for _, st := range p.Steps {
						chain = append(chain, st.From+" "+st.Action)
					}
					out = append(out, check.NewFinding(o, "subjects["+itoa(i)+"]", name+" reaches "+string(p.Goal)+": "+strings.Join(chain, "; then ")))
					break
				}
			}
			return out
		},
	}
}

func subjectIdentity(s rbacv1.Subject, bindingNS string) (string, rbac.User) {
	switch s.Kind {
	case rbacv1.UserKind:
		return s.Name, rbac.ParseSubject(s.Name)
	case rbacv1.GroupKind:
		return "group:" + s.Name, rbac.User{Groups: []string{s.Name}}
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		name := "system:serviceaccount:" + ns + ":" + s.Name
		return name, rbac.ParseSubject(name)
	}
	return "", rbac.User{}
}

func controlPlaneIdentity(name string) bool {
	return strings.HasPrefix(name, "system:serviceaccount:kube-system:") ||
		(strings.HasPrefix(name, "system:") && !strings.HasPrefix(name, "system:serviceaccount:")) ||
		strings.HasPrefix(name, "group:system:")
}
