package netpol

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// benchWorld: 50 namespaces of 100 workloads (5,000) with distinct app
// labels and one of three tiers, and 10 policies a namespace (500): default
// deny both ways, tier-to-tier rules on numbered and named ports, DNS egress,
// an ingress-controller namespace, a port range, and a CIDR.
func benchWorld() ([]*Pod, []*networkingv1.NetworkPolicy) {
	tiers := []string{"web", "api", "db"}
	var pods []*Pod
	var pols []*networkingv1.NetworkPolicy
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	sel := func(kv ...string) *metav1.LabelSelector {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return &metav1.LabelSelector{MatchLabels: m}
	}
	port := func(p *corev1.Protocol, n int32) networkingv1.NetworkPolicyPort {
		v := intstr.FromInt32(n)
		return networkingv1.NetworkPolicyPort{Protocol: p, Port: &v}
	}
	named := intstr.FromString("http")
	end := int32(9100)
	for n := range 50 {
		ns := fmt.Sprintf("team-%02d", n)
		nsLabels := map[string]string{"kubernetes.io/metadata.name": ns, "env": []string{"prod", "staging"}[n%2]}
		for w := range 100 {
			tier := tiers[w%3]
			pods = append(pods, &Pod{Namespace: ns, NSLabels: nsLabels,
				Labels: map[string]string{"app": fmt.Sprintf("svc-%d", w), "tier": tier},
				Ports:  []corev1.ContainerPort{{Name: "http", ContainerPort: 8080 + int32(w%3), Protocol: tcp}}})
		}
		mk := func(name string, spec networkingv1.NetworkPolicySpec) {
			pols = append(pols, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec})
		}
		both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
		ing := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		egr := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		mk("default-deny", networkingv1.NetworkPolicySpec{PolicyTypes: both})
		mk("dns", networkingv1.NetworkPolicySpec{PolicyTypes: egr, Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", "kube-system")}}, Ports: []networkingv1.NetworkPolicyPort{port(&udp, 53), port(&tcp, 53)}}}})
		mk("web-from-ingress", networkingv1.NetworkPolicySpec{PodSelector: *sel("tier", "web"), PolicyTypes: ing, Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", "ingress")}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &named}}}}})
		mk("api-from-web", networkingv1.NetworkPolicySpec{PodSelector: *sel("tier", "api"), PolicyTypes: ing, Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("tier", "web")}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &named}}}}})
		mk("web-to-api", networkingv1.NetworkPolicySpec{PodSelector: *sel("tier", "web"), PolicyTypes: egr, Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("tier", "api")}}}}})
		mk("db-from-api", networkingv1.NetworkPolicySpec{PodSelector: *sel("tier", "db"), PolicyTypes: ing, Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("tier", "api")}}, Ports: []networkingv1.NetworkPolicyPort{port(&tcp, 5432)}}}})
		mk("api-to-db", networkingv1.NetworkPolicySpec{PodSelector: *sel("tier", "api"), PolicyTypes: egr, Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("tier", "db")}}, Ports: []networkingv1.NetworkPolicyPort{port(&tcp, 5432)}}}})
		mk("metrics", networkingv1.NetworkPolicySpec{PolicyTypes: ing, Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", "monitoring"), PodSelector: sel("app", "prometheus")}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: func() *intstr.IntOrString { v := intstr.FromInt32(9090); return &v }(), EndPort: &end}}}}})
		mk("prod-peers", networkingv1.NetworkPolicySpec{PodSelector: *sel("tier", "api"), PolicyTypes: ing, Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("env", "prod"), PodSelector: sel("tier", "api")}}}}})
		mk("egress-cidr", networkingv1.NetworkPolicySpec{PodSelector: *sel("tier", "api"), PolicyTypes: egr, Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.96.0.0/12"}}}}}}})
	}
	return pods, pols
}

// BenchmarkMatrix: compile 500 policies, group 5,000 workloads into classes
// and decide every pair of classes on every port class.
func BenchmarkMatrix(b *testing.B) {
	pods, pols := benchWorld()
	b.ResetTimer()
	for b.Loop() {
		e, err := New(pols)
		if err != nil {
			b.Fatal(err)
		}
		groups, exts, cells := e.Matrix(pods)
		b.ReportMetric(float64(len(groups)+len(exts)), "classes")
		b.ReportMetric(float64(len(cells)), "cells")
	}
}

// BenchmarkExplain: one pod-to-pod decision with its reasons, 500 policies.
func BenchmarkExplain(b *testing.B) {
	pods, pols := benchWorld()
	e, err := New(pols)
	if err != nil {
		b.Fatal(err)
	}
	src, dst := Endpoint{Pod: pods[1]}, Endpoint{Pod: pods[2]}
	b.ResetTimer()
	for b.Loop() {
		e.Decide(src, dst, Port{Protocol: corev1.ProtocolTCP, Number: 5432})
	}
}
