package source

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/strvals"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// HelmOptions are helm template's options that change the render.
type HelmOptions struct {
	ValueFiles  []string // -f, in order; later files win
	Set         []string // --set key=value, applied last
	ReleaseName string   // default "release"
	Namespace   string   // default "default"
	KubeVersion string   // default: Helm's default capabilities
}

// IsChart reports whether path is a chart folder (with Chart.yaml) or a
// packaged chart (.tgz).
func IsChart(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	if st.IsDir() {
		_, err := os.Stat(filepath.Join(path, "Chart.yaml"))
		return err == nil
	}
	return strings.HasSuffix(path, ".tgz") || strings.HasSuffix(path, ".tar.gz")
}

// RenderChart renders a chart in-process with the Helm SDK (no helm binary),
// subcharts included, and returns the objects of every template. Findings
// point at the template that produced an object; where a field is written
// from a value, the finding names the values key to change.
func RenderChart(path string, opts HelmOptions) ([]*manifest.Object, []manifest.InputError) {
	where := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		where = filepath.Join(path, "Chart.yaml")
	}
	fail := func(format string, args ...any) ([]*manifest.Object, []manifest.InputError) {
		return nil, []manifest.InputError{{File: where, Line: 1, Message: fmt.Sprintf(format, args...)}}
	}
	ch, err := loader.Load(path)
	if err != nil {
		return fail("loading the chart: %v", err)
	}
	vals := map[string]any{}
	for _, f := range opts.ValueFiles {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return fail("reading values %s: %v", f, err)
		}
		vals = chartutil.CoalesceTables(v.AsMap(), vals)
	}
	for _, s := range opts.Set {
		if err := strvals.ParseInto(s, vals); err != nil {
			return fail("--set %s: %v", s, err)
		}
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return fail("resolving subcharts: %v", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	if opts.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(opts.KubeVersion)
		if err != nil {
			return fail("--kube-version: %v", err)
		}
		caps.KubeVersion = *kv
	}
	release := chartutil.ReleaseOptions{Name: opts.ReleaseName, Namespace: opts.Namespace, Revision: 1, IsInstall: true}
	if release.Name == "" {
		release.Name = "release"
	}
	if release.Namespace == "" {
		release.Namespace = "default"
	}
	rv, err := chartutil.ToRenderValues(ch, vals, release, caps)
	if err != nil {
		return fail("computing values: %v", err)
	}
	rendered, err := engine.Render(ch, rv)
	if err != nil {
		return fail("rendering templates: %v", err)
	}
	sources := templateSources(ch, ch.Name())
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []*manifest.Object
	var errs []manifest.InputError
	for _, n := range names {
		base := filepath.Base(n)
		ext := filepath.Ext(n)
		if strings.HasPrefix(base, "_") || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		if strings.TrimSpace(rendered[n]) == "" {
			continue // a template switched off by its values
		}
		file := filepath.Join(path, strings.TrimPrefix(n, ch.Name()+"/"))
		parsed, perrs := manifest.Parse(file, []byte(rendered[n]))
		for i := range perrs {
			perrs[i].Message = "rendered template: " + perrs[i].Message
		}
		errs = append(errs, perrs...)
		for _, o := range parsed {
			if tpl, ok := sources[n]; ok {
				o.SetLocator(templateLocator(tpl, o.Kind, valuesPrefix(n, ch.Name())))
			}
			if o.Namespace == "" && o.Typed != nil {
				o.Namespace = release.Namespace // what helm install -n does
			}
			objs = append(objs, o)
		}
	}
	return objs, errs
}

// templateSources maps rendered names (chart/templates/x.yaml,
// chart/charts/sub/templates/y.yaml) to template text.
func templateSources(ch *chart.Chart, prefix string) map[string]string {
	out := map[string]string{}
	for _, t := range ch.Templates {
		out[prefix+"/"+t.Name] = string(t.Data)
	}
	for _, dep := range ch.Dependencies() {
		for k, v := range templateSources(dep, prefix+"/charts/"+dep.Name()) {
			out[k] = v
		}
	}
	return out
}

var valuesRef = regexp.MustCompile(`\.Values\.([A-Za-z0-9_.]+)`)

// templateLocator finds a field in template text: from the object's
// "kind:" line, it looks for each key of the path in turn, deeper than the
// last one found; the deepest key found gives the line. A .Values reference
// on that line, or on the next when the key's value is a block, names the
// values key.
func templateLocator(tpl, kind, prefix string) func(path string) (int, int, string) {
	lines := strings.Split(tpl, "\n")
	start := 0
	for i, l := range lines {
		if strings.TrimSpace(l) == "kind: "+kind {
			start = i
			break
		}
	}
	return func(path string) (int, int, string) {
		line, col := start+1, 1
		from := start
		var missing []string
		for _, seg := range manifest.ParsePath(path) {
			if seg.Index >= 0 {
				continue
			}
			if len(missing) > 0 {
				missing = append(missing, seg.Key)
				continue
			}
			found := false
			for i := from; i < len(lines); i++ {
				t := strings.TrimLeft(lines[i], " -")
				if strings.HasPrefix(t, seg.Key+":") {
					line, col = i+1, len(lines[i])-len(strings.TrimLeft(lines[i], " "))+1
					from, found = i+1, true
					break
				}
			}
			if !found {
				missing = append(missing, seg.Key)
			}
		}
		// The field's own line names its values key; for a field the
		// template does not write, a block written from values
		// ({{ toYaml .Values.x }}) under its deepest existing parent does.
		hint := ""
		if len(missing) == 0 {
			if m := valuesRef.FindStringSubmatch(lines[line-1]); m != nil {
				hint = prefix + m[1]
			}
		} else if line < len(lines) && strings.Contains(lines[line], "toYaml") {
			if m := valuesRef.FindStringSubmatch(lines[line]); m != nil {
				hint = prefix + m[1] + "." + strings.Join(missing, ".")
			}
		}
		return line, col, hint
	}
}

// valuesPrefix is the values path of a subchart's values in its parent's
// values ("cache." for shop/charts/cache/templates/x.yaml).
func valuesPrefix(rendered, chartName string) string {
	rest := strings.TrimPrefix(rendered, chartName+"/")
	var prefix string
	for strings.HasPrefix(rest, "charts/") {
		rest = strings.TrimPrefix(rest, "charts/")
		sub, after, ok := strings.Cut(rest, "/")
		if !ok {
			break
		}
		prefix += sub + "."
		rest = after
	}
	return prefix
}
