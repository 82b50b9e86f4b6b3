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
	"github.com/rampart-k8s/rampart/pkg/source"
)

// ValuesFile is the name of the overrides file written beside a chart.
const ValuesFile = "rampart-values.yaml"

// Chart fixes a Helm chart without touching its templates: it writes the
// values overrides that make the render hardened (ValuesFile, in the chart
// folder; render with -f to use it) where the chart exposes the field, and
// lists the fields it does not expose.
func Chart(path string, helm source.HelmOptions, checks []check.Check, eopts engine.Options, opts Options) (*Result, error) {
	res := &Result{}
	overrides := map[string]any{}
	tmp, err := os.MkdirTemp("", "rampart-values")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	pending := map[string]Pending{}
	for pass := 0; pass < 5; pass++ {
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
			r, ok := recipeFor(f, o, "", opts)
			if !ok || r.extra != nil || f.CheckID == "default-service-account" {
				continue // fixes that generate objects are not made through values yet
			}
			key := f.CheckID + "|" + f.Object.String() + "|" + f.Field
			if r.breaking && !opts.Breaking {
				pending[key] = Pending{File: f.Location.File, CheckID: f.CheckID, Object: f.Object.String(), Reason: "breaking fix; run with --breaking: " + r.message}
				continue
			}
			var vals []string
			var ops []set
			exposed := true
			for _, s := range r.sets[0] {
				if s.ifMissing && o.Has(s.path) {
					continue // a value someone chose: non-breaking fixes leave it
				}
				ops = append(ops, s)
				hint := o.Hint(s.path)
				if s.op != opSet || hint == "" {
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
				if err := yaml.Unmarshal([]byte(s.value), &v); err != nil {
					return nil, err
				}
				if setNested(overrides, vals[i], v, s.ifMissing) {
					changed = true
				}
			}
			if changed {
				added = true
				delete(pending, key)
				res.Applied = append(res.Applied, Applied{File: filepath.Join(path, ValuesFile), CheckID: f.CheckID, Object: f.Object.String(), Message: r.message + " (values " + strings.Join(vals, ", ") + ")", Breaking: r.breaking})
			}
		}
		if !added {
			break
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
