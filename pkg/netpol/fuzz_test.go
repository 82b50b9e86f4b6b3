package netpol

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// FuzzEngine: any NetworkPolicy the decoder accepts either fails New with
// an error or is evaluated without panicking, and the class matrix agrees
// with Decide on it.
func FuzzEngine(f *testing.F) {
	for _, seed := range []string{
		"metadata: {name: p, namespace: x}\nspec: {podSelector: {}}",
		"metadata: {name: p, namespace: x}\nspec: {podSelector: {matchLabels: {app: a}}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}], ports: [{port: 80, endPort: 90}, {port: serve-81-tcp, protocol: UDP}]}]}",
		"metadata: {name: p, namespace: x}\nspec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: team, operator: Exists}]}, podSelector: {}}]}]}",
		"metadata: {name: p, namespace: x}\nspec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: \"::/0\", except: [\"2001:db8::/32\"]}}], ports: [{port: 65535, endPort: 1}]}]}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		np := &networkingv1.NetworkPolicy{}
		if err := yaml.Unmarshal(data, np); err != nil {
			return
		}
		e, err := New([]*networkingv1.NetworkPolicy{np})
		if err != nil {
			return
		}
		pods := []*Pod{
			{Namespace: "x", NSLabels: map[string]string{"kubernetes.io/metadata.name": "x", "team": "red"}, Labels: map[string]string{"app": "a"},
				Ports: []corev1.ContainerPort{{Name: "serve-81-tcp", ContainerPort: 81, Protocol: corev1.ProtocolUDP}}},
			{Namespace: "y", NSLabels: map[string]string{"kubernetes.io/metadata.name": "y"}, Labels: map[string]string{"app": "b"}, IP: netip.MustParseAddr("10.1.2.3")},
		}
		groups, exts, cells := e.Matrix(pods)
		endpoint := func(ci int) Endpoint {
			if ci >= len(groups) {
				return Endpoint{IP: exts[ci-len(groups)].IP}
			}
			return Endpoint{Pod: pods[groups[ci][0]]}
		}
		for _, c := range cells {
			got := e.Decide(endpoint(c.From), endpoint(c.To), Port{Protocol: c.Port.Protocol, Number: c.Port.From}).Allowed
			if got != c.Allowed {
				t.Fatalf("matrix %v, Decide %v for %+v", c.Allowed, got, c)
			}
		}
	})
}
