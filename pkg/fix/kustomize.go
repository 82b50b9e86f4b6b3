package fix

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
	"github.com/rampart-k8s/rampart/pkg/source"
)

// Kustomization fixes a kustomization without touching its resources: it
// writes one strategic-merge patch per object (rampart-patch-<kind>-<name>.yaml)
// and adds it to the kustomization's patches. Fixes that remove fields or
// list items other than containers are listed as not made.
func Kustomization(dir string, checks []check.Check, eopts engine.Options, opts Options) (*Result, error) {
	eopts.Fixes, eopts.Resources = true, opts.Resources
	res := &Result{}
	kfile := source.KustomizationFile(dir)
	objs, errs, _ := source.Kustomize(dir)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %s", errs[0].File, errs[0].Message)
	}
	inv := inventory.New(objs)
	run := engine.Run(checks, inv, eopts)
	// A patch names its target by the name in the source file; when the
	// kustomization emits several objects of a kind from that name (an
	// aggregate of overlays that prefix one base), the patch would match
	// them all and kustomize refuses it.
	sameSource := map[string]int{}
	for _, o := range inv.Objects {
		sameSource[o.Kind+"/"+sourceName(o)]++
	}
	patches := map[*object.Object]map[string]any{}
	for _, f := range run.Findings {
		if !allowed(f.CheckID, opts) {
			continue
		}
		o := objectOf(inv, f)
		if o != nil && sameSource[o.Kind+"/"+sourceName(o)] > 1 {
			res.Pending = append(res.Pending, Pending{File: kfile, CheckID: f.CheckID, Object: f.Object.String(), Reason: "several " + o.Kind + "s come from " + sourceName(o) + " here; fix the overlays that emit them"})
			continue
		}
		r, ok := recipeOf(f)
		if !ok || len(r.extra) > 0 || r.rescan {
			continue // fixes that create objects, or bring findings of their own, are not made through patches yet
		}
		if r.breaking && !opts.Breaking {
			res.Pending = append(res.Pending, Pending{File: kfile, CheckID: f.CheckID, Object: f.Object.String(), Reason: "breaking fix; run with --breaking: " + r.message})
			continue
		}
		// Every part of a fix must be expressible, or none is written.
		made := true
		for _, s := range r.sets[0] {
			if s.Op != opSet || !patchSet(map[string]any{}, o, s) {
				made = false
				break
			}
		}
		p := patches[o]
		if p == nil {
			p = map[string]any{}
		}
		if made {
			for _, s := range r.sets[0] {
				patchSet(p, o, s)
			}
		}
		if !made {
			res.Pending = append(res.Pending, Pending{File: kfile, CheckID: f.CheckID, Object: f.Object.String(), Reason: "not expressible as a patch yet: " + r.message})
			continue
		}
		patches[o] = p
		res.Applied = append(res.Applied, Applied{File: kfile, CheckID: f.CheckID, Object: f.Object.String(), Message: r.message + " (patch)", Breaking: r.breaking})
	}
	var names []string
	byName := map[string]*object.Object{}
	for o := range patches {
		name := "rampart-patch-" + strings.ToLower(o.Kind) + "-" + sourceName(o) + ".yaml"
		names = append(names, name)
		byName[name] = o
	}
	sort.Strings(names)
	kdata, err := os.ReadFile(kfile) //nolint:gosec // the kustomization being fixed
	if err != nil {
		return nil, err
	}
	ktext := string(kdata)
	for _, name := range names {
		o := byName[name]
		p := patches[o]
		p["apiVersion"], p["kind"] = o.APIVersion, o.Kind
		p["metadata"] = map[string]any{"name": sourceName(o)}
		data, err := yaml.Marshal(p)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, name)
		before := ""
		if b, err := os.ReadFile(path); err == nil { //nolint:gosec // a patch this command owns
			before = string(b)
		}
		after := "# Written by rampart fix.\n" + string(data)
		if after != before {
			res.Files = append(res.Files, FileResult{Name: path, Before: before, After: after})
		}
		if !strings.Contains(ktext, name) {
			first := firstKeyLine(ktext)
			if out, changed, err := Append(ktext, first, "patches", "{path: "+name+"}"); err == nil && changed {
				ktext = out
			}
		}
	}
	if ktext != string(kdata) {
		res.Files = append(res.Files, FileResult{Name: kfile, Before: string(kdata), After: ktext})
	}
	return res, nil
}

func sourceName(o *object.Object) string {
	if o.SourceName != "" {
		return o.SourceName
	}
	return o.Name
}

func firstKeyLine(src string) int {
	for _, root := range parseDocuments(src) {
		if len(root.Content) > 0 {
			return root.Content[0].Line
		}
	}
	return 1
}

// patchSet writes a field into a strategic-merge patch; container list
// items are addressed by name, the list's merge key.
func patchSet(p map[string]any, o *object.Object, s set) bool {
	var v any
	if err := yaml.Unmarshal([]byte(s.Value), &v); err != nil {
		return false
	}
	segs := manifest.ParsePath(s.Path)
	cur := p
	for i := 0; i < len(segs); i++ {
		seg := segs[i]
		last := i == len(segs)-1
		if seg.Index >= 0 {
			return false // only container lists, handled below
		}
		if i+1 < len(segs) && segs[i+1].Index >= 0 {
			if seg.Key != "containers" && seg.Key != "initContainers" {
				return false
			}
			name := containerName(o, manifest.JoinIndex(pathOf(segs[:i+1]), segs[i+1].Index))
			if name == "" {
				return false
			}
			list, _ := cur[seg.Key].([]any)
			var item map[string]any
			for _, x := range list {
				if m, ok := x.(map[string]any); ok && m["name"] == name {
					item = m
				}
			}
			if item == nil {
				item = map[string]any{"name": name}
				list = append(list, item)
				cur[seg.Key] = list
			}
			cur = item
			i++ // skip the index
			if i == len(segs)-1 {
				return false
			}
			continue
		}
		if last {
			cur[seg.Key] = v
			return true
		}
		next, ok := cur[seg.Key].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[seg.Key] = next
		}
		cur = next
	}
	return false
}

func containerName(o *object.Object, path string) string {
	if o.Pod == nil {
		return ""
	}
	for _, c := range o.Pod.Containers() {
		if c.Path == path {
			return c.Name
		}
	}
	return ""
}
