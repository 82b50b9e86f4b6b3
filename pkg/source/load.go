package source

import (
	"log/slog"
	"runtime/debug"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// KustomizeRoots returns the kustomizations a walk of paths builds (see
// Load), and whether a file is read by one of them (and so is not a plain
// manifest).
func KustomizeRoots(paths []string) (roots []string, consumed func(string) bool) {
	plan := planKustomize(paths)
	return plan.roots, func(p string) bool { return plan.skip[abs(p)] }
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
	opts.Claim = func(p string) bool {
		return IsChart(p) || plan.explicit[abs(p)]
	}
	opts.Skip = func(p string) bool { return plan.skip[abs(p)] }
	res := manifest.Load(paths, opts)
	res.Notices = append(res.Notices, plan.notices...)
	if len(res.Claimed)+len(plan.roots) > 0 {
		// Helm and kustomize make several times their output in garbage; a
		// scan that raised GOGC for plain YAML would hold all of it. Their
		// builds run with the default collector, whatever the caller set.
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
