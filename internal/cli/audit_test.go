package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

const privilegedPodEvent = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a1","stage":"ResponseComplete","verb":"create","requestURI":"/api/v1/namespaces/default/pods","user":{"username":"alice"},"sourceIPs":["10.0.0.1"],"objectRef":{"resource":"pods","namespace":"default","name":"root","apiVersion":"v1"},"responseStatus":{"code":201},"requestObject":{"kind":"Pod","spec":{"containers":[{"name":"c","image":"busybox","securityContext":{"privileged":true}}]}},"stageTimestamp":"2026-11-30T10:00:00Z"}`

// TestAuditDetect: alerts in text and JSON, the exit codes (an alert at
// --fail-on, an event that cannot be read), and the line of that event.
func TestAuditDetect(t *testing.T) {
	r := rampart(t, privilegedPodEvent+"\n", "audit", "detect", "-", "--fail-on", "medium")
	if r.code != ExitFindings || !strings.Contains(r.stdout, "Create Privileged Pod: Pod with a privileged container (user=alice pod=root ns=default images=busybox)") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = rampart(t, privilegedPodEvent+"\n", "audit", "detect", "-", "-o", "json", "--fail-on", "none")
	var a struct {
		Rule, User string
		MITRE      []string
	}
	if r.code != ExitOK || json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 2)[0]), &a) != nil || a.Rule == "" || a.User != "alice" || len(a.MITRE) == 0 {
		t.Errorf("exit %d, first alert %+v\n%s", r.code, a, r.stdout)
	}
	r = rampart(t, privilegedPodEvent+"\n{\"kind\":\"Event\",\"auditID\":\"cut\n", "audit", "detect", "-", "--fail-on", "none")
	if r.code != ExitError || !strings.Contains(r.stderr, "<stdin>:2: a truncated event") || !strings.Contains(r.stdout, "Create Privileged Pod") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("- rule: Broken\n  desc: d\n  condition: event.verb ==\n  output: o\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := rampart(t, "", "audit", "detect", "-", "--rules", bad); r.code != ExitError || !strings.Contains(r.stderr, `rule "Broken"`) {
		t.Errorf("a broken rules file: exit %d %s", r.code, r.stderr)
	}
}

func TestAuditRulesAndWebhookConfig(t *testing.T) {
	r := rampart(t, "", "audit", "rules")
	if r.code != ExitOK || !strings.Contains(r.stdout, "Create Privileged Pod") || !strings.Contains(r.stdout, "Many Secrets Read") {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = rampart(t, "", "audit", "webhook-config", "--server", "https://rampart-audit.rampart.svc:8443/audit", "--ca-file", ca)
	var cfg struct {
		Kind     string
		Clusters []struct {
			Cluster map[string]string
		}
	}
	if r.code != ExitOK || yaml.Unmarshal([]byte(r.stdout), &cfg) != nil || cfg.Kind != "Config" || cfg.Clusters[0].Cluster["server"] != "https://rampart-audit.rampart.svc:8443/audit" {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
}

// TestAuditDetectWebhook: the alerts reach --webhook, in Slack's shape
// when asked; --follow takes one file.
func TestAuditDetectWebhook(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	r := rampart(t, privilegedPodEvent+"\n", "audit", "detect", "-", "--fail-on", "none", "--webhook", srv.URL, "--webhook-format", "slack")
	mu.Lock()
	defer mu.Unlock()
	if r.code != ExitOK || len(bodies) != 1 || !strings.Contains(bodies[0], `*Create Privileged Pod* [medium] Pod with a privileged container`) {
		t.Errorf("exit %d, bodies %q\n%s", r.code, bodies, r.stderr)
	}
	if r := rampart(t, "", "audit", "detect", "--follow", "-"); r.code != ExitError || !strings.Contains(r.stderr, "--follow follows one file") {
		t.Errorf("--follow on stdin: exit %d %s", r.code, r.stderr)
	}
}

// TestAuditManifests: the receiver's chart renders (its two required
// Secrets asked for by name) and scans clean above low at restricted.
func TestAuditManifests(t *testing.T) {
	if r := rampart(t, "", "audit", "manifests"); r.code != ExitError || !strings.Contains(r.stderr, "tls.existingSecret is required") {
		t.Errorf("without the serving certificate: exit %d %s", r.code, r.stderr)
	}
	r := rampart(t, "", "audit", "manifests", "-n", "guard", "--set", "tls.existingSecret=t,clientCA.existingSecret=c,service.clusterIP=10.96.0.250")
	if r.code != ExitOK || !strings.Contains(r.stdout, "kind: StatefulSet") || !strings.Contains(r.stdout, "clusterIP: 10.96.0.250") || !strings.Contains(r.stdout, "--client-ca-file=/client-ca/ca.crt") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if s := rampart(t, r.stdout, "scan", "-", "--fail-on", "medium", "--pss-level", "restricted"); s.code != ExitOK {
		t.Errorf("the manifests scan with findings above low:\n%s", s.stdout)
	}
}
