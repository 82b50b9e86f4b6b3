package netpol

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

func policies(t *testing.T, docs string) []*networkingv1.NetworkPolicy {
	t.Helper()
	var out []*networkingv1.NetworkPolicy
	for _, d := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(d) == "" {
			continue
		}
		np := &networkingv1.NetworkPolicy{}
		if err := yaml.UnmarshalStrict([]byte(d), np); err != nil {
			t.Fatalf("%v in\n%s", err, d)
		}
		out = append(out, np)
	}
	return out
}

func pod(ns, app string, ports ...corev1.ContainerPort) Endpoint {
	return Endpoint{Pod: &Pod{Namespace: ns, NSLabels: map[string]string{"kubernetes.io/metadata.name": ns, "team": map[string]string{"x": "red", "y": "red", "z": "blue"}[ns]}, Labels: map[string]string{"app": app}, Ports: ports}}
}

func ip(s string) Endpoint { return Endpoint{IP: netip.MustParseAddr(s)} }

var (
	tcp80  = Port{Protocol: corev1.ProtocolTCP, Number: 80}
	tcp81  = Port{Protocol: corev1.ProtocolTCP, Number: 81}
	udp80  = Port{Protocol: corev1.ProtocolUDP, Number: 80}
	sctp80 = Port{Protocol: corev1.ProtocolSCTP, Number: 80}
)

func TestDecide(t *testing.T) {
	denyIngressX := `
metadata: {name: deny, namespace: x}
spec: {podSelector: {}}`
	web := corev1.ContainerPort{Name: "web", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}
	tests := []struct {
		name     string
		policies string
		src, dst Endpoint
		port     Port
		want     bool
		// deciding policy/rule expected on the isolated side, when set
		wantPolicy string
		wantRule   int
	}{
		{name: "no policy allows all", src: pod("x", "a"), dst: pod("y", "b"), port: tcp80, want: true},
		{name: "empty podSelector without rules denies ingress", policies: denyIngressX, src: pod("y", "a"), dst: pod("x", "b"), port: tcp80},
		{name: "ingress deny leaves egress of the same pods open", policies: denyIngressX, src: pod("x", "a"), dst: pod("y", "b"), port: tcp80, want: true},
		{name: "ingress deny of x does not touch y", policies: denyIngressX, src: pod("x", "a"), dst: pod("y", "b"), port: tcp81, want: true},
		{name: "policyTypes Egress without rules denies egress", policies: `
metadata: {name: deny-egress, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress]}`, src: pod("x", "a"), dst: pod("y", "b"), port: tcp80},
		{name: "policyTypes omitted with egress rules isolates egress", policies: `
metadata: {name: egress-to-b, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  egress: [{to: [{podSelector: {matchLabels: {app: b}}}]}]`, src: pod("x", "a"), dst: pod("x", "c"), port: tcp80},
		{name: "policyTypes omitted with egress rules allows the listed peer", policies: `
metadata: {name: egress-to-b, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  egress: [{to: [{podSelector: {matchLabels: {app: b}}}]}]`, src: pod("x", "a"), dst: pod("x", "b"), port: tcp80, want: true, wantPolicy: "x/egress-to-b"},
		{name: "podSelector peer alone means the policy's namespace", policies: `
metadata: {name: from-a, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {matchLabels: {app: a}}}]}]`, src: pod("y", "a"), dst: pod("x", "b"), port: tcp80},
		{name: "namespaceSelector alone: every pod of matching namespaces", policies: `
metadata: {name: from-red, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: red}}}]}]`, src: pod("y", "c"), dst: pod("x", "b"), port: tcp80, want: true, wantPolicy: "x/from-red"},
		{name: "namespaceSelector alone excludes other namespaces", policies: `
metadata: {name: from-red, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: red}}}]}]`, src: pod("z", "c"), dst: pod("x", "b"), port: tcp80},
		{name: "both selectors in one peer: and", policies: `
metadata: {name: and, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: red}}, podSelector: {matchLabels: {app: a}}}]}]`, src: pod("y", "c"), dst: pod("x", "b"), port: tcp80},
		{name: "two peers: or", policies: `
metadata: {name: or, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: red}}}, {podSelector: {matchLabels: {app: a}}}]}]`, src: pod("y", "c"), dst: pod("x", "b"), port: tcp80, want: true, wantPolicy: "x/or"},
		{name: "empty namespaceSelector: every namespace", policies: `
metadata: {name: any-ns, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: c}}}]}]`, src: pod("z", "c"), dst: pod("x", "b"), port: tcp80, want: true},
		{name: "matchExpressions NotIn", policies: `
metadata: {name: not-c, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [c]}]}}]}]`, src: pod("z", "c"), dst: pod("x", "b"), port: tcp80},
		{name: "empty rule allows every source", policies: `
metadata: {name: all-in, namespace: x}
spec: {podSelector: {}, ingress: [{}]}`, src: ip("203.0.113.9"), dst: pod("x", "b"), port: tcp80, want: true, wantPolicy: "x/all-in"},
		{name: "ipBlock allows an address in the CIDR", policies: `
metadata: {name: cidr, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]}]`, src: ip("10.2.3.4"), dst: pod("x", "b"), port: tcp80, want: true},
		{name: "ipBlock except removes a range", policies: `
metadata: {name: cidr, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]}]`, src: ip("10.1.3.4"), dst: pod("x", "b"), port: tcp80},
		{name: "ipBlock IPv6", policies: `
metadata: {name: cidr6, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: "2001:db8::/32", except: ["2001:db8:1::/48"]}}]}]`, src: pod("x", "a"), dst: ip("2001:db8:2::1"), port: tcp80, want: true},
		{name: "ipBlock IPv6 except", policies: `
metadata: {name: cidr6, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: "2001:db8::/32", except: ["2001:db8:1::/48"]}}]}]`, src: pod("x", "a"), dst: ip("2001:db8:1::1"), port: tcp80},
		{name: "ipBlock does not match a pod without a known IP", policies: `
metadata: {name: cidr, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]`, src: pod("y", "a"), dst: pod("x", "b"), port: tcp80},
		{name: "selectors never match an external address", policies: `
metadata: {name: from-any-pod, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}]}]`, src: ip("10.2.3.4"), dst: pod("x", "b"), port: tcp80},
		{name: "port without protocol is TCP", policies: `
metadata: {name: p80, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 80}]}]`, src: pod("y", "a"), dst: pod("x", "b"), port: udp80},
		{name: "SCTP port", policies: `
metadata: {name: sctp, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 80, protocol: SCTP}]}]`, src: pod("y", "a"), dst: pod("x", "b"), port: sctp80, want: true},
		{name: "protocol without port: every port of it", policies: `
metadata: {name: udp, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{protocol: UDP}]}]`, src: pod("y", "a"), dst: pod("x", "b"), port: udp80, want: true},
		{name: "endPort range includes its end", policies: `
metadata: {name: range, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 79, endPort: 81}]}]`, src: pod("y", "a"), dst: pod("x", "b"), port: tcp81, want: true},
		{name: "endPort range excludes beyond", policies: `
metadata: {name: range, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 70, endPort: 79}]}]`, src: pod("y", "a"), dst: pod("x", "b"), port: tcp80},
		{name: "named port resolves on the destination", policies: `
metadata: {name: named, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: web}]}]`, src: pod("y", "a"), dst: pod("x", "b", web), port: Port{Protocol: corev1.ProtocolTCP, Number: 8080}, want: true},
		{name: "named port absent on the destination", policies: `
metadata: {name: named, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: web}]}]`, src: pod("y", "a"), dst: pod("x", "b"), port: Port{Protocol: corev1.ProtocolTCP, Number: 8080}},
		{name: "named port with another number", policies: `
metadata: {name: named, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: web}]}]`, src: pod("y", "a"), dst: pod("x", "b", web), port: tcp80},
		{name: "policies are a union; second rule decides", policies: denyIngressX + `
---
metadata: {name: web, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{from: [{podSelector: {matchLabels: {app: nobody}}}]}, {ports: [{port: 80}]}]`, src: pod("y", "a"), dst: pod("x", "b"), port: tcp80, want: true, wantPolicy: "x/web", wantRule: 1},
		{name: "egress and ingress both needed", policies: `
metadata: {name: deny-egress, namespace: "y"}
spec: {podSelector: {}, policyTypes: [Egress]}
---
metadata: {name: all-in, namespace: x}
spec: {podSelector: {}, ingress: [{}]}`, src: pod("y", "a"), dst: pod("x", "b"), port: tcp80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(policies(t, tt.policies))
			if err != nil {
				t.Fatal(err)
			}
			v := e.Decide(tt.src, tt.dst, tt.port)
			if v.Allowed != tt.want {
				t.Fatalf("allowed = %v, want %v (%+v)", v.Allowed, tt.want, v)
			}
			if tt.wantPolicy != "" {
				s := v.Ingress
				if !s.Isolated || s.Policy == "" {
					s = v.Egress
				}
				if s.Policy != tt.wantPolicy || s.Rule != tt.wantRule {
					t.Errorf("decided by %s rule %d, want %s rule %d", s.Policy, s.Rule, tt.wantPolicy, tt.wantRule)
				}
			}
			if !v.Allowed {
				denied := v.Ingress
				if v.Egress.Isolated && !v.Egress.Allowed {
					denied = v.Egress
				}
				if len(denied.Policies) == 0 {
					t.Errorf("a denial names no isolating policy: %+v", v)
				}
			}
		})
	}
}

func TestNewRejectsInvalidPolicies(t *testing.T) {
	tests := []struct{ name, policy, want string }{
		{"bad CIDR", `
metadata: {name: bad, namespace: x}
spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]}`, "x/bad: spec.ingress[0].from: [0].ipBlock.cidr"},
		{"bad except", `
metadata: {name: bad, namespace: x}
spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [nope]}}]}]}`, "x/bad: spec.egress[0].to: [0].ipBlock.except[0]"},
		{"bad operator", `
metadata: {name: bad, namespace: x}
spec: {podSelector: {matchExpressions: [{key: app, operator: Near}]}}`, "x/bad: spec.podSelector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(policies(t, tt.policy))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestPodAddressesFromInventory: a Pod's status.podIP lets ipBlock rules
// judge it as the dataplane does; running pods stand for the controllers
// that own them.
func TestPodAddressesFromInventory(t *testing.T) {
	docs := `apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-rs, uid: rs-1, controller: true}]
spec: {containers: [{name: c, image: nginx}]}
status:
  podIP: 10.1.2.3
  podIPs: [{ip: 10.1.2.3}, {ip: "fd00::3"}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-rs, namespace: shop, uid: rs-1}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: postgres, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{ipBlock: {cidr: 10.1.0.0/16}}]}]
`
	objs, errs := manifest.Parse("pods.yaml", []byte(docs))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ws, pols := FromInventory(inventory.New(objs))
	var names []string
	var web, db *Pod
	for _, w := range ws {
		names = append(names, w.Name)
		switch w.Name {
		case "shop/Pod/web-1":
			web = w.Pod
		case "shop/Pod/db":
			db = w.Pod
		}
	}
	if strings.Join(names, ",") != "shop/Pod/db,shop/Pod/web-1" {
		t.Fatalf("workloads %v: the ReplicaSet whose pod runs must be left out", names)
	}
	if web.IP.String() != "10.1.2.3" {
		t.Errorf("web's address %v", web.IP)
	}
	e, err := New(pols)
	if err != nil {
		t.Fatal(err)
	}
	if v := e.Decide(Endpoint{Pod: web}, Endpoint{Pod: db}, Port{Protocol: "TCP", Number: 5432}); !v.Allowed {
		t.Errorf("web (10.1.2.3) to db through the ipBlock: denied %+v", v)
	}
	web.IP = netip.Addr{}
	if v := e.Decide(Endpoint{Pod: web}, Endpoint{Pod: db}, Port{Protocol: "TCP", Number: 5432}); v.Allowed {
		t.Errorf("a pod without an address matched an ipBlock")
	}
}
