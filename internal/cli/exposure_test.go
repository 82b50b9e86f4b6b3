package cli

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/exposure"
)

const exposureFixtures = "../../pkg/exposure/testdata/"

func TestExposureFormats(t *testing.T) {
	text := rampart(t, "", "exposure", exposureFixtures+"services.yaml", exposureFixtures+"ingress.yaml")
	if text.code != 0 || !strings.Contains(text.stdout, "NodePort      -") || !strings.Contains(text.stdout, "in-cluster encryption: unknown") {
		t.Errorf("text: exit %d\n%s%s", text.code, text.stdout, text.stderr)
	}
	if !strings.Contains(text.stderr, "notice: Service shop/gone:80 is not in the input") {
		t.Errorf("the missing backend is not noticed: %s", text.stderr)
	}
	js := rampart(t, "", "exposure", exposureFixtures+"gateway.yaml", "-o", "json")
	var inv exposure.Inventory
	if err := json.Unmarshal([]byte(js.stdout), &inv); err != nil || len(inv.Entries) != 3 {
		t.Fatalf("json: %v, %d entries\n%s", err, len(inv.Entries), js.stdout)
	}
	c := rampart(t, "", "exposure", exposureFixtures+"host.yaml", "-o", "csv")
	rows, err := csv.NewReader(strings.NewReader(c.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// The host-network exporter on each of the node's two addresses, and
	// the host port on its hostIP.
	if len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") {
		t.Errorf("csv rows:\n%s", c.stdout)
	}
	sarif := rampart(t, "", "exposure", exposureFixtures+"istio.yaml", "-o", "sarif")
	if sarif.code != 1 || !strings.Contains(sarif.stdout, "mesh-mtls-disabled") {
		t.Errorf("sarif: exit %d (want 1: a high finding)\n%s", sarif.code, sarif.stderr)
	}
	bad := rampart(t, "", "exposure", "--watch", exposureFixtures)
	if bad.code != 2 || !strings.Contains(bad.stderr, "--watch needs --cluster") {
		t.Errorf("--watch without --cluster: exit %d %s", bad.code, bad.stderr)
	}
}

// TestExposureBaseline: a baseline of today's entries makes a new NodePort
// the only thing reported, and --fail-on info fails on it.
func TestExposureBaseline(t *testing.T) {
	dir := t.TempDir()
	baseline := filepath.Join(dir, "baseline.json")
	if r := rampart(t, "", "exposure", exposureFixtures+"ingress.yaml", "--write-baseline", baseline, "--fail-on", "none"); r.code != 0 {
		t.Fatalf("write-baseline: exit %d %s", r.code, r.stderr)
	}
	same := rampart(t, "", "exposure", exposureFixtures+"ingress.yaml", "--baseline", baseline, "--fail-on", "info", "-o", "json")
	if same.code != 0 {
		t.Errorf("nothing new: exit %d\n%s", same.code, same.stdout)
	}
	both := rampart(t, "", "exposure", exposureFixtures+"ingress.yaml", exposureFixtures+"host.yaml", "--baseline", baseline, "--fail-on", "info", "-o", "json")
	var inv exposure.Inventory
	if err := json.Unmarshal([]byte(both.stdout), &inv); err != nil {
		t.Fatal(err)
	}
	if both.code != 1 || len(inv.Entries) != 2 {
		t.Errorf("new entries: exit %d, %d entries (want the two host entries)\n%s", both.code, len(inv.Entries), both.stdout)
	}
}

func TestExposureDiff(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.yaml")
	data, err := os.ReadFile(exposureFixtures + "services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, data, 0o644); err != nil {
		t.Fatal(err)
	}
	next := filepath.Join(dir, "new.yaml")
	changed := strings.Replace(string(data), "loadBalancerSourceRanges: [10.0.0.0/8]", "loadBalancerSourceRanges: [0.0.0.0/0]", 1)
	changed = strings.Replace(changed, "nodePort: 30080", "nodePort: 30090", 1)
	if err := os.WriteFile(next, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	r := rampart(t, "", "exposure", "diff", old, next, "--exit-code")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"+ NodePort shop/web-np 30090/TCP", "- NodePort shop/web-np 30080/TCP", "~ LoadBalancer shop/web-lb 443/TCP: LoadBalancer 443/TCP on 203.0.113.50, from 0.0.0.0/0", "was: LoadBalancer 443/TCP on 203.0.113.50, from 10.0.0.0/8"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("diff lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := rampart(t, "", "exposure", "diff", old, old, "--exit-code"); r.code != 0 || r.stdout != "" {
		t.Errorf("no change: exit %d\n%s", r.code, r.stdout)
	}
}

func TestNetpolExplainL7(t *testing.T) {
	r := rampart(t, "", "netpol", "explain", "mesh/worker", "mesh/api", exposureFixtures+"istio.yaml", "--port", "8080")
	if r.code != 0 || !strings.Contains(r.stdout, "L7 (requests on this connection):") || !strings.Contains(r.stdout, "AuthorizationPolicy mesh/api-read rules[0].to[0] ALLOW: methods GET; paths /v1/* from namespaces mesh") {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
	j := rampart(t, "", "netpol", "explain", "shop/frontend", "shop/api", exposureFixtures+"cilium.yaml", "--port", "8080", "-o", "json")
	var out struct {
		Verdict struct {
			Ingress struct{ Policy string }
		}
		L7 []struct{ Source string }
	}
	if err := json.Unmarshal([]byte(j.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.Verdict.Ingress.Policy != "shop/CiliumNetworkPolicy:api-l7" || len(out.L7) != 1 {
		t.Errorf("cilium: %+v\n%s", out, j.stdout)
	}
}

// TestExposureBaselineRoute: a route added on a listener the baseline knows
// is new (entries sharing a field are told apart by their IDs).
func TestExposureBaselineRoute(t *testing.T) {
	dir := t.TempDir()
	baseline := filepath.Join(dir, "baseline.json")
	if r := rampart(t, "", "exposure", exposureFixtures+"gateway.yaml", "--write-baseline", baseline, "--fail-on", "none"); r.code != 0 {
		t.Fatalf("write-baseline: exit %d %s", r.code, r.stderr)
	}
	extra := filepath.Join(dir, "admin.yaml")
	route := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: admin, namespace: shop}
spec:
  parentRefs: [{name: public, namespace: infra, sectionName: http}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /admin}}]
    backendRefs: [{name: api, port: 8080}]
`
	if err := os.WriteFile(extra, []byte(route), 0o644); err != nil {
		t.Fatal(err)
	}
	r := rampart(t, "", "exposure", exposureFixtures+"gateway.yaml", extra, "--baseline", baseline, "--fail-on", "info", "-o", "json")
	var inv exposure.Inventory
	if err := json.Unmarshal([]byte(r.stdout), &inv); err != nil {
		t.Fatal(err)
	}
	if r.code != 1 || len(inv.Entries) != 1 || !strings.Contains(inv.Entries[0].ID, "HTTPRoute shop/admin") {
		t.Errorf("exit %d, entries %+v; want the new route alone", r.code, inv.Entries)
	}
}
