package exposure

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func analyze(t *testing.T, file string) *Inventory {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	objs, errs := manifest.Parse("testdata/"+file, data)
	if len(errs) > 0 {
		t.Fatalf("%s: %v", file, errs)
	}
	inv, err := Analyze(inventory.New(objs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func entry(t *testing.T, inv *Inventory, id string) Entry {
	t.Helper()
	for _, e := range inv.Entries {
		if e.ID == id {
			return e
		}
	}
	var ids []string
	for _, e := range inv.Entries {
		ids = append(ids, e.ID)
	}
	t.Fatalf("no entry %q; have:\n%s", id, strings.Join(ids, "\n"))
	return Entry{}
}

func findings(inv *Inventory, check string) []finding.Finding {
	var out []finding.Finding
	for _, f := range inv.Findings {
		if f.CheckID == check {
			out = append(out, f)
		}
	}
	return out
}

// TestFixtures: one fixture per kind of entry point and mesh setting, with
// the rows and findings each must give; the whole inventory is a golden.
func TestFixtures(t *testing.T) {
	for _, tc := range []struct {
		file  string
		check func(t *testing.T, inv *Inventory)
	}{
		{"services.yaml", func(t *testing.T, inv *Inventory) {
			lb := entry(t, inv, "LoadBalancer shop/web-lb 443/TCP")
			if strings.Join(lb.Sources, ",") != "10.0.0.0/8" || strings.Join(lb.Addresses, ",") != "203.0.113.50" {
				t.Errorf("load balancer: sources %v, addresses %v", lb.Sources, lb.Addresses)
			}
			if len(lb.Targets) != 1 || lb.Targets[0].Port != 8080 || !lb.Targets[0].Open || lb.Targets[0].NetworkPolicy != "allowed by shop/allow-office" {
				t.Errorf("load balancer targets: %+v (want web:8080 through the named port, allowed by the office policy)", lb.Targets)
			}
			// A LoadBalancer allocates node ports too.
			entry(t, inv, "NodePort shop/web-lb port 443/TCP (node port allocated)")
			np := entry(t, inv, "NodePort shop/web-np 30080/TCP")
			if len(np.Targets) != 1 || np.Targets[0].Open || !strings.HasPrefix(np.Targets[0].NetworkPolicy, "denied (isolated by shop/allow-office") {
				t.Errorf("node port from the world: %+v, want denied by the office-only policy", np.Targets)
			}
			ext := entry(t, inv, "ExternalIP shop/web-ext 198.51.100.7:8080/TCP")
			if ext.Field != "spec.externalIPs[0]" || ext.Where == nil || ext.Where.Line == 0 {
				t.Errorf("external IP: field %s at %v", ext.Field, ext.Where)
			}
			if len(inv.Entries) != 4 || len(findings(inv, CheckEntry.ID)) != 4 {
				t.Errorf("%d entries, %d entry findings; want 4", len(inv.Entries), len(findings(inv, CheckEntry.ID)))
			}
		}},
		{"host.yaml", func(t *testing.T, inv *Inventory) {
			hn := entry(t, inv, "HostNetwork monitoring/DaemonSet/node-exporter exporter 9100/TCP")
			if strings.Join(hn.Addresses, ",") != "10.1.0.11,192.0.2.11" || !hn.Targets[0].Open {
				t.Errorf("host network: %+v", hn)
			}
			hp := entry(t, inv, "HostPort edge/Deployment/edge proxy 8443/TCP")
			if strings.Join(hp.Addresses, ",") != "192.0.2.5" || hp.Targets[0].Port != 443 || hp.Targets[0].NetworkPolicy != "not isolated" {
				t.Errorf("host port: %+v", hp)
			}
		}},
		{"ingress.yaml", func(t *testing.T, inv *Inventory) {
			sec := entry(t, inv, "Ingress shop/web shop.example.com/ -> Service shop/web:80")
			if sec.TLS != TLSTerminated || sec.Port != 443 || len(sec.Targets) != 1 || sec.Targets[0].Port != 8080 {
				t.Errorf("TLS host: %+v", sec)
			}
			old := entry(t, inv, "Ingress shop/web legacy.example.com/old -> Service shop/web:http")
			if old.TLS != TLSNone || old.Backend != "Service shop/web:http" || len(old.Targets) != 1 {
				t.Errorf("plaintext host by port name: %+v", old)
			}
			gone := entry(t, inv, "Ingress shop/web legacy.example.com/missing -> Service shop/gone:80")
			if len(gone.Targets) != 0 || len(inv.Notices) != 1 {
				t.Errorf("missing backend: %+v, notices %v", gone, inv.Notices)
			}
			if p := findings(inv, CheckPlaintext.ID); len(p) != 2 {
				t.Errorf("plaintext findings: %d, want the two legacy paths", len(p))
			}
		}},
		{"gateway.yaml", func(t *testing.T, inv *Inventory) {
			https := entry(t, inv, "Gateway infra/public https 443 HTTPRoute shop/api spec.rules[0] api.example.com/v1 -> Service shop/api:8080")
			if https.TLS != TLSTerminated || strings.Join(https.Addresses, ",") != "203.0.113.80" {
				t.Errorf("https listener: %+v", https)
			}
			if len(https.Targets) != 1 || https.Targets[0].Open {
				t.Errorf("api allows only the infra namespace: %+v", https.Targets)
			}
			pass := entry(t, inv, "Gateway infra/public pass 8443 TLSRoute shop/raw spec.rules[0] raw.example.com -> Service shop/api:8080")
			if pass.TLS != TLSPassthrough {
				t.Errorf("passthrough: %+v", pass)
			}
			entry(t, inv, "Gateway infra/public http 80 GRPCRoute shop/rpc spec.rules[0] */shop.Orders/Get -> Service shop/api:8080")
			if len(findings(inv, CheckPassthroughPlaintext.ID)) != 1 {
				t.Error("want a passthrough-to-plaintext finding")
			}
			if len(findings(inv, CheckPlaintext.ID)) != 1 {
				t.Errorf("plaintext: want the HTTP listener's route, got %v", findings(inv, CheckPlaintext.ID))
			}
			if !strings.Contains(strings.Join(inv.Notices, "\n"), "HTTPRoute shop/orphan (testdata/gateway.yaml:92:3) attaches to no Gateway listener") {
				t.Errorf("notices: %v", inv.Notices)
			}
		}},
		{"gateway-attach.yaml", func(t *testing.T, inv *Inventory) {
			var ids []string
			for _, e := range inv.Entries {
				ids = append(ids, e.ID)
			}
			want := []string{
				// bar.example.com only under the wildcard listener; other.org nowhere
				"Gateway web/gw dns 53 UDPRoute web/dns spec.rules[0] * -> Service web/bar:80",
				"Gateway web/gw foo 443 (no route)",
				"Gateway web/gw grpc-only 8080 (no route)",
				"Gateway web/gw redirect 81 HTTPRoute web/to-https spec.rules[0] * -> (redirect to https)",
				"Gateway web/gw redirect 81 HTTPRoute web/to-https spec.rules[1] * -> (no backend)",
				"Gateway web/gw tls 8443 (no route)",
				"Gateway web/gw wild 80 HTTPRoute web/bar spec.rules[0] bar.example.com -> Service web/bar:80",
			}
			if strings.Join(ids, "\n") != strings.Join(want, "\n") {
				t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(ids, "\n"), strings.Join(want, "\n"))
			}
			for _, e := range inv.Entries {
				if strings.HasPrefix(e.ID, "Gateway web/gw tls ") && e.TLS != TLSTerminated {
					t.Errorf("a TLS listener without mode terminates (the field's default): %s", e.TLS)
				}
			}
			if n := len(findings(inv, CheckPlaintext.ID)); n != 1 {
				t.Errorf("plaintext findings: %d, want the wildcard listener's route only (a redirect to https serves none)", n)
			}
			notices := strings.Join(inv.Notices, "\n")
			for _, want := range []string{"no ReferenceGrant there allows it", "HTTPRoute private/hidden (testdata/gateway-attach.yaml:"} {
				if !strings.Contains(notices, want) {
					t.Errorf("notices lack %q:\n%s", want, notices)
				}
			}
		}},
		{"istio.yaml", func(t *testing.T, inv *Inventory) {
			enc := map[string]WorkloadEncryption{}
			for _, w := range inv.Workloads {
				enc[w.Workload] = w
			}
			want := map[string]string{
				"mesh/Deployment/api":    "mTLS (istio STRICT)",
				"mesh/Deployment/legacy": "plaintext (istio DISABLE)",
				"mesh/Deployment/worker": "plaintext accepted (istio PERMISSIVE)",
				"plain/Deployment/batch": "plaintext (not in the mesh)",
				// An empty selector is namespace level; a gateway is not a
				// sidecar; a Namespace not in the input leaves it unknown.
				"edge/Deployment/svc":     "plaintext (istio DISABLE)",
				"edge/Deployment/ingress": "istio gateway (its listeners' TLS, not PeerAuthentication)",
				"ext/Deployment/orphan":   "unknown (its Namespace is not in the input)",
			}
			for w, e := range want {
				if enc[w].Encryption != e {
					t.Errorf("%s: %q, want %q (%s)", w, enc[w].Encryption, e, enc[w].DecidedBy)
				}
			}
			if enc["mesh/Deployment/legacy"].Ports["8443"] == "" {
				t.Errorf("legacy port 8443: want the port-level STRICT listed, got %v", enc["mesh/Deployment/legacy"].Ports)
			}
			if len(findings(inv, CheckMTLSDisabled.ID)) != 2 || len(findings(inv, CheckMTLSPermissive.ID)) != 1 ||
				len(findings(inv, CheckNotEnrolled.ID)) != 1 || len(findings(inv, CheckDestinationRuleTLS.ID)) != 3 {
				t.Errorf("findings: %v", inv.Findings)
			}
		}},
		{"linkerd.yaml", func(t *testing.T, inv *Inventory) {
			// The pod's skip-inbound-ports and the namespace's
			// skip-outbound-ports.
			if len(findings(inv, CheckLinkerdSkipPorts.ID)) != 2 || len(findings(inv, CheckNotEnrolled.ID)) != 1 {
				t.Errorf("findings: %v", inv.Findings)
			}
			enc := map[string]string{}
			for _, w := range inv.Workloads {
				enc[w.Workload] = w.Encryption
			}
			if enc["emojivoto/Deployment/web"] != "mTLS (linkerd)" || enc["other/Deployment/manual"] != "mTLS (linkerd)" || enc["emojivoto/Deployment/vote-bot"] != "plaintext (not in the mesh)" {
				t.Errorf("workloads: %v (an injected proxy container enrols the manual one)", enc)
			}
		}},
		{"cilium.yaml", func(t *testing.T, inv *Inventory) {
			if len(findings(inv, CheckCiliumEncryption.ID)) != 1 {
				t.Errorf("findings: %v", inv.Findings)
			}
			for _, w := range inv.Workloads {
				if !strings.HasPrefix(w.Encryption, "unknown") {
					t.Errorf("%s: %q, want unknown (encryption off, no mesh)", w.Workload, w.Encryption)
				}
			}
			if !strings.Contains(strings.Join(inv.Notices, "\n"), "entity host left out") {
				t.Errorf("notices: %v", inv.Notices)
			}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			inv := analyze(t, tc.file)
			tc.check(t, inv)
			got, err := json.MarshalIndent(inv, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", strings.TrimSuffix(tc.file, ".yaml")+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/exposure -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("inventory differs from %s (run go test ./pkg/exposure -update and review the diff)", golden)
			}
		})
	}
}

// TestNoMeshIsUnknown: with no mesh and no Cilium configuration, traffic
// inside the cluster is "encryption unknown", never encrypted.
func TestNoMeshIsUnknown(t *testing.T) {
	inv := analyze(t, "services.yaml")
	if len(inv.Mesh) != 0 || len(inv.Workloads) != 1 || !strings.HasPrefix(inv.Workloads[0].Encryption, "unknown") {
		t.Errorf("mesh %v, workloads %+v", inv.Mesh, inv.Workloads)
	}
}

func pa(ns, name string, sel map[string]string, mode string, ports map[int32]string, created string) *PeerAuthentication {
	p := &PeerAuthentication{Namespace: ns, Name: name, Selector: sel, Mode: mode, PortModes: ports}
	if created != "" {
		p.Created, _ = time.Parse(time.RFC3339, created)
	}
	return p
}

// TestIstioPrecedence: workload over namespace over mesh, the oldest at
// one level, a port-level mode over its policy's, UNSET inheriting, and
// PERMISSIVE when nothing applies.
func TestIstioPrecedence(t *testing.T) {
	app := map[string]string{"app": "api"}
	meshStrict := pa("istio-system", "mesh", nil, ModeStrict, nil, "2024-01-01T00:00:00Z")
	nsPermissive := pa("shop", "ns", nil, ModePermissive, nil, "2024-02-01T00:00:00Z")
	wlDisable := pa("shop", "wl", app, ModeDisable, map[int32]string{8443: ModeStrict, 9000: ModeUnset}, "2024-03-01T00:00:00Z")
	for _, tc := range []struct {
		name   string
		pols   []*PeerAuthentication
		ns     string
		port   int32
		mode   string
		policy string
		level  string
	}{
		{"nothing: PERMISSIVE", nil, "shop", 80, ModePermissive, "", "default"},
		{"mesh-wide", []*PeerAuthentication{meshStrict}, "shop", 80, ModeStrict, "mesh", "mesh"},
		{"namespace over mesh", []*PeerAuthentication{meshStrict, nsPermissive}, "shop", 80, ModePermissive, "ns", "namespace"},
		{"workload over namespace", []*PeerAuthentication{meshStrict, nsPermissive, wlDisable}, "shop", 80, ModeDisable, "wl", "workload"},
		{"port over workload", []*PeerAuthentication{meshStrict, nsPermissive, wlDisable}, "shop", 8443, ModeStrict, "wl", "port"},
		{"port UNSET inherits the workload's", []*PeerAuthentication{meshStrict, nsPermissive, wlDisable}, "shop", 9000, ModeDisable, "wl", "workload"},
		{"another namespace's policy does not apply", []*PeerAuthentication{meshStrict, nsPermissive, wlDisable}, "other", 80, ModeStrict, "mesh", "mesh"},
		{"workload UNSET inherits the namespace's",
			[]*PeerAuthentication{nsPermissive, pa("shop", "unset", app, ModeUnset, nil, "")}, "shop", 80, ModePermissive, "ns", "namespace"},
		{"namespace UNSET inherits the mesh's",
			[]*PeerAuthentication{meshStrict, pa("shop", "unset", nil, ModeUnset, nil, "")}, "shop", 80, ModeStrict, "mesh", "mesh"},
		{"oldest namespace policy wins",
			[]*PeerAuthentication{pa("shop", "newer", nil, ModeStrict, nil, "2025-01-01T00:00:00Z"), pa("shop", "older", nil, ModeDisable, nil, "2023-01-01T00:00:00Z")}, "shop", 80, ModeDisable, "older", "namespace"},
		{"oldest workload policy wins",
			[]*PeerAuthentication{pa("shop", "b", app, ModeStrict, nil, "2025-01-01T00:00:00Z"), pa("shop", "a", app, ModePermissive, nil, "2024-06-01T00:00:00Z")}, "shop", 80, ModePermissive, "a", "workload"},
		{"the same time: by name (as Istio breaks ties)",
			[]*PeerAuthentication{pa("shop", "zzz-strict", nil, ModeStrict, nil, "2024-05-01T10:00:00Z"), pa("shop", "aaa-permissive", nil, ModePermissive, nil, "2024-05-01T10:00:00Z")}, "shop", 80, ModePermissive, "aaa-permissive", "namespace"},
		{"without timestamps (manifests): by name",
			[]*PeerAuthentication{pa("shop", "second", nil, ModeDisable, nil, ""), pa("shop", "first", nil, ModeStrict, nil, "")}, "shop", 80, ModeStrict, "first", "namespace"},
		{"a selector that does not match",
			[]*PeerAuthentication{meshStrict, pa("shop", "db", map[string]string{"app": "db"}, ModeDisable, nil, "")}, "shop", 80, ModeStrict, "mesh", "mesh"},
		{"a selector-less policy in the root namespace is mesh-wide, not the root namespace's",
			[]*PeerAuthentication{meshStrict}, "istio-system", 80, ModeStrict, "mesh", "mesh"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Effective(tc.pols, IstioRootNamespace, tc.ns, app, tc.port)
			name := ""
			if d.Policy != nil {
				name = d.Policy.Name
			}
			if d.Mode != tc.mode || name != tc.policy || d.Level != tc.level {
				t.Errorf("got %s by %q at %s; want %s by %q at %s", d.Mode, name, d.Level, tc.mode, tc.policy, tc.level)
			}
		})
	}
}

// TestSingleAddressSources: a /32 source range is decided from that
// address.
func TestSingleAddressSources(t *testing.T) {
	if got := probe([]string{"198.51.100.7/32"}); got.String() != "198.51.100.7" {
		t.Errorf("probe(/32) = %s", got)
	}
	if got := probe([]string{"10.0.0.0/8"}); got.String() != "10.0.0.1" {
		t.Errorf("probe(/8) = %s", got)
	}
	if got := probe(world); got.String() != "203.0.113.10" {
		t.Errorf("probe(world) = %s", got)
	}
}

// TestInvalidPolicyCostsItself: a NetworkPolicy the API server would refuse
// is left out with an error naming its file and line; the entries remain.
func TestInvalidPolicyCostsItself(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "services.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := "\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: broken, namespace: shop}\nspec:\n  podSelector:\n    matchExpressions: [{key: app, operator: in, values: [web]}]\n"
	objs, errs := manifest.Parse("testdata/services.yaml", append(data, bad...))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	inv, err := Analyze(inventory.New(objs), Options{})
	if err != nil {
		t.Fatalf("one invalid policy stopped the analysis: %v", err)
	}
	if len(inv.Entries) != 4 || len(inv.Errors) != 1 || !strings.Contains(inv.Errors[0], "NetworkPolicy shop/broken: spec.podSelector") || !strings.Contains(inv.Errors[0], "(testdata/services.yaml:") {
		t.Errorf("entries %d, errors %v", len(inv.Entries), inv.Errors)
	}
}

// TestPassthroughOnce: a passthrough route with several hostnames (and a
// second rule to the same port) reports its plaintext backend once.
func TestPassthroughOnce(t *testing.T) {
	const y = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  gatewayClassName: x
  listeners: [{name: pass, port: 8443, protocol: TLS, tls: {mode: Passthrough}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: raw, namespace: shop}
spec:
  parentRefs: [{name: gw}]
  hostnames: [a.example.com, b.example.com]
  rules:
  - backendRefs: [{name: api, port: 8080}]
  - backendRefs: [{name: api, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{name: http, port: 8080}]
`
	objs, errs := manifest.Parse("pass.yaml", []byte(y))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	inv, err := Analyze(inventory.New(objs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(findings(inv, CheckPassthroughPlaintext.ID)); n != 1 {
		t.Errorf("%d passthrough findings, want 1", n)
	}
	if len(inv.Entries) != 4 {
		t.Errorf("%d entries, want two hostnames by two rules", len(inv.Entries))
	}
}
