package rbac

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

func graphOf(t *testing.T, docs string) *Graph {
	t.Helper()
	objs, errs := manifest.Parse("rbac.yaml", []byte(docs))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var typed []runtime.Object
	for _, o := range objs {
		typed = append(typed, o.Typed)
	}
	return New(typed)
}

// role binds a ClusterRole with rules to ServiceAccount shop/robot, and adds
// a powerful ServiceAccount shop/admin-sa bound to cluster-admin.
func role(rules string, namespaced bool) string {
	kind, bkind, ns := "ClusterRole", "ClusterRoleBinding", ""
	if namespaced {
		kind, bkind, ns = "Role", "RoleBinding", "\n  namespace: shop"
	}
	return `apiVersion: rbac.authorization.k8s.io/v1
kind: ` + kind + `
metadata:
  name: robot` + ns + `
rules:
` + rules + `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ` + bkind + `
metadata:
  name: robot` + ns + `
subjects:
- {kind: ServiceAccount, name: robot, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ` + kind + `, name: robot}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: admin-sa, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admin-sa}
subjects:
- {kind: ServiceAccount, name: admin-sa, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
`
}

// TestEscalationTypes has, for each escalation type, a positive case and a
// near miss that must not be reported.
func TestEscalationTypes(t *testing.T) {
	tests := []struct {
		name       string
		rules      string
		namespaced bool
		want       Goal // "" for none
		via        string
		extra      string // more documents
	}{
		{"create pods runs as admin-sa", `- {apiGroups: [""], resources: [pods], verbs: [create]}`, true, GoalClusterAdmin, "creates pods", ""},
		{"near miss: create pods where no powerful ServiceAccount lives", `- {apiGroups: [""], resources: [pods], verbs: [create]}`, true, "", "", ""},
		{"near miss: get pods only", `- {apiGroups: [""], resources: [pods], verbs: [get, list]}`, true, "", "", ""},
		{"create deployments", `- {apiGroups: [apps], resources: [deployments], verbs: [create]}`, true, GoalClusterAdmin, "Deployments", ""},
		{"near miss: update deployments", `- {apiGroups: [apps], resources: [deployments], verbs: [update, patch]}`, true, "", "", ""},
		{"create cronjobs", `- {apiGroups: [batch], resources: [cronjobs], verbs: [create]}`, true, GoalClusterAdmin, "CronJobs", ""},
		{"serviceaccount tokens", `- {apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}`, true, GoalClusterAdmin, "tokens", ""},
		{"near miss: token for another name", `- {apiGroups: [""], resources: [serviceaccounts/token], verbs: [create], resourceNames: [robot]}`, true, "", "", ""},
		{"near miss: read secrets where no token Secret exists", `- {apiGroups: [""], resources: [secrets], verbs: [get]}`, true, GoalSecrets, "Secrets", ""},
		{"read secrets with admin-sa's token Secret", `- {apiGroups: [""], resources: [secrets], verbs: [get]}`, true, GoalClusterAdmin, "token Secrets of admin-sa", `---
apiVersion: v1
kind: Secret
metadata:
  name: admin-sa-token
  namespace: shop
  annotations: {kubernetes.io/service-account.name: admin-sa}
type: kubernetes.io/service-account-token
`},
		{"near miss: a token Secret of another ServiceAccount", `- {apiGroups: [""], resources: [secrets], verbs: [get]}`, true, GoalSecrets, "Secrets", strings.ReplaceAll(`---
apiVersion: v1
kind: Secret
metadata:
  name: admin-sa-token
  namespace: shop
  annotations: {kubernetes.io/service-account.name: admin-sa}
type: kubernetes.io/service-account-token
`, "service-account.name: admin-sa", "service-account.name: robot")},
		{"read and create secrets", `- {apiGroups: [""], resources: [secrets], verbs: [get, create]}`, true, GoalClusterAdmin, "creates token Secrets", ""},
		{"near miss: configmaps", `- {apiGroups: [""], resources: [configmaps], verbs: [get, list]}`, true, "", "", ""},
		{"escalate", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate]}`, false, GoalClusterAdmin, "escalate", ""},
		{"bind", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}`, false, GoalClusterAdmin, "bind", ""},
		{"near miss: read roles", `- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles, roles], verbs: [get, list]}`, false, "", "", ""},
		{"impersonate", `- {apiGroups: [""], resources: [groups], verbs: [impersonate]}`, false, GoalClusterAdmin, "impersonate", ""},
		{"near miss: impersonate in the wrong API group", `- {apiGroups: [apps], resources: [groups], verbs: [impersonate]}`, false, "", "", ""},
		{"nodes/proxy", `- {apiGroups: [""], resources: [nodes/proxy], verbs: [get]}`, false, GoalClusterAdmin, "nodes/proxy", ""},
		{"near miss: nodes/metrics", `- {apiGroups: [""], resources: [nodes/metrics, nodes], verbs: [get]}`, false, "", "", ""},
		{"CSR approval", `- {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}`, false, GoalClusterAdmin, "certificate", ""},
		{"near miss: read CSRs", `- {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests], verbs: [get, list]}`, false, "", "", ""},
		{"webhooks", `- {apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [create]}`, false, GoalClusterAdmin, "webhooks", ""},
		{"near miss: read webhooks", `- {apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [get, list]}`, false, "", "", ""},
		{"wildcard", `- {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}`, false, GoalClusterAdmin, "every verb", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := role(tt.rules, tt.namespaced) + tt.extra
			if strings.Contains(tt.name, "no powerful ServiceAccount") {
				// the cluster-admin ServiceAccount lives in ops, not shop
				docs = strings.ReplaceAll(docs, "name: admin-sa, namespace: shop", "name: admin-sa, namespace: ops")
			}
			g := graphOf(t, docs)
			paths := g.Paths(ParseSubject("system:serviceaccount:shop:robot"))
			var got Goal
			text := ""
			for _, p := range paths {
				if got == "" {
					got = p.Goal
				}
				for _, s := range p.Steps {
					text += s.Action + "; "
				}
			}
			if got != tt.want {
				t.Fatalf("goal %q, want %q (paths %+v)", got, tt.want, paths)
			}
			if tt.want != "" && !strings.Contains(text, tt.via) {
				t.Errorf("path %q does not mention %q", text, tt.via)
			}
		})
	}
}

func TestRiskyRanksAndSkipsControlPlane(t *testing.T) {
	g := graphOf(t, role(`- {apiGroups: [""], resources: [secrets], verbs: [list]}`, true)+`---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: controller}
subjects:
- {kind: ServiceAccount, name: replicaset-controller, namespace: kube-system}
- {kind: User, name: system:kube-scheduler}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
`)
	risks := g.Risky()
	if len(risks) != 2 {
		t.Fatalf("risks %+v, want admin-sa and robot", risks)
	}
	if risks[0].Subject != "system:serviceaccount:shop:admin-sa" || risks[0].Paths[0].Goal != GoalClusterAdmin {
		t.Errorf("first risk %+v, want admin-sa reaching cluster-admin", risks[0])
	}
	if risks[1].Subject != "system:serviceaccount:shop:robot" {
		t.Errorf("second risk %s", risks[1].Subject)
	}
}

// TestAllPathsListsEveryRoute: Paths keeps the shortest chain per goal;
// AllPaths also lists the routes through every other identity that reaches a
// goal, worst goal first, shortest first within a goal.
func TestAllPathsListsEveryRoute(t *testing.T) {
	docs := role(`- {apiGroups: [""], resources: [pods], verbs: [create]}
- {apiGroups: [""], resources: [secrets], verbs: [get]}`, true) + `---
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules:
- {apiGroups: [""], resources: [secrets], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader}
subjects:
- {kind: ServiceAccount, name: reader, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}
`
	g := graphOf(t, docs)
	u := ParseSubject("system:serviceaccount:shop:robot")
	summary := func(ps []Path) []string {
		var out []string
		for _, p := range ps {
			out = append(out, string(p.Goal)+" via "+p.Steps[len(p.Steps)-1].From)
		}
		return out
	}
	robot, admin, reader := "system:serviceaccount:shop:robot", "system:serviceaccount:shop:admin-sa", "system:serviceaccount:shop:reader"
	tests := []struct {
		name string
		got  []Path
		want []string
	}{
		{"shortest per goal", g.Paths(u), []string{"cluster-admin via " + admin, "read-secrets via " + robot}},
		{"every route", g.AllPaths(u), []string{"cluster-admin via " + admin, "read-secrets via " + robot, "read-secrets via " + admin, "read-secrets via " + reader}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summary(tt.got); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
