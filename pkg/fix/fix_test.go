package fix

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/engine"
)

var update = flag.Bool("update", false, "rewrite the fix goldens")

var restricted = engine.Options{PSS: api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}}

func fixOne(t *testing.T, src, only string) string {
	t.Helper()
	return fixWith(t, src, Options{Breaking: true, Only: []string{only},
		Resources: map[string]string{"requests.cpu": "100m", "requests.memory": "128Mi", "limits.cpu": "500m", "limits.memory": "128Mi", "limits.ephemeral-storage": "1Gi"}})
}

// fixWith is src after Files fixes it with opts (as the file in.yaml).
func fixWith(t *testing.T, src string, opts Options) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "in.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Files([]string{p}, checks.Builtin(), restricted, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		if f.Name == p {
			return f.After
		}
	}
	return src
}

// TestFixGoldens: for every testdata/<check-id>/fix/in.yaml, fixing that
// check gives out.yaml; fixing out.yaml again changes nothing; the result
// parses and no longer raises the check.
func TestFixGoldens(t *testing.T) {
	ins, _ := filepath.Glob("../checks/testdata/*/fix/in.yaml")
	if len(ins) < 25 {
		t.Fatalf("only %d fix goldens", len(ins))
	}
	for _, in := range ins {
		id := filepath.Base(filepath.Dir(filepath.Dir(in)))
		t.Run(id, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := fixOne(t, string(src), id)
			outPath := filepath.Join(filepath.Dir(in), "out.yaml")
			if *update {
				if err := os.WriteFile(outPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatalf("missing golden (go test ./pkg/fix -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("fix differs from %s:\n%s", outPath, got)
			}
			if got == string(src) {
				t.Error("the fix changed nothing")
			}
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(got), &n); err != nil {
				t.Errorf("fixed file is not YAML: %v", err)
			}
			if again := fixOne(t, got, id); again != got {
				t.Errorf("fixing twice changed the file again:\n%s", again)
			}
			// Most input lines survive verbatim, in order: fixes change values and
			// add or remove entries; a reformatted file would change nearly all.
			kept, j := 0, 0
			srcLines, gotLines := strings.Split(string(src), "\n"), strings.Split(got, "\n")
			for _, l := range srcLines {
				for k := j; k < len(gotLines); k++ {
					if gotLines[k] == l {
						kept, j = kept+1, k+1
						break
					}
				}
			}
			if kept*2 < len(srcLines) {
				t.Errorf("only %d of %d input lines survive verbatim", kept, len(srcLines))
			}
		})
	}
}

// TestConfirm: interactive answers decide which fixes are made.
func TestConfirm(t *testing.T) {
	src := `apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: a
    image: registry.example.com/a:1.0
  - name: b
    image: registry.example.com/b:1.0
`
	tests := []struct {
		name    string
		answers []Answer
		want    int // fixes made
	}{
		{"all no", []Answer{No, No, No, No, No, No, No, No, No, No, No, No}, 0},
		{"quit at once", []Answer{Quit}, 0},
		{"yes then quit", []Answer{Yes, Quit}, 1},
		{"all", []Answer{All}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "p.yaml")
			if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			i := 0
			confirm := func(Applied) Answer {
				if i >= len(tt.answers) {
					return No
				}
				i++
				return tt.answers[i-1]
			}
			res, err := Files([]string{p}, checks.Builtin(), restricted, Options{NoGenerate: true, Confirm: confirm})
			if err != nil {
				t.Fatal(err)
			}
			all, _ := Files([]string{p}, checks.Builtin(), restricted, Options{NoGenerate: true})
			want := tt.want
			if want < 0 {
				want = len(all.Applied)
			}
			if len(res.Applied) != want {
				t.Errorf("%d fixes made, want %d", len(res.Applied), want)
			}
		})
	}
}

// TestFixableChecks: fix runs the checks that have a Fix; every check with
// fix goldens has one, and every check with one has fix goldens.
func TestFixableChecks(t *testing.T) {
	ins, _ := filepath.Glob("../checks/testdata/*/fix/in.yaml")
	goldens := map[string]bool{}
	for _, in := range ins {
		goldens[filepath.Base(filepath.Dir(filepath.Dir(in)))] = true
	}
	fixable := map[string]bool{}
	for _, c := range fixableOnly(checks.Builtin()) {
		fixable[c.ID] = true
		if !goldens[c.ID] {
			t.Errorf("%s has a fix but no fix goldens (testdata/%s/fix)", c.ID, c.ID)
		}
	}
	for id := range goldens {
		if !fixable[id] {
			t.Errorf("%s has fix goldens but no Fix: fix would never run it", id)
		}
	}
}

// TestFixReviewCases: a fix that brings a new finding is followed by its
// fix in the same run (fixing twice changes nothing), and an edit that
// would leave YAML that does not parse is not written.
func TestFixReviewCases(t *testing.T) {
	sa := `apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: shop}
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: web
        image: registry.example.com/web:1.0
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, readOnlyRootFilesystem: true}
`
	once := fixAll(t, sa)
	if twice := fixAll(t, once); twice != once {
		t.Errorf("a second fix changed the file:\n%s", twice)
	}
	flow := `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  containers:
  - name: c
    image: registry.example.com/c:1
    resources: {
      limits: {cpu: 100m}
    }
`
	if got := fixAll(t, flow); got != flow {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(got), &n); err != nil {
			t.Errorf("fix wrote YAML that does not parse: %v\n%s", err, got)
		}
	}
}

func fixAll(t *testing.T, src string) string {
	t.Helper()
	return fixWith(t, src, Options{NoGenerate: true,
		Resources: map[string]string{"requests.cpu": "100m", "limits.cpu": "500m", "requests.memory": "128Mi", "limits.memory": "128Mi"}})
}

// TestNoPolicyFromMistypedPodPolicy: a NetworkPolicy written inside a Pod
// with a field of the wrong type is not moved out (the policy made from what
// could be read would deny what the author meant to allow).
func TestNoPolicyFromMistypedPodPolicy(t *testing.T) {
	const src = `apiVersion: v1
kind: Pod
metadata: {name: p, labels: {app: p}}
spec:
  containers: [{name: c, image: registry.example.com/c:1.0}]
  networkPolicy:
    ingress:
      from: [{podSelector: {matchLabels: {app: q}}}]
`
	if got := fixOne(t, src, "schema"); got != src {
		t.Errorf("the mistyped policy was moved:\n%s", got)
	}
	const good = `apiVersion: v1
kind: Pod
metadata: {name: p, labels: {app: p}}
spec:
  containers: [{name: c, image: registry.example.com/c:1.0}]
  networkPolicy:
    ingress:
    - from: [{podSelector: {matchLabels: {app: q}}}]
`
	if got := fixOne(t, good, "schema"); strings.Contains(got, "networkPolicy") {
		t.Errorf("the well-typed policy stayed in the Pod:\n%s", got)
	}
}
