package fix

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/source"
)

// ValuesFile is the name of the overrides file written beside a chart.
const ValuesFile = "rampart-values.yaml"

// Chart fixes a Helm chart without touching its templates: it writes the
// values overrides that make the render hardened (ValuesFile, in the chart
// folder; render with -f to use it) where the chart exposes the field, and
// lists the fields it does not expose.
func Chart(path string, helm source.HelmOptions, checks []check.Check, eopts engine.Options, opts Options) (*Result, error) {
	eopts.Fixes, eopts.Resources = true, opts.Resources
	res := &Result{}
	overrides := map[string]any{}
	tmp, err := os.MkdirTemp("", "rampart-values")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	pending := map[string]Pending{}
	failed := map[string]bool{} // fixes whose values the render showed to have no effect
	for pass := 0; pass < 5; pass++ {
		before := cloneValues(overrides)
		var tried []valuesFix
		values := filepath.Join(tmp, "values.yaml")
		if err := writeValues(values, overrides); err != nil {
			return nil, err
		}
		h := helm
		h.ValueFiles = append(append([]string{}, helm.ValueFiles...), values)
		objs, errs := source.RenderChart(path, h)
		if len(errs) > 0 {
			return nil, fmt.Errorf("rendering %s: %s", path, errs[0].Message)
		}
		inv := inventory.New(objs)
		run := engine.Run(checks, inv, eopts)
		added := false
		for _, f := range run.Findings {
			if !allowed(f.CheckID, opts) {
				continue
			}
			o := objectOf(inv, f)
			r, ok := recipeOf(f)
			if !ok || len(r.extra) > 0 || r.rescan {
				continue // fixes that create objects, or bring findings of their own, are not made through values yet
			}
			key := f.CheckID + "|" + f.Object.String() + "|" + f.Field
			if failed[key] {
				continue
			}
			if r.breaking && !opts.Breaking {
				pending[key] = Pending{File: f.Location.File, CheckID: f.CheckID, Object: f.Object.String(), Reason: "breaking fix; run with --breaking: " + r.message}
				continue
			}
			var vals []string
			var ops []set
			exposed := true
			for _, s := range r.sets[0] {
				if s.IfMissing && o.Has(s.Path) {
					continue // a value someone chose: non-breaking fixes leave it
				}
				ops = append(ops, s)
				hint := o.Hint(s.Path)
				if s.Op != opSet || hint == "" {
					exposed = false
					break
				}
				vals = append(vals, hint)
			}
			if !exposed || len(ops) == 0 {
				if len(ops) == 0 {
					continue
				}
				pending[key] = Pending{File: f.Location.File, CheckID: f.CheckID, Object: f.Object.String(), Reason: "the chart exposes no value for " + f.Field}
				continue
			}
			changed := false
			for i, s := range ops {
				var v any
				if err := yaml.Unmarshal([]byte(s.Value), &v); err != nil {
					return nil, err
				}
				if setNested(overrides, vals[i], v, s.IfMissing) {
					changed = true
				}
			}
			if changed {
				added = true
				delete(pending, key)
				tried = append(tried, valuesFix{key: key, finding: f, ops: ops, vals: vals,
					applied: Applied{File: filepath.Join(path, ValuesFile), CheckID: f.CheckID, Object: f.Object.String(), Message: r.message + " (values " + strings.Join(vals, ", ") + ")", Breaking: r.breaking}})
			}
		}
		if !added {
			break
		}
		// Render with the new values and compare: a value the chart does
		// not use for the field (gated on another key, overridden by a
		// default, written elsewhere) is taken back and listed.
		if err := writeValues(values, overrides); err != nil {
			return nil, err
		}
		rendered, errs := source.RenderChart(path, h)
		if len(errs) > 0 {
			return nil, fmt.Errorf("rendering %s with the overrides: %s", path, errs[0].Message)
		}
		after := inventory.New(rendered)
		var reverted []valuesFix
		for _, t := range tried {
			if took(after, t) {
				res.Applied = append(res.Applied, t.applied)
				continue
			}
			failed[t.key] = true
			reverted = append(reverted, t)
			pending[t.key] = Pending{File: t.finding.Location.File, CheckID: t.finding.CheckID, Object: t.finding.Object.String(),
				Reason: "the chart does not expose " + t.finding.Field + ": rendered with " + strings.Join(t.vals, ", ") + " set, the field did not change"}
		}
		if len(reverted) > 0 {
			// Start the pass's values again without the fixes that failed.
			overrides = before
			for _, t := range tried {
				if failed[t.key] {
					continue
				}
				for i, s := range t.ops {
					var v any
					if err := yaml.Unmarshal([]byte(s.Value), &v); err != nil {
						return nil, err
					}
					setNested(overrides, t.vals[i], v, s.IfMissing)
				}
			}
		}
	}
	for _, p := range pending {
		res.Pending = append(res.Pending, p)
	}
	sort.Slice(res.Pending, func(i, j int) bool {
		return res.Pending[i].Object+res.Pending[i].CheckID < res.Pending[j].Object+res.Pending[j].CheckID
	})
	if len(overrides) == 0 {
		return res, nil
	}
	data, err := yaml.Marshal(overrides)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(path, ValuesFile)
	text := "# Values overrides written by rampart fix: render with -f " + ValuesFile + ".\n" + string(data)
	before := ""
	if b, err := os.ReadFile(out); err == nil { //nolint:gosec // the file this command owns
		before = string(b)
	}
	if text != before {
		res.Files = append(res.Files, FileResult{Name: out, Before: before, After: text})
	}
	return res, nil
}

// valuesFix is a fix made through values, before the render confirms it.
type valuesFix struct {
	key     string
	finding check.Finding
	ops     []set
	vals    []string
	applied Applied
}

// took reports whether, in the render with the overrides, every field the
// fix sets holds the value it set.
func took(inv *inventory.Inventory, t valuesFix) bool {
	ref := t.finding.Object
	o := inv.Find(ref.Kind, ref.Namespace, ref.Name)
	if o == nil || o.Typed == nil {
		return false
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o.Typed)
	if err != nil {
		return false
	}
	for _, s := range t.ops {
		var want any
		if err := yaml.Unmarshal([]byte(s.Value), &want); err != nil {
			return false
		}
		got, ok := fieldValue(obj, s.Path)
		if !ok {
			// Typed objects omit empty fields: false, 0 and "" are unset.
			if want == false || want == float64(0) || want == "" {
				continue
			}
			return false
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			return false
		}
	}
	return true
}

// fieldValue walks a field path in an unstructured object.
func fieldValue(obj map[string]any, path string) (any, bool) {
	var cur any = obj
	for _, seg := range manifest.ParsePath(path) {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg.Key]
			if !ok || seg.Index >= 0 {
				return nil, false
			}
			cur = v
		case []any:
			if seg.Index < 0 || seg.Index >= len(c) {
				return nil, false
			}
			cur = c[seg.Index]
		default:
			return nil, false
		}
	}
	return cur, true
}

func cloneValues(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = cloneValues(sub)
		}
		out[k] = v
	}
	return out
}

func writeValues(path string, m map[string]any) error {
	data, err := yaml.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// setNested sets a dotted key; with ifMissing it keeps an existing value.
func setNested(m map[string]any, key string, v any, ifMissing bool) bool {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	last := parts[len(parts)-1]
	if _, ok := m[last]; ok && ifMissing {
		return false
	}
	old, had := m[last]
	m[last] = v
	return !had || fmt.Sprint(old) != fmt.Sprint(v)
}
