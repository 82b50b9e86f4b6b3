package checks

import (
	"strings"
	"testing"

	"k8s.io/pod-security-admission/api"
)

// TestNamespaceLabelsDecideTheLevel checks that a Namespace in the scan with
// pod-security.kubernetes.io/enforce labels decides the level for its objects,
// and that the flags decide it everywhere else.
func TestNamespaceLabelsDecideTheLevel(t *testing.T) {
	// Restricted-only problems (no runAsNonRoot, no seccomp, no drop ALL) and
	// one that a policy version decides (the sysctl is safe from v1.29 on).
	pod := func(ns string) string {
		meta := "  name: p\n"
		if ns != "" {
			meta += "  namespace: " + ns + "\n"
		}
		return "apiVersion: v1\nkind: Pod\nmetadata:\n" + meta + `spec:
  securityContext:
    sysctls:
    - name: net.ipv4.tcp_keepalive_time
      value: "600"
  containers:
  - name: app
    image: registry.example.com/app:1.0
`
	}
	namespace := func(name string, labels ...string) string {
		s := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n"
		if len(labels) > 0 {
			s += "  labels:\n"
			for i := 0; i+1 < len(labels); i += 2 {
				s += "    " + labels[i] + ": " + labels[i+1] + "\n"
			}
		}
		return s
	}
	tests := []struct {
		name      string
		docs      []string
		flagLevel api.Level
		wantPSS   bool
		wantIDs   []string
	}{
		{"no namespace object: flag level", []string{pod("shop")}, api.LevelRestricted, true, []string{"pss-run-as-non-root"}},
		{"enforce baseline lowers the level", []string{namespace("shop", api.EnforceLevelLabel, "baseline"), pod("shop")}, api.LevelRestricted, false, nil},
		{"enforce privileged turns PSS off", []string{namespace("shop", api.EnforceLevelLabel, "privileged"), pod("shop")}, api.LevelRestricted, false, nil},
		{"enforce restricted raises the level", []string{namespace("shop", api.EnforceLevelLabel, "restricted"), pod("shop")}, api.LevelBaseline, true, []string{"pss-seccomp-restricted"}},
		{"another namespace's labels do not count", []string{namespace("other", api.EnforceLevelLabel, "baseline"), pod("shop")}, api.LevelRestricted, true, []string{"pss-run-as-non-root"}},
		{"no metadata.namespace means default", []string{namespace("default", api.EnforceLevelLabel, "baseline"), pod("")}, api.LevelRestricted, false, nil},
		{"enforce-version pins an old policy", []string{namespace("shop", api.EnforceLevelLabel, "baseline", api.EnforceVersionLabel, "v1.28"), pod("shop")}, api.LevelRestricted, true, []string{"pss-sysctls"}},
		{"invalid label value keeps the flag level", []string{namespace("shop", api.EnforceLevelLabel, "strict"), pod("shop")}, api.LevelRestricted, true, []string{"pss-run-as-non-root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := scanBytes(t, "ns.yaml", []byte(strings.Join(tt.docs, "---\n")), api.LevelVersion{Level: tt.flagLevel, Version: api.LatestVersion()})
			got := map[string]bool{}
			for _, f := range res.Findings {
				if strings.HasPrefix(f.CheckID, "pss-") {
					got[f.CheckID] = true
				}
			}
			if (len(got) > 0) != tt.wantPSS {
				t.Errorf("PSS findings %v, want any=%v", got, tt.wantPSS)
			}
			for _, id := range tt.wantIDs {
				if !got[id] {
					t.Errorf("missing %s; got %v", id, got)
				}
			}
		})
	}
}
