package netpol

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

const ciliumFixture = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api, ports: [{containerPort: 8080}, {containerPort: 9090}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec: {containers: [{name: web, image: web}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: probe, namespace: monitoring}
spec:
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec: {containers: [{name: probe, image: probe}]}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {"k8s:app": frontend}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules: {http: [{method: GET, path: /public/.*}]}
  - fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": monitoring}}]
    toPorts: [{ports: [{port: "9090"}]}]
  - fromCIDR: [192.0.2.0/24]
  - fromEntities: [remote-node]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: frontend-egress, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: frontend}}
  egress:
  - toEndpoints: [{matchLabels: {app: api}}]
  egressDeny:
  - toEntities: [world]
`

// TestCiliumPolicies: CiliumNetworkPolicy L3/L4 rules decide as Cilium
// would where they map, with notices for what does not.
func TestCiliumPolicies(t *testing.T) {
	objs, errs := manifest.Parse("cnp.yaml", []byte(ciliumFixture))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	inv := inventory.New(objs)
	ws, pols := FromInventory(inv)
	cnp, notices := CiliumPolicies(inv)
	if len(cnp) != 2 {
		t.Fatalf("%d policies, want 2", len(cnp))
	}
	joined := strings.Join(notices, "\n")
	for _, want := range []string{"entity remote-node left out", "deny rules have no NetworkPolicy equivalent"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notices %v lack %q", notices, want)
		}
	}
	e, err := New(append(pols, cnp...))
	if err != nil {
		t.Fatal(err)
	}
	pod := map[string]*Pod{}
	for _, w := range ws {
		pod[w.Name] = w.Pod
	}
	api, front, probe := pod["shop/Deployment/api"], pod["shop/Deployment/frontend"], pod["monitoring/Deployment/probe"]
	for _, tc := range []struct {
		name     string
		src, dst Endpoint
		port     int32
		allowed  bool
	}{
		{"frontend to api on 8080", Endpoint{Pod: front}, Endpoint{Pod: api}, 8080, true},
		{"frontend to api on 9090", Endpoint{Pod: front}, Endpoint{Pod: api}, 9090, false},
		{"monitoring to api on 9090 (namespace label)", Endpoint{Pod: probe}, Endpoint{Pod: api}, 9090, true},
		{"monitoring to api on 8080", Endpoint{Pod: probe}, Endpoint{Pod: api}, 8080, false},
		{"the CIDR to api on any port", ip("192.0.2.9"), Endpoint{Pod: api}, 1234, true},
		{"elsewhere to api", ip("198.51.100.1"), Endpoint{Pod: api}, 8080, false},
		{"frontend egress to the probe (isolated for egress)", Endpoint{Pod: front}, Endpoint{Pod: probe}, 80, false},
	} {
		v := e.Decide(tc.src, tc.dst, Port{Protocol: corev1.ProtocolTCP, Number: tc.port})
		if v.Allowed != tc.allowed {
			t.Errorf("%s: allowed %v, want %v (%+v)", tc.name, v.Allowed, tc.allowed, v)
		}
	}
	l7 := L7Rules(inv, "istio-system")
	if len(l7) != 1 || !l7[0].Applies(api, 8080) || l7[0].Applies(api, 9090) || l7[0].Applies(front, 8080) {
		t.Fatalf("L7 rules: %+v", l7)
	}
	if d := l7[0].Describe(); !strings.Contains(d, "methods GET; paths /public/.*") {
		t.Errorf("describe: %s", d)
	}
}

// TestCiliumDirections: an empty ingress list does not isolate (Cilium
// enforces a direction that has rules), and namespace keys of one selector
// make one namespace selector whatever their order.
func TestCiliumDirections(t *testing.T) {
	const y = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: egress-only, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress: []
  egress:
  - toEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": db, "io.cilium.k8s.namespace.labels.tier": data}}]
`
	objs, errs := manifest.Parse("cnp.yaml", []byte(y))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for i := 0; i < 20; i++ {
		pols, _ := CiliumPolicies(inventory.New(objs))
		if len(pols) != 1 {
			t.Fatalf("%d policies", len(pols))
		}
		if types := pols[0].Spec.PolicyTypes; len(types) != 1 || types[0] != "Egress" {
			t.Fatalf("policy types %v, want Egress alone", types)
		}
		ns := pols[0].Spec.Egress[0].To[0].NamespaceSelector
		if ns == nil || ns.MatchLabels["kubernetes.io/metadata.name"] != "db" || ns.MatchLabels["tier"] != "data" {
			t.Fatalf("namespace selector %v, want both keys", ns)
		}
	}
}

// TestL7Rules: Istio's root-namespace policies apply everywhere, negative
// operations and conditions are described, and each Cilium HTTP rule is
// its own (a method goes with its path), ingress and egress.
func TestL7Rules(t *testing.T) {
	const y = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: istio-system}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules:
  - to: [{operation: {notPaths: [/public/*]}}]
    when: [{key: "request.auth.claims[iss]", values: [x]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - toPorts:
    - ports: [{port: "80"}]
      rules:
        http:
        - {method: GET, path: /a}
        - {method: PUT, path: /b, headers: ["X-Token: 1"]}
  egress:
  - toPorts:
    - ports: [{port: "53", protocol: UDP}]
      rules: {dns: [{matchPattern: "*"}]}
`
	objs, errs := manifest.Parse("l7.yaml", []byte(y))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	rules := L7Rules(inventory.New(objs), "istio-system")
	api := &Pod{Namespace: "shop", Labels: map[string]string{"app": "api"}}
	var got []string
	for _, r := range rules {
		if r.Applies(api, 80) || (r.Egress && r.Applies(api, 53)) {
			got = append(got, r.Describe())
		}
	}
	want := []string{
		"AuthorizationPolicy istio-system/deny-admin rules[0].to[0] DENY: paths other than /public/* from any source when request.auth.claims[iss] match",
		"CiliumNetworkPolicy shop/api egress[0].toPorts[0].rules.dns ALLOW: 1 DNS rules (names a proxy resolves) sent to the rule's other peers",
		"CiliumNetworkPolicy shop/api ingress[0].toPorts[0].rules.http[0] ALLOW: methods GET; paths /a from the rule's other peers",
		"CiliumNetworkPolicy shop/api ingress[0].toPorts[0].rules.http[1] ALLOW: methods PUT; paths /b; headers X-Token: 1 from the rule's other peers",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
