package checks

import (
	"strings"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/inventory"
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
		Title:       "Subject can escalate through a chain of permissions",
		Severity:    check.High,
		Category:    check.CategoryRBAC,
		Description: "A subject whose own permissions look modest can still reach cluster-admin power or every Secret: creating pods or workloads in a namespace runs them as any ServiceAccount there, reading token Secrets or creating tokens yields ServiceAccount credentials, and those ServiceAccounts may hold more. The finding shows the chain, with the binding and role of each step.",
		Remediation: "Break the chain at its first step: remove the permission (or move the powerful ServiceAccount out of the namespace), then check again with rampart rbac paths.",
		References:  append([]check.Ref{cis("5.1.4", "Minimize access to create pods"), cis("5.1.2", "Minimize access to secrets")}, rbacRefs...),
		Scope:       check.Scope{Kinds: []string{"RoleBinding", "ClusterRoleBinding"}},
		Run: func(ctx *check.Context, o *inventory.Object) []check.Finding {
			_, subjects, ok := bindingOf(o)
			if !ok {
				return nil
			}
			var out []check.Finding
			for _, r := range ctx.Inventory.RBAC().Risky() {
				p := r.Paths[0] // the worst goal; direct power is the per-rule checks'
				if len(p.Steps) < 2 || p.Steps[0].Grant == nil {
					continue
				}
				// Reported on the binding that starts the chain when it names
				// the subject; when the subject gets that first step through
				// a group, on the first binding that names it.
				start := p.Steps[0].Grant.Binding
				at, related := start, p.Steps[1:]
				if !names(start, r.Subject, ctx.Inventory) {
					own := ctx.Inventory.RBAC().BindingsNaming(r.Subject)
					if len(own) == 0 {
						continue
					}
					at, related = own[0], p.Steps
				}
				if at.Kind != o.Kind || at.Name != o.Name || at.Namespace != bindingNamespace(o) {
					continue
				}
				for i, s := range subjects {
					if rbac.RiskySubject(s, o.Namespace) != r.Subject {
						continue
					}
					var chain []string
					for _, st := range p.Steps {
						chain = append(chain, st.From+" "+st.Action)
					}
					f := check.NewFinding(o, "subjects["+itoa(i)+"]", r.Subject+" reaches "+string(p.Goal)+": "+strings.Join(chain, "; then "))
					for _, st := range related {
						if st.Grant == nil {
							continue
						}
						b := st.Grant.Binding
						if ro := ctx.Inventory.Find(b.Kind, b.Namespace, b.Name); ro != nil && ro.File != "" {
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

// names reports whether the binding ref names subject directly.
func names(ref rbac.Ref, subject string, inv *inventory.Inventory) bool {
	for _, b := range inv.RBAC().BindingsNaming(subject) {
		if b == ref {
			return true
		}
	}
	return false
}

// bindingNamespace is the namespace the RBAC graph keys a binding by.
func bindingNamespace(o *inventory.Object) string {
	if o.Kind == "ClusterRoleBinding" {
		return ""
	}
	return o.Namespace
}
