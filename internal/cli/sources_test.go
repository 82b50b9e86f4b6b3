package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

type locatedFinding struct {
	CheckID string `json:"checkID"`
	Message string `json:"message"`
	Object  struct {
		Kind, Namespace, Name string
	} `json:"object"`
	Location struct {
		File string `json:"file"`
		Line int    `json:"line"`
	} `json:"location"`
}

func scanFindings(t *testing.T, args ...string) ([]locatedFinding, run) {
	t.Helper()
	r := rampart(t, "", append(append([]string{"scan"}, args...), "-o", "json", "--fail-on", "none")...)
	var doc struct {
		Findings []locatedFinding `json:"findings"`
		Errors   []struct {
			File, Message string
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, r.stderr)
	}
	return doc.Findings, r
}

func find(fs []locatedFinding, id string) []locatedFinding {
	var out []locatedFinding
	for _, f := range fs {
		if f.CheckID == id {
			out = append(out, f)
		}
	}
	return out
}

var helmDir = filepath.Join("..", "..", "pkg", "source", "testdata", "helm")

func TestHelmChart(t *testing.T) {
	chart := filepath.Join(helmDir, "shop")
	tests := []struct {
		name          string
		args          []string
		wantPrivilege bool
		wantSubchart  bool
	}{
		{"defaults", nil, false, true},
		{"values file", []string{"-f", filepath.Join(chart, "values-prod.yaml")}, true, true},
		{"--set wins", []string{"-f", filepath.Join(chart, "values-prod.yaml"), "--set", "securityContext.privileged=false,cache.enabled=false"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, r := scanFindings(t, append([]string{chart, "--release-name", "prod", "-n", "shop"}, tt.args...)...)
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			priv := find(fs, "pss-privileged")
			if (len(priv) > 0) != tt.wantPrivilege {
				t.Fatalf("pss-privileged findings %v, want %v", priv, tt.wantPrivilege)
			}
			if tt.wantPrivilege {
				f := priv[0]
				if !strings.HasSuffix(f.Location.File, filepath.Join("shop", "templates", "deployment.yaml")) || f.Location.Line != 22 {
					t.Errorf("privileged at %s:%d, want templates/deployment.yaml:22", f.Location.File, f.Location.Line)
				}
				if !strings.Contains(f.Message, "values key securityContext.privileged") {
					t.Errorf("message does not name the values key: %s", f.Message)
				}
				if f.Object.Name != "prod-web" || f.Object.Namespace != "shop" {
					t.Errorf("object %+v, want shop/prod-web", f.Object)
				}
			}
			host := find(fs, "pss-host-namespaces")
			if (len(host) > 0) != tt.wantSubchart {
				t.Fatalf("subchart hostNetwork findings %v, want %v", host, tt.wantSubchart)
			}
			if tt.wantSubchart {
				f := host[0]
				if !strings.HasSuffix(f.Location.File, filepath.Join("charts", "cache", "templates", "statefulset.yaml")) || f.Location.Line != 13 || !strings.Contains(f.Message, "values key cache.hostNetwork") {
					t.Errorf("subchart finding %+v", f)
				}
			}
		})
	}
	// A packaged chart (.tgz) renders the same.
	ch, err := loader.Load(chart)
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fs, r := scanFindings(t, tgz, "-f", filepath.Join(chart, "values-prod.yaml"))
	if r.code != ExitOK || len(find(fs, "pss-privileged")) != 1 || len(find(fs, "pss-host-namespaces")) != 1 {
		t.Errorf("packaged chart: exit %d, %d findings; stderr %s", r.code, len(fs), r.stderr)
	}
	// A failing template is an input error naming the chart.
	_, r = scanFindings(t, filepath.Join(helmDir, "broken"))
	if r.code != ExitError || !strings.Contains(r.stdout, "image.tag is required") || !strings.Contains(r.stdout, filepath.Join("broken", "Chart.yaml")) {
		t.Errorf("broken chart: exit %d, output %s", r.code, r.stdout)
	}
}

var kustomizeDir = filepath.Join("..", "..", "pkg", "source", "testdata", "kustomize")

func TestKustomize(t *testing.T) {
	tests := []struct {
		overlay   string
		wantCheck string
		wantName  string
		wantFile  string
		wantLine  int
	}{
		// The patch adds hostPID; the finding points at the base file's spec,
		// the nearest field the base has.
		{"prod", "pss-host-namespaces", "prod-web", filepath.Join("base", "deployment.yaml"), 11},
		// The component adds SYS_PTRACE to the base's capabilities.
		{"dev", "cap-sys-ptrace", "web", filepath.Join("base", "deployment.yaml"), 20},
	}
	for _, tt := range tests {
		t.Run(tt.overlay, func(t *testing.T) {
			fs, r := scanFindings(t, filepath.Join(kustomizeDir, "overlays", tt.overlay))
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
			}
			got := find(fs, tt.wantCheck)
			if len(got) != 1 {
				t.Fatalf("%s findings: %+v", tt.wantCheck, got)
			}
			f := got[0]
			if f.Object.Name != tt.wantName || f.Object.Namespace != tt.overlay {
				t.Errorf("object %+v, want %s/%s", f.Object, tt.overlay, tt.wantName)
			}
			if !strings.HasSuffix(f.Location.File, tt.wantFile) || f.Location.Line != tt.wantLine {
				t.Errorf("finding at %s:%d, want %s:%d", f.Location.File, f.Location.Line, tt.wantFile, tt.wantLine)
			}
		})
	}
	// A folder of overlays: each kustomization is built, none read as plain files.
	fs, r := scanFindings(t, filepath.Join(kustomizeDir, "overlays"))
	if r.code != ExitOK || len(find(fs, "pss-host-namespaces")) != 1 || len(find(fs, "cap-sys-ptrace")) != 1 {
		t.Errorf("scanning both overlays: exit %d, findings %d", r.code, len(fs))
	}
	_, r = scanFindings(t, filepath.Join(kustomizeDir+"-broken"))
	if r.code != ExitError || !strings.Contains(r.stdout, "kustomize build failed") {
		t.Errorf("broken kustomization: exit %d, %s", r.code, r.stdout)
	}
}

// TestHelmRealWorldShapes: shapes public charts use, each mapped to its own
// template lines: several objects in one template, a range that emits
// several objects, several containers, values written through toYaml, a
// template that renders to a comment, Helm's "---#" separator, chart tests.
func TestHelmRealWorldShapes(t *testing.T) {
	chart := filepath.Join(helmDir, "real")
	fs, r := scanFindings(t, chart, "-n", "shop")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	type at struct {
		check, name, file string
		line              int
		hint              string
	}
	want := []at{
		// Written by toYaml: the action's line, and the values key it reads.
		{"pss-privileged", "a", "workloads.yaml", 20, "values key a.securityContext.privileged"},
		{"pss-privileged", "b", "workloads.yaml", 44, "values key b2Privileged"},
		{"pss-host-namespaces", "b", "workloads.yaml", 35, ""},
		{"rbac-cluster-admin-binding", "admin-alice", "bindings.yaml", 12, ""},
		{"rbac-cluster-admin-binding", "admin-bob", "bindings.yaml", 12, ""},
		{"rbac-cluster-admin-binding", "ops", "bindings.yaml", 25, ""},
		// Documents of the same shape map in order, not all to the first.
		{"rbac-cluster-admin-binding", "release-one", "twins.yaml", 10, ""},
		{"rbac-cluster-admin-binding", "release-two", "twins.yaml", 23, ""},
		// Rules from an include point at the include, not at a document
		// of the same file that an if switched off.
		{"rbac-secrets-cluster-wide", "reader", "roles.yaml", 6, ""},
		// A scalar list item has its own line, and no values key.
		{"cap-net-admin", "with-res", "resources.yaml", 19, ""},
		// The values key of a with's dot, and of a toYaml on the key's line;
		// not the if that follows.
		{"memory-limit-missing", "with-res", "resources.yaml", 21, "values key res.limits.memory"},
	}
	for _, w := range want {
		found := false
		for _, f := range find(fs, w.check) {
			if f.Object.Name != w.name || strings.Contains(f.Message, `"sidecar"`) {
				continue // the sidecar is checked below
			}
			found = true
			if w.hint == "" && strings.Contains(f.Message, "values key") {
				t.Errorf("%s on %s names a values key it does not come from: %s", w.check, w.name, f.Message)
			}
			if filepath.Base(f.Location.File) != w.file || f.Location.Line != w.line || !strings.Contains(f.Message, w.hint) {
				t.Errorf("%s on %s at %s:%d (%s), want %s:%d naming %q", w.check, w.name, f.Location.File, f.Location.Line, f.Message, w.file, w.line, w.hint)
			}
		}
		if !found {
			t.Errorf("no %s finding on %s", w.check, w.name)
		}
	}
	objects := map[string]string{}
	for _, f := range fs {
		objects[f.Object.Kind+"/"+f.Object.Name] = f.Object.Namespace
	}
	for obj, ns := range map[string]string{"Deployment/a": "shop", "Deployment/b": "shop", "ClusterRoleBinding/ops": ""} {
		if got, ok := objects[obj]; !ok || got != ns {
			t.Errorf("%s: namespace %q (present %v), want %q", obj, got, ok, ns)
		}
	}
	if n := summaryObjects(t, r.stdout); n != 10 {
		t.Errorf("%d objects, want 10 (helm template's count without tests)", n)
	}
	sidecar := 0
	for _, f := range find(fs, "memory-limit-missing") {
		if strings.Contains(f.Message, `"sidecar"`) {
			sidecar++
			if f.Location.Line != 30 || !strings.Contains(f.Message, "values key res.limits.memory") {
				t.Errorf("sidecar memory limit at %d: %s", f.Location.Line, f.Message)
			}
		}
	}
	if sidecar != 1 {
		t.Errorf("%d findings on the sidecar's memory limit", sidecar)
	}
	if _, ok := objects["Pod/test-connection"]; ok {
		t.Errorf("a chart test was scanned without --include-tests")
	}
	fs, _ = scanFindings(t, chart, "--include-tests")
	if len(find(fs, "pss-privileged")) != 3 {
		t.Errorf("--include-tests: %d pss-privileged findings, want 3", len(find(fs, "pss-privileged")))
	}
}

func TestHelmInputErrors(t *testing.T) {
	_, r := scanFindings(t, filepath.Join(helmDir, "missingdep"))
	if r.code != ExitError || !strings.Contains(r.stdout, "missing in charts/ directory: redis") || !strings.Contains(r.stdout, filepath.Join("missingdep", "Chart.yaml")) {
		t.Errorf("missing dependency: exit %d, %s", r.code, r.stdout)
	}
	// Output that does not parse: the template's file and a line inside it.
	_, r = scanFindings(t, filepath.Join(helmDir, "badrender"))
	if r.code != ExitError || !strings.Contains(r.stdout, "rendered template (output line 13)") || !strings.Contains(r.stdout, `cm.yaml","line":1,`) {
		t.Errorf("unparsable output: exit %d, %s", r.code, r.stdout)
	}
	_, r = scanFindings(t, filepath.Join(helmDir, "real"), "--set", "db.password=hunter2-s3cret,broken")
	if r.code != ExitError || strings.Contains(r.stdout+r.stderr, "hunter2") || !strings.Contains(r.stdout, "--set") || !strings.Contains(r.stdout, "db.password") {
		t.Errorf("--set error: exit %d, %s %s", r.code, r.stdout, r.stderr)
	}
}

func summaryObjects(t *testing.T, stdout string) int {
	t.Helper()
	var doc struct {
		Summary struct {
			Objects int `json:"objects"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Summary.Objects
}

// TestAnalyzersReadInputLikeScan: rbac and netpol read what scan reads,
// report every bad file, answer from the rest (exit 2 after the answer),
// and put unnamespaced objects in -n's namespace.
func TestAnalyzersReadInputLikeScan(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("rbac.yaml", `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: reader
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects:
- {kind: ServiceAccount, name: app}
`)
	write("apps.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}]}]
`)
	write("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n")

	r := rampart(t, "", "rbac", "who-can", "get", "secrets", "-n", "prod", dir)
	if r.code != ExitError || !strings.Contains(r.stdout, "ServiceAccount prod/app") || !strings.Contains(r.stderr, "broken.yaml:4") {
		t.Errorf("rbac who-can: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	r = rampart(t, "", "netpol", "explain", "prod/web", "prod/db", "--port", "5432", "-n", "prod", "--exit-code", filepath.Join(dir, "apps.yaml"))
	if r.code != ExitFindings || !strings.Contains(r.stdout, "denied") {
		t.Errorf("netpol explain of a denied connection with --exit-code: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = rampart(t, "", "netpol", "explain", "prod/db", "prod/web", "--port", "80", "-n", "prod", "--exit-code", filepath.Join(dir, "apps.yaml"))
	if r.code != ExitOK || !strings.Contains(r.stdout, "allowed") {
		t.Errorf("netpol explain of an allowed connection with --exit-code: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = rampart(t, "", "netpol", "matrix", dir)
	if r.code != ExitError || !strings.Contains(r.stdout, "default/Deployment/web") || !strings.Contains(r.stderr, "broken.yaml") {
		t.Errorf("netpol matrix with a bad file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestKustomizeTree: a folder tree is judged through its roots; the base two
// overlays share is judged inside them (one finding per object and line,
// never also standalone or as a plain file); a file an overlay lists is not
// read again as a plain file; a file no kustomization lists is a notice.
func TestKustomizeTree(t *testing.T) {
	tree := filepath.Join("..", "..", "pkg", "source", "testdata", "kustomize-tree")
	r := rampart(t, "", "scan", tree, "-o", "json", "--fail-on", "none")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	var doc struct {
		Findings []locatedFinding `json:"findings"`
		Notices  []struct {
			File, Message string
		} `json:"notices"`
		Summary struct{ Objects int }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	// web from overlays a and b (no standalone base), extra from a, other raw.
	if doc.Summary.Objects != 4 {
		t.Errorf("%d objects, want 4", doc.Summary.Objects)
	}
	seen := map[string]int{}
	for _, f := range doc.Findings {
		key := f.CheckID + " " + f.Object.Kind + "/" + f.Object.Namespace + "/" + f.Object.Name + " " + f.Location.File + ":" + strconv.Itoa(f.Location.Line) + " " + f.Message
		seen[key]++
		if seen[key] == 2 {
			t.Errorf("reported twice: %s", key)
		}
	}
	if n := len(find(doc.Findings, "pss-privileged")); n != 1 {
		t.Errorf("%d pss-privileged findings on the shared base, want 1", n)
	}
	if n := len(find(doc.Findings, "pss-host-namespaces")); n != 2 {
		t.Errorf("%d pss-host-namespaces findings, want 2 (extra through its overlay, other raw; not the unlisted draft)", n)
	}
	if len(doc.Notices) != 3 || !strings.HasSuffix(doc.Notices[0].File, filepath.Join("base", "unlisted.yaml")) || !strings.Contains(doc.Notices[0].Message, "not listed") ||
		!strings.Contains(doc.Notices[1].Message, "Component that no kustomization includes") ||
		!strings.Contains(doc.Notices[2].Message, "kustomize: 'bases' is deprecated") {
		t.Errorf("notices %+v, want one for base/unlisted.yaml, one for the unused Component, one for kustomize's warning", doc.Notices)
	}
	if strings.Contains(r.stderr, "# Warning") {
		t.Errorf("kustomize's warnings reached stderr: %s", r.stderr)
	}
}

// TestHelmKubeVersion: charts render for this build's Kubernetes version
// (not Helm's library default, 1.20), and a chart's kubeVersion is enforced.
func TestHelmKubeVersion(t *testing.T) {
	chart := filepath.Join(helmDir, "newkube")
	if _, r := scanFindings(t, chart); r.code != ExitOK {
		t.Errorf("default version refused by kubeVersion >= 1.30: exit %d %s", r.code, r.stdout)
	}
	_, r := scanFindings(t, chart, "--kube-version", "1.25.0")
	if r.code != ExitError || !strings.Contains(r.stdout, "requires kubeVersion") {
		t.Errorf("--kube-version 1.25 on a chart that needs 1.30: exit %d %s", r.code, r.stdout)
	}
}

// TestSARIFFixesOnPlainFilesOnly: scan -o sarif offers text edits for
// findings in plain manifest files, and none in files a kustomization reads
// (an overlay's base: the edit would be made against the object as the
// overlay rendered it) or in a chart's templates.
func TestSARIFFixesOnPlainFilesOnly(t *testing.T) {
	dir := t.TempDir()
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: plain}\nspec:\n  containers:\n  - name: c\n    image: registry.example.com/c:1.0\n"
	if err := os.WriteFile(filepath.Join(dir, "plain.yaml"), []byte(pod), 0o644); err != nil {
		t.Fatal(err)
	}
	chartDir := filepath.Join(helmDir, "shop")
	for _, paths := range [][]string{{dir}, {filepath.Join(kustomizeDir, "overlays")}, {chartDir}} {
		r := rampart(t, "", append([]string{"scan", "-o", "sarif"}, paths...)...)
		if r.code == ExitError {
			t.Fatalf("%v: exit %d %s", paths, r.code, r.stderr)
		}
		var log struct {
			Runs []struct {
				Results []struct {
					Fixes []struct {
						ArtifactChanges []struct {
							ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						} `json:"artifactChanges"`
					} `json:"fixes"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &log); err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, res := range log.Runs[0].Results {
			for _, fx := range res.Fixes {
				for _, ac := range fx.ArtifactChanges {
					files = append(files, ac.ArtifactLocation.URI)
				}
			}
		}
		if paths[0] == dir {
			if len(files) == 0 {
				t.Errorf("plain file: no fix offered")
			}
			continue
		}
		if len(files) > 0 {
			t.Errorf("%v: fixes offered in %v", paths, files)
		}
	}
}
