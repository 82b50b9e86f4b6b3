package source

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
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
	// IncludeTests keeps chart tests (helm.sh/hook: test), left out by default.
	IncludeTests bool
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
// subcharts included, and returns the objects of every template, cut into
// documents exactly as Helm cuts them. Findings point at the template line
// that wrote the field; where a field is written from a value, the finding
// names the values key to change. Chart test hooks are left out unless
// opts.IncludeTests.
func RenderChart(path string, opts HelmOptions) ([]*manifest.Object, []manifest.InputError) {
	ch, rendered, ierr := render(path, opts)
	if ierr != nil {
		return nil, []manifest.InputError{*ierr}
	}
	return objectsOf(path, ch, rendered, opts)
}

// RenderChartText is what `helm template` prints for the chart at path:
// every rendered manifest after a "# Source:" comment, in template order
// (tests left out unless opts.IncludeTests).
func RenderChartText(path string, opts HelmOptions) (string, []manifest.InputError) {
	ch, rendered, ierr := render(path, opts)
	if ierr != nil {
		return "", []manifest.InputError{*ierr}
	}
	objs, errs := objectsOf(path, ch, rendered, opts) // what the manifests hold, and their errors
	if len(errs) > 0 {
		return "", errs
	}
	keep := map[string]bool{}
	for _, o := range objs {
		keep[o.File] = true
	}
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		if !keep[filepath.Join(path, strings.TrimPrefix(n, ch.Name()+"/"))] {
			continue
		}
		b.WriteString("---\n# Source: " + n + "\n" + strings.TrimSpace(rendered[n]) + "\n")
	}
	return b.String(), nil
}

// render loads and renders the chart at path, as helm template does.
func render(path string, opts HelmOptions) (*chart.Chart, map[string]string, *manifest.InputError) {
	where := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		where = filepath.Join(path, "Chart.yaml")
	}
	fail := func(file string, line int, format string, args ...any) (*chart.Chart, map[string]string, *manifest.InputError) {
		return nil, nil, &manifest.InputError{File: file, Line: line, Message: fmt.Sprintf(format, args...)}
	}
	ch, err := loader.Load(path)
	if err != nil {
		return fail(where, 1, "loading the chart: %v", err)
	}
	if missing := missingDependencies(ch); len(missing) > 0 {
		// What helm template says; rendering without them would scan half the chart.
		return fail(where, 1, "found in Chart.yaml, but missing in charts/ directory: %s (run helm dependency build)", strings.Join(missing, ", "))
	}
	vals := map[string]any{}
	for _, f := range opts.ValueFiles {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return fail(f, valuesErrorLine(err), "reading values: %s", redactValuesError(err))
		}
		vals = chartutil.CoalesceTables(v.AsMap(), vals)
	}
	for i, s := range opts.Set {
		if err := strvals.ParseInto(s, vals); err != nil {
			// The argument may hold a secret: name its keys, never its value.
			return fail("--set", 0, "argument %d (%s) is not key=value[,key=value]", i+1, setKeys(s))
		}
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return fail(where, 1, "resolving subcharts: %v", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kubeVersion := opts.KubeVersion
	if kubeVersion == "" {
		kubeVersion = DefaultKubeVersion()
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return fail("--kube-version", 0, "%v", err)
	}
	caps.KubeVersion = *kv
	if c := ch.Metadata.KubeVersion; c != "" && !chartutil.IsCompatibleRange(c, kv.String()) {
		return fail(where, 1, "chart requires kubeVersion %s, which Kubernetes %s is not (set --kube-version)", c, kv.String())
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
		return fail(where, 1, "computing values: %v", err)
	}
	rendered, err := engine.Render(ch, rv)
	if err != nil {
		return fail(where, 1, "rendering templates: %v", err)
	}
	return ch, rendered, nil
}

// objectsOf reads the rendered templates of ch as manifests, each object
// pointed at its template's lines.
func objectsOf(path string, ch *chart.Chart, rendered map[string]string, opts HelmOptions) ([]*manifest.Object, []manifest.InputError) {
	sources := templateSources(ch, ch.Name())
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []*manifest.Object
	var errs []manifest.InputError
	for _, n := range names {
		if strings.HasPrefix(filepath.Base(n), "_") || strings.TrimSpace(rendered[n]) == "" {
			continue // partials, and templates switched off by their values (as Helm)
		}
		if strings.HasSuffix(n, "NOTES.txt") {
			continue // printed after install, not applied (as Helm)
		}
		file := filepath.Join(path, strings.TrimPrefix(n, ch.Name()+"/"))
		var tpl *template
		if src, ok := sources[n]; ok {
			tpl = newTemplate(src)
		}
		for _, piece := range splitHelm(rendered[n]) {
			parsed, perrs := manifest.ParseAt(file, []byte(piece.text), piece.line)
			var m *mapping
			if tpl != nil && len(parsed)+len(perrs) > 0 {
				m = tpl.place(piece)
			}
			for i := range perrs {
				// The line is one of the output's; the file is the template's:
				// point at the template document that rendered it.
				perrs[i].Message = fmt.Sprintf("rendered template (output line %d): %s", perrs[i].Line, perrs[i].Message)
				perrs[i].Line = 1
				if m != nil {
					perrs[i].Line = m.regionStart()
				}
			}
			errs = append(errs, perrs...)
			if len(parsed) == 0 {
				continue // only comments or white space: Helm skips it too
			}
			for _, o := range parsed {
				if !opts.IncludeTests && isTestHook(o) {
					continue
				}
				if m != nil {
					o.SetLocator(m.locator(o, valuesPrefix(n, ch.Name())))
				}
				objs = append(objs, o)
			}
		}
	}
	return objs, errs
}

// DefaultKubeVersion is the Kubernetes version charts are rendered for when
// --kube-version is not given: the one whose API this build reads (from
// the k8s.io/api module it was built with), as a helm release of the same
// Kubernetes generation would say (a module build of Helm says v1.20).
func DefaultKubeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/api" && strings.HasPrefix(d.Version, "v0.") {
				return "v1." + strings.TrimPrefix(d.Version, "v0.")
			}
		}
	}
	return "v1.37.0"
}

// missingDependencies lists the dependencies Chart.yaml names that are not
// in charts/, as helm template's check does (whatever their condition).
func missingDependencies(ch *chart.Chart) []string {
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	var missing []string
	for _, d := range ch.Metadata.Dependencies {
		if d != nil && !have[d.Name] {
			missing = append(missing, d.Name)
		}
	}
	return missing
}

// isTestHook reports whether an object is a chart test (helm.sh/hook: test).
func isTestHook(o *manifest.Object) bool {
	var anns map[string]string
	if m, ok := o.Typed.(interface{ GetAnnotations() map[string]string }); ok {
		anns = m.GetAnnotations()
	} else {
		o.Decode("metadata.annotations", &anns)
	}
	for _, h := range strings.Split(anns["helm.sh/hook"], ",") {
		switch strings.TrimSpace(h) {
		case "test", "test-success", "test-failure":
			return true
		}
	}
	return false
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\]]+$`)

// setKeys names the keys of a --set argument without any value.
func setKeys(arg string) string {
	var keys []string
	for _, part := range strings.Split(arg, ",") {
		k, _, ok := strings.Cut(part, "=")
		if ok && plainKey.MatchString(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "no key found"
	}
	return "keys " + strings.Join(keys, ", ")
}

var yamlErrLine = regexp.MustCompile(`line (\d+)`)

func valuesErrorLine(err error) int {
	if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// redactValuesError keeps a values file's parse error but cuts any quoted
// text from it (YAML errors can quote the offending value).
func redactValuesError(err error) string {
	msg := err.Error()
	msg = regexp.MustCompile(`"[^"]*"|'[^']*'|`+"`[^`]*`").ReplaceAllString(msg, "…")
	return msg
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
