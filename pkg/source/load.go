package source

import (
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

var renderMu sync.Mutex

// Plan is how Load reads a set of paths: the manifest.Options Claim and
// Skip that leave charts, named kustomizations and the files kustomizations
// read out of the plain walk, and the kustomization roots to build.
type Plan struct {
	Roots []string
	Claim func(string) bool
	Skip  func(string) bool
}

// PlanFor is the plan Load follows for paths; fix follows the same.
func PlanFor(paths []string) Plan { return planKustomize(paths).public() }

func (plan *kustomizePlan) public() Plan {
	return Plan{
		Roots: plan.roots,
		Claim: func(p string) bool { return IsChart(p) || plan.explicit[abs(p)] },
		Skip:  func(p string) bool { return plan.skip[abs(p)] },
	}
}

// Load reads paths as `rampart scan` does: plain manifests through the
// manifest loader, every Helm chart (a folder with Chart.yaml, or a .tgz)
// given or met in a walk rendered in-process, and the kustomizations of a
// tree built through their roots (see kustomizePlan): a file a
// kustomization reads is judged inside the roots that emit it, not again as
// a plain file. helm.Namespace (-n) is where the objects that name no
// namespace land.
func Load(paths []string, opts manifest.Options, helm HelmOptions) *manifest.Result {
	plan := planKustomize(paths)
	p := plan.public()
	opts.Claim, opts.Skip = p.Claim, p.Skip
	res := manifest.Load(paths, opts)
	res.Notices = append(res.Notices, plan.notices...)
	if len(res.Claimed)+len(plan.roots) > 0 {
		// Helm and kustomize make several times their output in garbage; a
		// scan that raised GOGC for plain YAML would hold all of it. Their
		// builds run with the default collector, whatever the caller set
		// (a process-wide setting: renders run one Load at a time).
		renderMu.Lock()
		defer renderMu.Unlock()
		defer debug.SetGCPercent(debug.SetGCPercent(100))
	}
	built := map[string]bool{}
	for _, p := range res.Claimed {
		if IsChart(p) {
			objs, errs := RenderChart(p, helm)
			res.Objects = append(res.Objects, objs...)
			res.Errors = append(res.Errors, errs...)
			res.Files++
		}
	}
	for _, dir := range plan.roots {
		if built[abs(dir)] {
			continue
		}
		built[abs(dir)] = true
		objs, errs, notices := Kustomize(dir)
		slog.Debug("kustomization root", "dir", dir, "objects", len(objs))
		res.Objects = append(res.Objects, objs...)
		res.Errors = append(res.Errors, errs...)
		res.Notices = append(res.Notices, notices...)
		res.Files++
	}
	// Objects that name no namespace land in -n's (or "default"), as with
	// kubectl apply -n and helm install -n; cluster-scoped ones in none.
	manifest.SetDefaultNamespace(res.Objects, helm.Namespace)
	manifest.SortErrors(res.Notices)
	return res
}
