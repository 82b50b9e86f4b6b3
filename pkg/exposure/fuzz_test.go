package exposure

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/netpol"
)

// FuzzAnalyze feeds arbitrary manifests (Services, Ingresses, Gateway API,
// Istio and Cilium objects of any shape) to the analysis and the L7
// reader: no panic, and every entry has an ID and a kind.
func FuzzAnalyze(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _ := manifest.Parse("fuzz.yaml", data)
		inv := inventory.New(objs)
		out, err := Analyze(inv, Options{})
		if err != nil {
			t.Fatal(err) // invalid policies are left out, never fatal
		}
		ids := map[string]bool{}
		for _, e := range out.Entries {
			if e.ID == "" || e.Kind == "" || ids[e.ID] {
				t.Fatalf("entry without a unique ID or a kind: %+v", e)
			}
			ids[e.ID] = true
		}
		if d := Diff(out.Entries, out.Entries); len(d) != 0 {
			t.Fatalf("an inventory differs from itself: %+v", d)
		}
		for _, r := range netpol.L7Rules(inv, IstioRootNamespace) {
			if r.Source == "" || r.Describe() == "" {
				t.Fatalf("L7 rule without a source: %+v", r)
			}
		}
	})
}
