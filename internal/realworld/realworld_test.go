package realworld

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/internal/cli"
	"github.com/rampart-k8s/rampart/pkg/source"
)

// TestCorpus runs Rampart on every chart, kustomize tree and bundle of the
// corpus and holds it to what helm, kustomize and kubectl do with them:
//   - the object count equals an independent render (the Helm SDK's install
//     action in client-only dry-run mode, split by Helm's own splitter; the
//     kustomize API; kubectl's YAML reader and sigs.k8s.io/yaml per document);
//   - input errors exactly where those tools fail too;
//   - every finding's line lies inside its own object's document;
//   - no two identical findings;
//   - fix --write leaves files that parse, a re-scan with no more findings,
//     and a second fix that changes nothing;
//   - rbac risky and netpol matrix answer without an input error.
//
// RAMPART_CORPUS_REPORT=FILE writes the per-input figures as Markdown rows.
func TestCorpus(t *testing.T) {
	var rows []string
	for _, m := range Corpus {
		dir, err := Fetch(m)
		if err != nil {
			t.Fatalf("fetching %s: %v", m.Path, err)
		}
		for _, in := range m.Inputs {
			name := m.Path + "@" + m.Version + "/" + in.Path
			t.Run(name, func(t *testing.T) {
				row := checkInput(t, Path(dir, in), in)
				rows = append(rows, fmt.Sprintf("| %s %s | %s | %s | %s |", m.Path, m.Version, in.Path, in.Kind, row))
			})
		}
	}
	if f := os.Getenv("RAMPART_CORPUS_REPORT"); f != "" {
		if err := os.WriteFile(f, []byte(strings.Join(rows, "\n")+"\n"), 0o600); err != nil {
			t.Error(err)
		}
	}
}

type report struct {
	Findings []struct {
		CheckID  string `json:"checkID"`
		Message  string `json:"message"`
		Field    string `json:"field"`
		Severity string `json:"severity"`
		Object   struct {
			Kind, Namespace, Name string
		} `json:"object"`
		Location *struct {
			File         string
			Line, Column int
		} `json:"location"`
	} `json:"findings"`
	Errors []struct {
		File, Message string
		Line          int
	} `json:"errors"`
	Summary struct {
		Objects, Findings int
	} `json:"summary"`
}

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func scanJSON(t *testing.T, args ...string) (report, int) {
	t.Helper()
	out, errs, code := run(t, append(append([]string{"scan"}, args...), "-o", "json", "--fail-on", "none")...)
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("scan %v: %v\n%s", args, err, errs)
	}
	return r, code
}

// checkInput runs the assertions on one input and returns its figures.
func checkInput(t *testing.T, src string, in Input) string {
	work := t.TempDir()
	root, rel := src, ""
	if in.Root != "" {
		root = filepath.Join(strings.TrimSuffix(src, filepath.FromSlash(in.Path)), filepath.FromSlash(in.Root))
		rel, _ = filepath.Rel(root, src)
	}
	if err := copyTree(root, filepath.Join(work, filepath.Base(root))); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(work, filepath.Base(root), rel)
	want, failing := expect(t, path, in.Kind)

	start := time.Now()
	got, code := scanJSON(t, path)
	elapsed := time.Since(start)

	// Counts and errors against the independent tools.
	if got.Summary.Objects != want {
		t.Errorf("objects: rampart %d, independent render %d", got.Summary.Objects, want)
	}
	reported := map[string]bool{}
	for _, e := range got.Errors {
		reported[filepath.Clean(e.File)] = true
		if len(failing) > 0 && strings.HasPrefix(e.Message, "no Kubernetes object found") {
			continue // what is left of an input that failed as a whole
		}
		if !failing[filepath.Clean(e.File)] {
			t.Errorf("input error where the tools accept the input: %s:%d: %s", e.File, e.Line, e.Message)
		}
	}
	for f := range failing {
		if !reported[f] {
			t.Errorf("%s fails with the independent tool, and Rampart says nothing", f)
		}
	}
	if (code == 2) != (len(failing) > 0) {
		t.Errorf("exit %d with %d expected failures", code, len(failing))
	}

	// Findings: no duplicates, each inside its own object's document.
	seen := map[string]bool{}
	lines := fileLines{}
	for _, f := range got.Findings {
		b, _ := json.Marshal(f)
		if seen[string(b)] {
			t.Errorf("duplicate finding: %s", b)
		}
		seen[string(b)] = true
		if f.Location == nil || f.Location.File == "" {
			t.Errorf("finding without a file: %s", b)
			continue
		}
		if msg := lines.check(f.Location.File, f.Location.Line, f.Object.Kind); msg != "" {
			t.Errorf("%s %s/%s at %s:%d: %s", f.CheckID, f.Object.Kind, f.Object.Name, f.Location.File, f.Location.Line, msg)
		}
	}

	// The analyzers read the same input.
	for _, args := range [][]string{{"rbac", "risky", path}, {"netpol", "matrix", path}} {
		_, stderr, code := run(t, args...)
		if code == 2 && len(failing) == 0 {
			t.Errorf("%s %s: exit 2: %s", args[0], args[1], firstLine(stderr))
		}
	}

	// fix: files that parse, no more findings, a second run changes nothing.
	fixNote := "-"
	if len(failing) == 0 {
		_, stderr, code := run(t, "fix", path, "--write")
		if code != 0 {
			t.Errorf("fix --write: exit %d: %s", code, stderr)
		}
		rescanArgs := []string{path}
		if in.Kind == Chart {
			if _, err := os.Stat(filepath.Join(path, "rampart-values.yaml")); err == nil {
				rescanArgs = append(rescanArgs, "-f", filepath.Join(path, "rampart-values.yaml"))
			}
		}
		if gen := filepath.Join(filepath.Dir(path), "rampart-generated.yaml"); in.Kind == Bundle {
			if _, err := os.Stat(gen); err == nil {
				rescanArgs = append(rescanArgs, gen)
			}
		}
		after, _ := scanJSON(t, rescanArgs...)
		if len(after.Errors) > 0 {
			t.Errorf("after fix --write, input errors: %+v", after.Errors)
		}
		if after.Summary.Findings > got.Summary.Findings {
			t.Errorf("after fix --write, %d findings (before %d)", after.Summary.Findings, got.Summary.Findings)
		}
		_, stderr, _ = run(t, "fix", path)
		if !strings.Contains(stderr, "would change 0 files") {
			t.Errorf("a second fix changes something: %s", lastLine(stderr))
		}
		fixNote = fmt.Sprintf("%d → %d", got.Summary.Findings, after.Summary.Findings)
	}
	t.Logf("%d objects, %d findings, %d errors, %v; fix %s", got.Summary.Objects, got.Summary.Findings, len(got.Errors), elapsed.Round(time.Millisecond), fixNote)
	return fmt.Sprintf("%d | %d | %d | %s | %s", got.Summary.Objects, got.Summary.Findings, len(got.Errors), fixNote, in.Why)
}

// expect renders an input with the tools users have and returns the number
// of objects they produce and the files (Chart.yaml, kustomization files,
// bundles) where they fail.
func expect(t *testing.T, path string, kind Kind) (int, map[string]bool) {
	failing := map[string]bool{}
	switch kind {
	case Chart:
		n, err := helmTemplate(path)
		if err != nil {
			failing[filepath.Join(path, "Chart.yaml")] = true
		}
		return n, failing
	case Bundle:
		n, err := kubectlCount(path)
		if err != nil {
			t.Fatalf("kubectl's reader fails on %s: %v", path, err)
		}
		return n, failing
	}
	// A tree: its roots (kustomizations no other one includes, not
	// components), charts, and the plain files no kustomization reads.
	var kdirs, charts, plain []string
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "Chart.yaml")); err == nil {
				charts = append(charts, p)
				return fs.SkipDir
			}
			if source.KustomizationFile(p) != "" {
				kdirs = append(kdirs, p)
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			if !strings.HasPrefix(d.Name(), ".") {
				plain = append(plain, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	included, read := map[string]bool{}, map[string]bool{}
	components := map[string]bool{}
	for _, k := range kdirs {
		var kz types.Kustomization
		data, _ := os.ReadFile(source.KustomizationFile(k))
		if err := sigsyaml.Unmarshal(data, &kz); err != nil {
			continue
		}
		if kz.Kind == types.ComponentKind {
			components[k] = true
		}
		refs := append(append(append(append([]string{}, kz.Resources...), kz.Bases...), kz.Components...), kz.Crds...)
		for _, p := range kz.Patches {
			refs = append(refs, p.Path)
		}
		for _, p := range kz.PatchesJson6902 {
			refs = append(refs, p.Path)
		}
		for _, p := range kz.PatchesStrategicMerge {
			refs = append(refs, string(p))
		}
		for _, r := range append(append(refs, kz.Configurations...), kz.Transformers...) {
			if r == "" || strings.Contains(r, "\n") {
				continue // an inline patch
			}
			full := filepath.Clean(filepath.Join(k, r))
			if st, err := os.Stat(full); err == nil && st.IsDir() {
				included[full] = true
			} else if err == nil {
				read[full] = true
			}
		}
	}
	n := 0
	for _, k := range kdirs {
		if included[k] || components[k] {
			continue
		}
		m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), k)
		if err != nil {
			failing[source.KustomizationFile(k)] = true
			continue
		}
		n += len(m.Resources())
		t.Logf("root %s: %d objects", k, len(m.Resources()))
	}
	for _, c := range charts {
		m, err := helmTemplate(c)
		if err != nil {
			failing[filepath.Join(c, "Chart.yaml")] = true
		}
		n += m
	}
	isKdir := map[string]bool{}
	for _, k := range kdirs {
		isKdir[k] = true
	}
	for _, f := range plain {
		if read[f] || isKdir[filepath.Dir(f)] || underAny(f, charts) {
			continue
		}
		m, err := kubectlCount(f)
		if err != nil || m == 0 {
			failing[f] = true
		}
		t.Logf("plain %s: %d objects", f, m)
		n += m
	}
	return n, failing
}

func underAny(f string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(f, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// helmTemplate counts the objects helm template renders for a chart with
// its default values: the Helm SDK's engine, then Helm's own manifest
// sorter and splitter (releaseutil), as the install action runs them, chart
// tests left out; a dependency Chart.yaml names but charts/ lacks fails, as
// the helm command checks.
func helmTemplate(dir string) (int, error) {
	_, n, err := helmRender(dir)
	return n, err
}

// helmRender is what `helm template` writes for the chart at dir (tests
// left out), and how many objects it holds.
func helmRender(dir string) (string, int, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return "", 0, err
	}
	for _, d := range ch.Metadata.Dependencies {
		found := false
		for _, c := range ch.Dependencies() {
			found = found || c.Name() == d.Name
		}
		if !found {
			return "", 0, fmt.Errorf("dependency %s missing in charts/", d.Name)
		}
	}
	kv, err := chartutil.ParseKubeVersion(source.DefaultKubeVersion())
	if err != nil {
		return "", 0, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	if c := ch.Metadata.KubeVersion; c != "" && !chartutil.IsCompatibleRange(c, kv.String()) {
		return "", 0, fmt.Errorf("kubeVersion %s", c)
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, map[string]any{}); err != nil {
		return "", 0, err
	}
	vals, err := chartutil.ToRenderValues(ch, map[string]any{}, chartutil.ReleaseOptions{Name: "release", Namespace: "default", Revision: 1, IsInstall: true}, caps)
	if err != nil {
		return "", 0, err
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		return "", 0, err
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return "", 0, err
	}
	n := 0
	var text strings.Builder
	for _, m := range manifests {
		n += objectsIn([]byte(m.Content))
		text.WriteString("---\n# Source: " + m.Name + "\n" + m.Content + "\n")
	}
	for _, h := range hooks {
		test := false
		for _, e := range h.Events {
			test = test || e == release.HookTest
		}
		if !test {
			n += objectsIn([]byte(h.Manifest))
			text.WriteString("---\n# Source: " + h.Path + "\n" + h.Manifest + "\n")
		}
	}
	return text.String(), n, nil
}

// kubectlCount counts the objects of a file as kubectl reads it.
func kubectlCount(file string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := yaml.NewYAMLReader(bufio.NewReaderSize(f, 1<<20))
	n := 0
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += objectsIn(doc)
	}
}

// objectsIn counts the objects of one document (a List's items).
func objectsIn(doc []byte) int {
	var m map[string]any
	if err := sigsyaml.Unmarshal(doc, &m); err != nil || len(m) == 0 {
		return 0
	}
	if kind, _ := m["kind"].(string); strings.HasSuffix(kind, "List") {
		if items, ok := m["items"].([]any); ok {
			n := 0
			for _, it := range items {
				b, _ := sigsyaml.Marshal(it)
				n += objectsIn(b)
			}
			return n
		}
	}
	if _, ok := m["kind"]; !ok {
		return 0
	}
	return 1
}

// fileLines checks that a finding's line lies in a document of its
// object's kind: in plain files the "---" document that holds the line must
// say kind: KIND; in Helm templates, where kinds can come from values and
// helpers, the line must lie in the file.
type fileLines map[string][]string

var kindLine = regexp.MustCompile(`^kind:\s*["']?([A-Za-z0-9]+)`)

func (c fileLines) check(file string, line int, kind string) string {
	ls, ok := c[file]
	if !ok {
		data, err := os.ReadFile(file)
		if err != nil {
			return err.Error()
		}
		ls = strings.Split(string(data), "\n")
		c[file] = ls
	}
	if line < 1 || line > len(ls) {
		return fmt.Sprintf("line outside the file (%d lines)", len(ls))
	}
	if strings.Contains(filepath.ToSlash(file), "/templates/") || strings.HasSuffix(file, ".json") {
		return ""
	}
	start, end := line-1, line-1
	for start > 0 && !strings.HasPrefix(ls[start], "---") {
		start--
	}
	for end < len(ls)-1 && !strings.HasPrefix(ls[end+1], "---") {
		end++
	}
	var kinds []string
	for _, l := range ls[start : end+1] {
		if m := kindLine.FindStringSubmatch(strings.TrimSpace(l)); m != nil && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
			// A kustomize patch can turn a ClusterRole into a Role (as
			// argo-rollouts' namespace install does): the object comes from
			// that document all the same.
			if m[1] == kind || strings.TrimPrefix(m[1], "Cluster") == strings.TrimPrefix(kind, "Cluster") {
				return ""
			}
			kinds = append(kinds, m[1])
		}
	}
	if len(kinds) == 0 {
		return "" // a List, or a document whose kind an overlay sets
	}
	sort.Strings(kinds)
	return "the document at that line is a " + strings.Join(kinds, ", ")
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
