package source

import (
	"os"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// Load reads paths as `rampart scan` does: plain manifests through the
// manifest loader, and every Helm chart (a folder with Chart.yaml, or a
// .tgz) and kustomization (a folder with kustomization.yaml) it meets,
// given or found by the walk, rendered in-process. A chart or kustomization
// folder is not also read as plain files. helm.Namespace (-n) is where the
// objects that name no namespace land.
func Load(paths []string, opts manifest.Options, helm HelmOptions) *manifest.Result {
	opts.Claim = func(p string) bool {
		if IsChart(p) {
			return true
		}
		st, err := os.Stat(p)
		return err == nil && st.IsDir() && KustomizationFile(p) != ""
	}
	res := manifest.Load(paths, opts)
	for _, p := range res.Claimed {
		var objs []*manifest.Object
		var errs []manifest.InputError
		if IsChart(p) {
			objs, errs = RenderChart(p, helm)
		} else {
			objs, errs = Kustomize(p)
		}
		res.Objects = append(res.Objects, objs...)
		res.Errors = append(res.Errors, errs...)
		res.Files++
	}
	// Objects that name no namespace land in -n's (or "default"), as with
	// kubectl apply -n and helm install -n; cluster-scoped ones in none.
	manifest.SetDefaultNamespace(res.Objects, helm.Namespace)
	return res
}
