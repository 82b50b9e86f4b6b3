package source

import (
	"os"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestScannerClusterRoleCoversEveryKind keeps deploy/scanner-clusterrole.yaml
// in step with what ReadCluster lists, and read-only.
func TestScannerClusterRoleCoversEveryKind(t *testing.T) {
	data, err := os.ReadFile("../../deploy/scanner-clusterrole.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &role); err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, r := range role.Rules {
		for _, v := range r.Verbs {
			if v != "list" {
				t.Errorf("the scanner role grants %q; it needs only list", v)
			}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				name := res
				if g != "" {
					name += "." + g
				}
				granted[name] = true
			}
		}
	}
	for _, res := range Resources() {
		if !granted[res] {
			t.Errorf("the scanner role does not grant list on %s", res)
		}
		delete(granted, res)
	}
	for res := range granted {
		t.Errorf("the scanner role grants %s, which the scan does not read", strings.TrimSpace(res))
	}
}
