package exposure

import (
	"testing"

	"github.com/rampart-k8s/rampart/internal/corpus"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// BenchmarkAnalyze: the exposure analysis of the generated corpus (5,000
// objects: workloads, Services, NetworkPolicies), parsed once.
func BenchmarkAnalyze(b *testing.B) {
	var objs []*manifest.Object
	for _, f := range corpus.Generate(5000, 1) {
		o, _ := manifest.Parse(f.Name, f.Content)
		objs = append(objs, o...)
	}
	b.ResetTimer()
	for b.Loop() {
		inv, err := Analyze(inventory.New(objs), Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(inv.Workloads) == 0 {
			b.Fatal("no workload")
		}
	}
	b.ReportMetric(float64(len(objs)), "objects")
}
