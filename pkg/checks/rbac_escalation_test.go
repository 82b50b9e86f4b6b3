package checks

import (
	"sort"
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/rbac"
)

// TestEscalationScanEqualsRisky: the scan check and rbac risky are one
// implementation: the same subjects with indirect chains, each reported
// once, on the binding that starts the chain, with the next link related.
func TestEscalationScanEqualsRisky(t *testing.T) {
	docs := `apiVersion: v1
kind: ServiceAccount
metadata: {name: admin-sa, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admin-sa}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: ServiceAccount, name: admin-sa, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deployer, namespace: shop}
rules:
- {apiGroups: [""], resources: [pods], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployer, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects:
- {kind: User, name: alice}
- {kind: Group, name: system:authenticated, apiGroup: rbac.authorization.k8s.io}
- {kind: ServiceAccount, name: ci, namespace: build}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployer-again, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects:
- {kind: User, name: alice}
`
	objs, errs := manifest.Parse("rbac.yaml", []byte(docs))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	inv := inventory.New(objs)
	res := engine.Run([]check.Check{rbacEscalationPath()}, inv, engine.Options{})
	var scan []string
	for _, f := range res.Findings {
		scan = append(scan, strings.SplitN(f.Message, " reaches ", 2)[0])
		if f.Object.Name != "deployer" {
			t.Errorf("%s reported on %s, want the binding that starts the chain (deployer)", f.Message, f.Object.Name)
		}
		if len(f.Related) != 1 || f.Related[0].Line != 5 {
			t.Errorf("related %v, want the admin-sa binding at rbac.yaml:5", f.Related)
		}
	}
	var risky []string
	for _, r := range rbac.New(rbacObjects(inv)).Risky() {
		if len(r.Paths[0].Steps) > 1 {
			risky = append(risky, r.Subject)
		}
	}
	sort.Strings(scan)
	sort.Strings(risky)
	if strings.Join(scan, ",") != strings.Join(risky, ",") || len(scan) != 3 {
		t.Errorf("scan reports %v, rbac risky %v; want the same three (alice, group:system:authenticated, the ci ServiceAccount)", scan, risky)
	}
}

// TestEscalationThroughAGroupBinding: when the first step comes from a group
// the subject is in, the chain is reported on the subject's own binding.
func TestEscalationThroughAGroupBinding(t *testing.T) {
	docs := `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ci-pods, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pod-creator}
subjects:
- {kind: Group, name: "system:serviceaccounts:ci", apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pod-creator}
rules:
- {apiGroups: [""], resources: [pods], verbs: [create]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: deployer, namespace: prod}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: deployer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: ServiceAccount, name: deployer, namespace: prod}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: builder-view, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {kind: ServiceAccount, name: builder, namespace: ci}
`
	objs, errs := manifest.Parse("rbac.yaml", []byte(docs))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	res := engine.Run([]check.Check{rbacEscalationPath()}, inventory.New(objs), engine.Options{})
	var got []string
	for _, f := range res.Findings {
		if strings.HasPrefix(f.Message, "system:serviceaccount:ci:builder reaches cluster-admin") {
			got = append(got, f.Object.Name)
			if len(f.Related) != 2 {
				t.Errorf("related %v, want the group's binding and the deployer's", f.Related)
			}
		}
	}
	if strings.Join(got, ",") != "builder-view" {
		t.Errorf("builder's chain reported on %v, want once on builder-view; findings %+v", got, res.Findings)
	}
}
