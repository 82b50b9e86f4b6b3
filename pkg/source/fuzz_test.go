package source

import (
	"testing"
	"time"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// FuzzHelmPositions feeds arbitrary template and rendered text to Helm's
// splitter and the outline alignment: no panic, no hang, and every line a
// locator returns lies in the template.
func FuzzHelmPositions(f *testing.F) {
	f.Add("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.x }}\ndata:\n  {{- toYaml .Values.d | nindent 2 }}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n")
	f.Add("{{- range .Values.l }}\n---\nkind: Pod\nspec:\n  containers:\n    - name: {{ . }}\n      args:\n        - x\n{{- end }}\n",
		"---\nkind: Pod\nspec:\n  containers:\n    - name: a\n      args:\n        - x\n---#\nkind: Pod\n")
	f.Add("a: |\n  ---\n  b: {{\n  .Values.c }}\n", "a: |\n  ---\nb: c\n")
	f.Fuzz(func(t *testing.T, tpl, rendered string) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			tm := newTemplate(tpl)
			lines := len(tm.lines)
			for _, p := range splitHelm(rendered) {
				objs, _ := manifest.ParseAt("t.yaml", []byte(p.text), p.line)
				m := tm.place(p)
				for _, o := range objs {
					loc := m.locator(o, "")
					for _, path := range []string{"", "kind", "spec.containers[0].args[0]", "data.k", "metadata.labels[\"a.b\"]"} {
						if l, _, _ := loc(path); l < 1 || l > lines {
							t.Fatalf("line %d outside the template's %d lines", l, lines)
						}
					}
				}
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("took more than 5s")
		}
	})
}
