package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// workload adds NET_ADMIN to container "app" and runs container "side" as is.
const workload = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
%s
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: registry.example.com/web:1.0
        securityContext:
          capabilities: {add: [NET_ADMIN]}
      - name: side
        image: registry.example.com/side:1.0
        securityContext:
          capabilities: {add: [NET_ADMIN]}
`

type scanJSON struct {
	Findings []struct {
		CheckID string `json:"checkID"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"findings"`
	Suppressed []struct {
		CheckID       string `json:"checkID"`
		Field         string `json:"field"`
		By            string `json:"by"`
		Justification string `json:"justification"`
	} `json:"suppressed"`
	Summary struct {
		Suppressed, ExpiredExceptions, Objects int
	} `json:"summary"`
}

func scanDir(t *testing.T, files map[string]string, args ...string) (scanJSON, run) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := rampart(t, "", append([]string{"scan", filepath.Join(dir, "k8s"), "-o", "json", "--show-suppressed", "--fail-on", "none"}, args...)...)
	var out scanJSON
	if r.code == ExitOK || r.code == ExitFindings {
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
	}
	return out, r
}

func count(out scanJSON, id string) (reported, suppressed int) {
	for _, f := range out.Findings {
		if f.CheckID == id {
			reported++
		}
	}
	for _, s := range out.Suppressed {
		if s.CheckID == id {
			suppressed++
		}
	}
	return
}

func TestAnnotationSuppressions(t *testing.T) {
	tests := []struct {
		name           string
		annotations    string
		wantReported   int
		wantSuppressed int
		wantNoReason   bool
	}{
		{"none", "    other: x", 2, 0, false},
		{"object-wide with reason", `    rampart.dev/ignore: "cap-net-admin, cap-sys-admin: the CNI helper programs routes"`, 0, 2, false},
		{"one container", `    rampart.dev/ignore.side: "cap-net-admin: the sidecar programs iptables"`, 1, 1, false},
		{"no reason silences nothing", `    rampart.dev/ignore: cap-net-admin`, 2, 0, true},
		{"other check", `    rampart.dev/ignore: "cap-sys-admin: not this one"`, 2, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, r := scanDir(t, map[string]string{"k8s/web.yaml": strings.Replace(workload, "%s", tt.annotations, 1)})
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			rep, sup := count(out, "cap-net-admin")
			if rep != tt.wantReported || sup != tt.wantSuppressed {
				t.Errorf("cap-net-admin reported %d suppressed %d, want %d and %d", rep, sup, tt.wantReported, tt.wantSuppressed)
			}
			if nr, _ := count(out, "suppression-without-reason"); (nr > 0) != tt.wantNoReason {
				t.Errorf("suppression-without-reason reported %d times, want %v", nr, tt.wantNoReason)
			}
			for _, s := range out.Suppressed {
				if s.Justification == "" || !strings.HasPrefix(s.By, "annotation ") {
					t.Errorf("suppressed finding without justification: %+v", s)
				}
			}
			if out.Summary.Suppressed != tt.wantSuppressed {
				t.Errorf("summary.suppressed %d, want %d", out.Summary.Suppressed, tt.wantSuppressed)
			}
		})
	}
}

func TestConfigExceptionsAndExpiry(t *testing.T) {
	dep := strings.Replace(workload, "%s", "    other: x", 1)
	tests := []struct {
		name                   string
		config                 string
		wantReported, wantSupp int
		wantExpired            int
	}{
		{"glob and container", "exceptions:\n- check: cap-*\n  kind: Deployment\n  namespace: shop\n  name: w*\n  container: side\n  reason: sidecar needs it\n", 1, 1, 0},
		{"whole object", "exceptions:\n- check: cap-net-admin\n  name: web\n  reason: accepted\n  expires: 2999-01-01\n", 0, 2, 0},
		{"expired", "exceptions:\n- check: cap-net-admin\n  reason: accepted once\n  expires: 2020-01-01\n", 2, 0, 2},
		{"other namespace", "exceptions:\n- check: cap-net-admin\n  namespace: prod\n  reason: only prod\n", 2, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, r := scanDir(t, map[string]string{"k8s/web.yaml": dep, ".rampart.yaml": tt.config})
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			rep, sup := count(out, "cap-net-admin")
			if rep != tt.wantReported || sup != tt.wantSupp || out.Summary.ExpiredExceptions != tt.wantExpired {
				t.Errorf("reported %d suppressed %d expired %d, want %d %d %d", rep, sup, out.Summary.ExpiredExceptions, tt.wantReported, tt.wantSupp, tt.wantExpired)
			}
			if tt.wantExpired > 0 {
				for _, f := range out.Findings {
					if f.CheckID == "cap-net-admin" && !strings.Contains(f.Message, "expired on 2020-01-01") {
						t.Errorf("expired exception not mentioned: %s", f.Message)
					}
				}
			}
		})
	}
}

func TestBaselineRoundTrip(t *testing.T) {
	dir := t.TempDir()
	k8s := filepath.Join(dir, "k8s")
	os.MkdirAll(k8s, 0o755)
	os.WriteFile(filepath.Join(k8s, "web.yaml"), []byte(strings.Replace(workload, "%s", "    other: x", 1)), 0o644)
	base := filepath.Join(dir, "baseline.json")
	if r := rampart(t, "", "scan", k8s, "--write-baseline", base, "-o", "json"); r.code != ExitFindings {
		t.Fatalf("first scan exit %d: %s", r.code, r.stderr)
	}
	r := rampart(t, "", "scan", k8s, "--baseline", base, "-o", "json")
	if r.code != ExitOK {
		t.Errorf("scan with its own baseline exit %d, want 0: %s", r.code, r.stdout)
	}
	// A new problem is reported; the known ones stay silent, even after the
	// file's lines moved.
	changed := "# a comment that moves every line\n" + strings.Replace(workload, "%s", "    other: x", 1) + "      hostNetwork: true\n"
	os.WriteFile(filepath.Join(k8s, "web.yaml"), []byte(changed), 0o644)
	r = rampart(t, "", "scan", k8s, "--baseline", base, "-o", "json")
	var out scanJSON
	json.Unmarshal([]byte(r.stdout), &out)
	if len(out.Findings) != 1 || out.Findings[0].CheckID != "pss-host-namespaces" {
		t.Errorf("findings with baseline: %+v, want only the new pss-host-namespaces", out.Findings)
	}
	if r := rampart(t, "", "scan", k8s, "--baseline", filepath.Join(dir, "missing.json")); r.code != ExitError {
		t.Errorf("missing baseline: exit %d, want 2", r.code)
	}
}

func TestNoSilentPass(t *testing.T) {
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "README.md"), []byte("not a manifest"), 0o644)
	if r := rampart(t, "", "scan", empty); r.code != ExitError || !strings.Contains(r.stdout, "nothing was evaluated") {
		t.Errorf("empty scan: exit %d, want 2 with an explanation; stdout %s", r.code, r.stdout)
	}
	if r := rampart(t, "", "scan", empty, "--allow-empty"); r.code != ExitOK {
		t.Errorf("--allow-empty: exit %d, want 0", r.code)
	}
}

func TestUnknownChecksAreErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"), 0o644)
	if r := rampart(t, "", "scan", dir, "--disable", "no-such-check"); r.code != ExitError || !strings.Contains(r.stderr, "no-such-check") {
		t.Errorf("--disable unknown: exit %d, stderr %s", r.code, r.stderr)
	}
	if r := rampart(t, "", "scan", dir, "--disable", "resources,pss-privileged"); r.code != ExitOK {
		t.Errorf("--disable category and ID: exit %d: %s", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(dir, ".rampart.yaml"), []byte("checks:\n  disable: [image-not-pined]\n"), 0o644)
	if r := rampart(t, "", "scan", dir); r.code != ExitError || !strings.Contains(r.stderr, ".rampart.yaml:2") {
		t.Errorf("config with unknown check: exit %d, stderr %s", r.code, r.stderr)
	}
}

func TestDisabledChecksDoNotRun(t *testing.T) {
	out, r := scanDir(t, map[string]string{
		"k8s/web.yaml":  strings.Replace(workload, "%s", "    other: x", 1),
		".rampart.yaml": "checks:\n  disable: [capabilities, pss]\n  enable: [cap-net-admin]\nseverity:\n  cap-net-admin: low\n",
	})
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, f := range out.Findings {
		if strings.HasPrefix(f.CheckID, "pss-") || (strings.HasPrefix(f.CheckID, "cap-") && f.CheckID != "cap-net-admin") {
			t.Errorf("disabled check ran: %s", f.CheckID)
		}
	}
	if rep, _ := count(out, "cap-net-admin"); rep != 2 {
		t.Errorf("re-enabled cap-net-admin reported %d times, want 2", rep)
	}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("images:\n  allowedRegistries: [registry.example.com]\nexceptions:\n- check: pss-*\n  reason: legacy\n  expires: 2027-01-31\n"), 0o644)
	if r := rampart(t, "", "config", "validate", good); r.code != ExitOK || !strings.Contains(r.stdout, "valid") {
		t.Errorf("valid config: exit %d, %s %s", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("images:\n  allowedRegistry: [x]\nexceptions:\n- check: pss-privileged\n- check: nothing-*\n  reason: r\n  expires: 31/01/2027\nseverity:\n  pss-privileged: severe\n"), 0o644)
	r := rampart(t, "", "config", "validate", bad)
	if r.code != ExitError {
		t.Errorf("invalid config: exit %d", r.code)
	}
	for _, want := range []string{"bad.yaml:2:", "bad.yaml:4:", "bad.yaml:9:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestSchemaInDocsIsCurrent keeps docs/config.schema.json equal to the
// schema the binary embeds.
func TestSchemaInDocsIsCurrent(t *testing.T) {
	a, err1 := os.ReadFile(filepath.Join("..", "..", "docs", "config.schema.json"))
	b, err2 := os.ReadFile(filepath.Join("..", "..", "pkg", "config", "schema.json"))
	if err1 != nil || err2 != nil || string(a) != string(b) {
		t.Error("docs/config.schema.json differs from pkg/config/schema.json; copy it")
	}
}

// TestConfigValidateAdmission: the admission section's severities and
// exemptions are checked, with their lines.
func TestConfigValidateAdmission(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("admission:\n  enforce: critical\n  exemptions:\n  - namespaces: [legacy-*]\n    groups: [platform-admins]\n    checks: [pss-*]\n    reason: moving in Q3\n"), 0o644)
	if r := rampart(t, "", "config", "validate", good); r.code != ExitOK {
		t.Errorf("valid admission config: exit %d, %s %s", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("admission:\n  enforce: severe\n  exemptions:\n  - namespaces: [legacy]\n    checks: [nothing-*]\n    reason: r\n  - users: [alice]\n"), 0o644)
	r := rampart(t, "", "config", "validate", bad)
	if r.code != ExitError {
		t.Errorf("invalid admission config: exit %d", r.code)
	}
	for _, want := range []string{"bad.yaml:2:", "bad.yaml:7:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, r.stdout)
		}
	}
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("admission:\n  exemptions:\n  - checks: [nothing-*]\n    reason: r\n"), 0o644)
	if r := rampart(t, "", "config", "validate", unknown); r.code != ExitError || !strings.Contains(r.stdout, "unknown.yaml:3:") || !strings.Contains(r.stdout, "matches no check") {
		t.Errorf("an exemption for no check: exit %d, %s", r.code, r.stdout)
	}
}
