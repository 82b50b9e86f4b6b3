package source

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// kustomizePlan decides how a folder tree with kustomizations is judged:
// through its roots (kustomizations no other kustomization reads), each
// built once; a file or base a kustomization reads is judged inside the
// roots that emit it, never also as a plain file. The files in a
// kustomization's own folder that no kustomization lists are neither: they
// are named in a notice.
type kustomizePlan struct {
	roots    []string        // kustomization folders to build, as found
	skip     map[string]bool // absolute paths of files not to read as plain manifests
	explicit map[string]bool // absolute kustomization folders given as paths
	notices  []manifest.InputError
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}

// planKustomize walks paths (as the manifest walk will) for kustomizations.
func planKustomize(paths []string) *kustomizePlan {
	kp := &kustomizePlan{skip: map[string]bool{}, explicit: map[string]bool{}}
	var found []string // kustomization folders, in walk order
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() || IsChart(p) {
			continue
		}
		if KustomizationFile(p) != "" {
			kp.explicit[abs(p)] = true
			found = append(found, p)
			continue
		}
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if path != p && (strings.HasPrefix(d.Name(), ".") || IsChart(path)) {
				return fs.SkipDir
			}
			if KustomizationFile(path) != "" {
				found = append(found, path)
			}
			return nil
		})
	}
	if len(found) == 0 {
		return kp
	}
	// Everything any of them reads, following bases outside the tree too.
	read := map[string]bool{}     // kustomization folders read by another
	consumed := map[string]bool{} // files read
	seen := map[string]bool{}
	var visit func(dir string)
	visit = func(dir string) {
		if seen[dir] {
			return
		}
		seen[dir] = true
		for _, ref := range kustomizationRefs(dir) {
			st, err := os.Stat(ref)
			switch {
			case err != nil:
			case st.IsDir():
				if KustomizationFile(ref) != "" {
					read[ref] = true
					visit(ref)
				}
			default:
				consumed[ref] = true
			}
		}
	}
	for _, dir := range found {
		visit(abs(dir))
	}
	done := map[string]bool{}
	for _, dir := range found {
		a := abs(dir)
		if done[a] {
			continue
		}
		done[a] = true
		switch {
		case kp.explicit[a]:
			kp.roots = append(kp.roots, dir)
		case read[a]:
		case isComponent(dir):
			// A Component only builds inside a kustomization that includes it.
			kp.notices = append(kp.notices, manifest.InputError{File: KustomizationFile(dir), Message: "kustomize Component that no kustomization includes; not built"})
		default:
			kp.roots = append(kp.roots, dir)
		}
		// The folder's own files: read by a kustomization, or a notice.
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			name := e.Name()
			f := filepath.Join(a, name)
			if e.IsDir() || strings.HasPrefix(name, ".") {
				continue
			}
			switch strings.ToLower(filepath.Ext(name)) {
			case ".yaml", ".yml", ".json":
			default:
				continue
			}
			kp.skip[f] = true
			if !consumed[f] && !isKustomizationName(name) {
				kp.notices = append(kp.notices, manifest.InputError{File: filepath.Join(dir, name), Message: "not listed by any kustomization (" + filepath.Base(KustomizationFile(dir)) + " beside it); not scanned"})
			}
		}
	}
	for f := range consumed {
		kp.skip[f] = true
	}
	sort.SliceStable(kp.notices, func(i, j int) bool { return kp.notices[i].File < kp.notices[j].File })
	return kp
}

// isComponent reports whether dir's kustomization is a kind: Component.
func isComponent(dir string) bool {
	data, err := os.ReadFile(KustomizationFile(dir)) //nolint:gosec // a file of the scanned tree
	if err != nil {
		return false
	}
	var k types.Kustomization
	return yaml.Unmarshal(data, &k) == nil && k.Kind == types.ComponentKind
}

func isKustomizationName(name string) bool {
	for _, n := range KustomizationFiles {
		if name == n {
			return true
		}
	}
	return false
}

// kustomizationRefs lists the local paths (absolute) a kustomization in dir
// reads: resources, bases, components, CRDs, patch files, replacement
// files, and generator and transformer configurations. Remote references
// are left to kustomize.
func kustomizationRefs(dir string) []string {
	data, err := os.ReadFile(KustomizationFile(dir)) //nolint:gosec // a file of the scanned tree
	if err != nil {
		return nil
	}
	var k types.Kustomization
	if yaml.Unmarshal(data, &k) != nil {
		return nil
	}
	var refs []string
	add := func(p string) {
		if p == "" || strings.Contains(p, "://") || strings.Contains(p, "?ref=") || strings.HasPrefix(p, "github.com/") {
			return
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		refs = append(refs, filepath.Clean(p))
	}
	for _, list := range [][]string{k.Resources, k.Bases, k.Components, k.Crds, k.Configurations, k.Generators, k.Transformers, k.Validators} {
		for _, p := range list {
			add(p)
		}
	}
	for _, p := range append(append([]types.Patch{}, k.Patches...), k.PatchesJson6902...) {
		add(p.Path)
	}
	for _, p := range k.PatchesStrategicMerge {
		if s := string(p); !strings.Contains(s, "\n") {
			add(s)
		}
	}
	for _, r := range k.Replacements {
		add(r.Path)
	}
	return refs
}
