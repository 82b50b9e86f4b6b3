package cli

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestScanContextPath: --context-path judges only the paths given, against
// the objects of the context too: the workload of a changed file is judged
// with the repository's NetworkPolicy and Namespace (so it gets no
// namespace-without-networkpolicy finding), and the Namespace, which is
// context only, gets none of its own findings.
func TestScanContextPath(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"repo/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
		"repo/policy.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
`,
		"repo/web.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example.com/web:1.0
`,
	})
	type result struct {
		Findings []struct {
			CheckID string `json:"checkID"`
			Object  struct{ Kind, Name string }
		} `json:"findings"`
		Summary struct{ Objects int } `json:"summary"`
	}
	scan := func(args ...string) result {
		t.Helper()
		r := rampart(t, "", append([]string{"scan", "-o", "json", "--fail-on", "none"}, args...)...)
		var out result
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("%v\n%s", err, r.stderr)
		}
		return out
	}
	has := func(out result, id, kind string) bool {
		for _, f := range out.Findings {
			if f.CheckID == id && f.Object.Kind == kind {
				return true
			}
		}
		return false
	}
	web := filepath.Join(dir, "repo", "web.yaml")
	alone := scan(web)
	if !has(alone, "namespace-without-networkpolicy", "Deployment") {
		t.Fatal("alone, the workload should lack a NetworkPolicy: the test would prove nothing")
	}
	withCtx := scan(web, "--context-path", filepath.Join(dir, "repo"))
	if has(withCtx, "namespace-without-networkpolicy", "Deployment") {
		t.Error("with the repository as context, the workload's namespace has a NetworkPolicy")
	}
	if withCtx.Summary.Objects != 1 {
		t.Errorf("%d objects judged, want 1 (the target)", withCtx.Summary.Objects)
	}
	for _, f := range withCtx.Findings {
		if f.Object.Kind != "Deployment" {
			t.Errorf("%s reported on %s %s, which is context only", f.CheckID, f.Object.Kind, f.Object.Name)
		}
	}
	// The Namespace judged as a target gets its own findings.
	ns := scan(filepath.Join(dir, "repo", "namespace.yaml"), "--context-path", filepath.Join(dir, "repo"))
	if !has(ns, "namespace-pss-not-enforced", "Namespace") {
		t.Errorf("the Namespace as a target should get namespace-pss-not-enforced: %+v", ns.Findings)
	}
}
