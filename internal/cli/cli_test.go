package cli

import (
	"bytes"
	"encoding/json"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/report"
)

type run struct {
	code           int
	stdout, stderr string
}

func rampart(t *testing.T, stdin string, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &out, &errb)
	return run{code, out.String(), errb.String()}
}

const seedPod = `apiVersion: v1
kind: Pod
metadata:
  name: my-pod
spec:
  containers:
  - name: my-container
    image: my-image
    securityContext:
      runAsUser: 1000
      capabilities:
        add:
        - NET_ADMIN
    ports:
    - containerPort: 80
  securityContext:
    runAsUser: 1000
  networkPolicy:
    ingress:
    - from:
      - podSelector:
          matchLabels:
            app: my-app
`

type jsonOut struct {
	Findings []struct {
		CheckID  string `json:"checkID"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
		Field    string `json:"field"`
		Location struct {
			File         string `json:"file"`
			Line, Column int
		} `json:"location"`
	} `json:"findings"`
	Errors []struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Message string `json:"message"`
	} `json:"errors"`
	Summary struct {
		Files, Objects, Findings, Errors int
		Failed                           bool
	} `json:"summary"`
}

func decode(t *testing.T, s string) jsonOut {
	t.Helper()
	var out jsonOut
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
	return out
}

// TestSeedPod is the acceptance fixture of the scan-core issue.
func TestSeedPod(t *testing.T) {
	tests := []struct {
		level string
		want  []string
		not   []string
	}{
		{"baseline", []string{"schema", "pss-capabilities-baseline"}, []string{"pss-run-as-non-root"}},
		{"restricted", []string{"schema", "pss-capabilities-baseline", "pss-run-as-non-root", "pss-allow-privilege-escalation", "pss-capabilities-restricted", "pss-seccomp-restricted"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			r := rampart(t, seedPod, "scan", "-", "-o", "json", "--pss-level", tt.level)
			if r.code != ExitFindings {
				t.Errorf("exit code %d, want %d (stderr %s)", r.code, ExitFindings, r.stderr)
			}
			out := decode(t, r.stdout)
			got := map[string]string{}
			for _, f := range out.Findings {
				got[f.CheckID] = f.Message + " @ " + f.Field
				if f.Location.File != "<stdin>" || f.Location.Line == 0 {
					t.Errorf("%s: location %+v", f.CheckID, f.Location)
				}
			}
			for _, id := range tt.want {
				if _, ok := got[id]; !ok {
					t.Errorf("missing %s; got %v", id, got)
				}
			}
			for _, id := range tt.not {
				if _, ok := got[id]; ok {
					t.Errorf("unexpected %s at %s", id, tt.level)
				}
			}
			if m := got["schema"]; !strings.Contains(m, "spec.networkPolicy") {
				t.Errorf("schema finding %q does not name spec.networkPolicy", m)
			}
			if m := got["pss-capabilities-baseline"]; !strings.Contains(m, "NET_ADMIN") || !strings.Contains(m, `"my-container"`) {
				t.Errorf("capabilities finding %q does not name NET_ADMIN and the container", m)
			}
		})
	}
}

func TestExitCodesAndFailOn(t *testing.T) {
	dir := t.TempDir()
	clean := filepath.Join(dir, "clean.yaml")
	os.WriteFile(clean, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"), 0o644)
	medium := filepath.Join(dir, "medium.yaml")
	os.WriteFile(medium, []byte(`apiVersion: v1
kind: Pod
metadata: {name: m}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: i
    securityContext: {allowPrivilegeEscalation: false}
`), 0o644)
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("a: [\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"clean", []string{"scan", clean}, ExitOK},
		{"medium below default fail-on", []string{"scan", medium}, ExitOK},
		{"medium at fail-on medium", []string{"scan", medium, "--fail-on", "medium"}, ExitFindings},
		{"fail-on none", []string{"scan", medium, "--fail-on", "none"}, ExitOK},
		{"input error wins", []string{"scan", medium, broken, "--fail-on", "medium"}, ExitError},
		{"missing path", []string{"scan", filepath.Join(dir, "nope.yaml")}, ExitError},
		{"bad fail-on", []string{"scan", clean, "--fail-on", "severe"}, ExitError},
		{"bad format", []string{"scan", clean, "-o", "yaml"}, ExitError},
		{"bad level", []string{"scan", clean, "--pss-level", "privileged"}, ExitError},
		{"bad version", []string{"scan", clean, "--pss-version", "1.x"}, ExitError},
		{"unknown flag", []string{"scan", "--frobnicate"}, ExitError},
		{"explain unknown", []string{"explain", "no-such-check"}, ExitError},
		{"explain", []string{"explain", "pss-privileged"}, ExitOK},
		{"checks", []string{"checks"}, ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rampart(t, "", tt.args...)
			if r.code != tt.want {
				t.Errorf("rampart %v: exit %d, want %d\nstdout: %s\nstderr: %s", tt.args, r.code, tt.want, r.stdout, r.stderr)
			}
		})
	}
}

func TestOutputFileAndFormats(t *testing.T) {
	dir := t.TempDir()
	for _, format := range report.Formats {
		out := filepath.Join(dir, "report."+format)
		r := rampart(t, seedPod, "scan", "-", "-o", format, "--output-file", out)
		if r.code != ExitFindings || r.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q", format, r.code, r.stdout)
		}
		data, err := os.ReadFile(out)
		if err != nil || len(data) == 0 {
			t.Errorf("%s: report file: %v", format, err)
		}
		if bytes.Contains(data, []byte("\x1b[")) {
			t.Errorf("%s: colour codes in a file", format)
		}
	}
}

// TestBadInputFolder is the bad-input acceptance test: broken YAML, a binary
// file, an empty file, a 1,000-level nested document and an alias bomb next to
// valid files. Each bad file gets an error with file and line, the valid
// files are scanned, the exit code is 2, and memory stays bounded.
func TestBadInputFolder(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n")
	write("binary.yaml", "\x7fELF\x02\x01\x01\x00\x00\x00garbage")
	write("empty.yaml", "")
	write("nested.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n  x: "+strings.Repeat("[", 1000)+strings.Repeat("]", 1000)+"\n")
	var bomb strings.Builder
	bomb.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for i := 0; i < 12; i++ {
		name := prev + "x"
		bomb.WriteString(name + ": &" + name + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n")
		prev = name
	}
	write("bomb.yaml", bomb.String())
	write("good.yaml", seedPod)
	write("good2.json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ok"}}`)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := rampart(t, "", "scan", dir, "-o", "json")
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	if r.code != ExitError {
		t.Errorf("exit %d, want %d", r.code, ExitError)
	}
	out := decode(t, r.stdout)
	bad := map[string]bool{}
	for _, e := range out.Errors {
		bad[filepath.Base(e.File)] = true
		if e.Line == 0 || e.Message == "" {
			t.Errorf("error without line or message: %+v", e)
		}
	}
	for _, f := range []string{"broken.yaml", "binary.yaml", "empty.yaml", "nested.yaml", "bomb.yaml"} {
		if !bad[f] {
			t.Errorf("no error for %s; errors: %+v", f, out.Errors)
		}
	}
	if len(out.Errors) != 5 {
		t.Errorf("%d errors, want 5: %+v", len(out.Errors), out.Errors)
	}
	scanned := map[string]bool{}
	for _, f := range out.Findings {
		scanned[filepath.Base(f.Location.File)] = true
	}
	if !scanned["good.yaml"] || out.Summary.Objects != 2 {
		t.Errorf("valid files not scanned: objects %d, findings from %v", out.Summary.Objects, scanned)
	}
	// Sys never shrinks, so it bounds the peak the scan added.
	if grew := after.Sys - before.Sys; grew > 200<<20 {
		t.Errorf("memory grew by %d MiB during the scan, want under 200", grew>>20)
	}
}

func TestDocsChecksIsCurrent(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteCatalog(&buf, mustChecks(t), "markdown"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "checks.md")
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, buf.Bytes()) {
		t.Errorf("docs/checks.md is stale; run `make generate` (go run ./cmd/rampart checks -o markdown > docs/checks.md)")
	}
}

func mustChecks(t *testing.T) []check.Check {
	t.Helper()
	reg, err := checks.Registry()
	if err != nil {
		t.Fatal(err)
	}
	return reg.Checks()
}

// TestWebhookServeFlags: the webhook refuses to start without TLS files or
// with an unknown severity, with exit 2 and a message naming the flag.
func TestWebhookServeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"webhook", "serve"}, "--tls-cert-file"},
		{[]string{"webhook", "serve", "--tls-cert-file", "a", "--tls-private-key-file", "b", "--enforce", "severe"}, "--enforce"},
		{[]string{"webhook", "serve", "--tls-cert-file", "missing.crt", "--tls-private-key-file", "missing.key"}, "missing.crt"},
	} {
		r := rampart(t, "", tc.args...)
		if r.code != ExitError || !strings.Contains(r.stderr+r.stdout, tc.want) {
			t.Errorf("%v: exit %d, %s%s", tc.args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestWebhookManifests: the chart the binary carries renders to manifests
// kubectl can apply (the webhook configuration, the Deployment, in -n's
// namespace), which Rampart scans clean above low; a value the chart
// requires is asked for by name.
func TestWebhookManifests(t *testing.T) {
	r := rampart(t, "", "webhook", "manifests", "-n", "guard", "--set", "mutate.enabled=true")
	if r.code != ExitOK {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	objs, errs := manifest.Parse("manifests.yaml", []byte(r.stdout))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.Kind] = true
		if o.Kind == "Deployment" && o.Namespace != "guard" {
			t.Errorf("Deployment in namespace %q", o.Namespace)
		}
	}
	// By default the webhook makes its own certificates: a Role for its
	// Secret, no cert-manager Certificate.
	for _, k := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "Deployment", "ClusterRole", "Role", "NetworkPolicy", "PodDisruptionBudget"} {
		if !kinds[k] {
			t.Errorf("no %s in the manifests", k)
		}
	}
	if kinds["Certificate"] {
		t.Error("a cert-manager Certificate by default")
	}
	if s := rampart(t, r.stdout, "scan", "-", "--fail-on", "medium"); s.code != ExitOK {
		t.Errorf("the manifests scan with findings above low:\n%s", s.stdout)
	}
	if r := rampart(t, "", "webhook", "manifests", "--set", "certManager.enabled=true"); r.code != ExitOK || !strings.Contains(r.stdout, "kind: Certificate") || strings.Contains(r.stdout, "--manage-certs") {
		t.Errorf("certManager.enabled: exit %d, want a Certificate and no --manage-certs\n%s", r.code, r.stderr)
	}
	if r := rampart(t, "", "webhook", "manifests", "--set", "tls.existingSecret=mine"); r.code != ExitError || !strings.Contains(r.stderr, "tls.caBundle") {
		t.Errorf("a missing required value: exit %d %s", r.code, r.stderr)
	}
}
