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
			return // an invalid NetworkPolicy: the engine refuses it
		}
		for _, e := range out.Entries {
			if e.ID == "" || e.Kind == "" {
				t.Fatalf("entry without ID or kind: %+v", e)
			}
		}
		_ = netpol.L7Rules(inv, IstioRootNamespace)
		_ = Diff(out.Entries, nil)
	})
}
