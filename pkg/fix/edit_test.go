package fix

import (
	"testing"

	"gopkg.in/yaml.v3"
)

const base = `# a leading comment
apiVersion: v1
kind: Pod
metadata:
  name: p   # trailing comment
spec:
  containers:
  - name: app
    image: "nginx:1.27"
    securityContext: {privileged: true}
  - name: side   # second
    image: 'busybox'
    securityContext:
      runAsUser: 0
  volumes: [] # none
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
`

func TestSet(t *testing.T) {
	tests := []struct {
		name, path, value string
		want              string // the lines that change, as a replacement of base
		from, to          string
	}{
		{"replace a flow value", "spec.containers[0].securityContext.privileged", "false",
			"", "    securityContext: {privileged: true}", "    securityContext: {privileged: false}"},
		{"add into a flow mapping", "spec.containers[0].securityContext.allowPrivilegeEscalation", "false",
			"", "    securityContext: {privileged: true}", "    securityContext: {privileged: true, allowPrivilegeEscalation: false}"},
		{"add a nested chain into a block mapping", "spec.containers[1].securityContext.seccompProfile.type", "RuntimeDefault",
			"", "      runAsUser: 0\n", "      runAsUser: 0\n      seccompProfile:\n        type: RuntimeDefault\n"},
		{"create a mapping in a list item", "spec.containers[0].resources.limits.memory", "128Mi",
			"", "    securityContext: {privileged: true}\n", "    securityContext: {privileged: true}\n    resources:\n      limits:\n        memory: 128Mi\n"},
		{"add at the end of the pod spec", "spec.automountServiceAccountToken", "false",
			"", "  volumes: [] # none\n", "  volumes: [] # none\n  automountServiceAccountToken: false\n"},
		{"replace a quoted scalar", "spec.containers[1].image", "busybox:1.36",
			"", "    image: 'busybox'", "    image: busybox:1.36"},
		{"replace a flow sequence", "spec.volumes", `["x"]`,
			"", "  volumes: [] # none", `  volumes: ["x"] # none`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed, err := Set(base, 2, tt.path, tt.value)
			if err != nil || !changed {
				t.Fatalf("Set: changed=%v err=%v", changed, err)
			}
			want := replaceOnce(t, base, tt.from, tt.to)
			if got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(got), &n); err != nil {
				t.Errorf("result is not YAML: %v", err)
			}
			again, changed, err := Set(got, 2, tt.path, tt.value)
			if err != nil || changed || again != got {
				t.Errorf("setting twice changed the text again (changed=%v err=%v)", changed, err)
			}
		})
	}
	if _, _, err := Set(base, 99, "spec", "x"); err == nil {
		t.Error("no error for a missing document")
	}
	out, changed, err := Set(base, 17, "metadata.labels", "{app: c}")
	if err != nil || !changed || !contains(out, "metadata: {name: c, labels: {app: c}}") {
		t.Errorf("second document: %v %v\n%s", changed, err, out)
	}
}

func replaceOnce(t *testing.T, s, from, to string) string {
	t.Helper()
	i := index(s, from)
	if i < 0 {
		t.Fatalf("%q not in base", from)
	}
	return s[:i] + to + s[i+len(from):]
}

func index(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func contains(s, sub string) bool { return index(s, sub) >= 0 }
