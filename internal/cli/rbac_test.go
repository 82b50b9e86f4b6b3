package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestRBACCommands(t *testing.T) {
	insecure := filepath.Join("..", "..", "examples", "insecure")
	hardened := filepath.Join("..", "..", "examples", "hardened")
	tests := []struct {
		name string
		args []string
		want []string // substrings of the output
		not  []string
	}{
		{"cluster-admin binding lets ci-robot read secrets anywhere",
			[]string{"rbac", "who-can", "get", "secrets", "-n", "prod", insecure},
			[]string{"ServiceAccount shop/ci-robot", "ClusterRoleBinding/ci-robot-admin", "ClusterRole/cluster-admin"}, nil},
		{"the hardened robot may not",
			[]string{"rbac", "who-can", "get", "secrets", "-n", "shop", hardened},
			[]string{"(none)"}, []string{"ci-robot"}},
		{"a subresource",
			[]string{"rbac", "who-can", "get", "pods/log", "-n", "logging", hardened},
			[]string{"ServiceAccount logging/log-agent", "ClusterRole/log-reader"}, nil},
		{"a group, not an API group",
			[]string{"rbac", "who-can", "patch", "deployments.apps", "-n", "shop", hardened},
			[]string{"ServiceAccount shop/ci-robot", "Role/shop/ci-robot-deployer"}, nil},
		{"can lists rules with their source",
			[]string{"rbac", "can", "system:serviceaccount:shop:ci-robot", "-n", "shop", hardened},
			[]string{"get,list,watch,update,patch deployments (apps)", "RoleBinding/shop/ci-robot-deployer"}, nil},
		{"outside its namespace it can nothing",
			[]string{"rbac", "can", "system:serviceaccount:shop:ci-robot", "-n", "prod", hardened},
			[]string{"(none)"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rampart(t, "", tt.args...)
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(r.stdout, n) {
					t.Errorf("output has %q:\n%s", n, r.stdout)
				}
			}
		})
	}
	r := rampart(t, "", "rbac", "who-can", "create", "pods", "-n", "shop", "-o", "json", insecure)
	var grants []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &grants); err != nil || len(grants) == 0 {
		t.Errorf("json: %v %s", err, r.stdout)
	}
}
