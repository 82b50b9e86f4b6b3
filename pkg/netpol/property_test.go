package netpol

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// world is a random set of pods, external addresses and policies over a
// small label universe, so that selectors often match.
type world struct {
	endpoints []Endpoint
	policies  []*networkingv1.NetworkPolicy
	ports     []Port
}

var (
	propNamespaces = []string{"x", "y", "z"}
	propApps       = []string{"a", "b", "c"}
)

func randSelector(r *rand.Rand, key string, values []string) *metav1.LabelSelector {
	switch r.IntN(4) {
	case 0:
		return &metav1.LabelSelector{}
	case 1:
		return &metav1.LabelSelector{MatchLabels: map[string]string{key: values[r.IntN(len(values))]}}
	case 2:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: metav1.LabelSelectorOpNotIn, Values: []string{values[r.IntN(len(values))]}}}}
	default:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: metav1.LabelSelectorOpIn, Values: []string{values[r.IntN(len(values))], values[r.IntN(len(values))]}}}}
	}
}

func randRule(r *rand.Rand) ([]networkingv1.NetworkPolicyPeer, []networkingv1.NetworkPolicyPort) {
	var peers []networkingv1.NetworkPolicyPeer
	for range r.IntN(3) {
		var p networkingv1.NetworkPolicyPeer
		switch r.IntN(4) {
		case 0:
			p.PodSelector = randSelector(r, "app", propApps)
		case 1:
			p.NamespaceSelector = randSelector(r, "kubernetes.io/metadata.name", propNamespaces)
		case 2:
			p.PodSelector = randSelector(r, "app", propApps)
			p.NamespaceSelector = randSelector(r, "kubernetes.io/metadata.name", propNamespaces)
		default:
			p.IPBlock = &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}
		}
		peers = append(peers, p)
	}
	var ports []networkingv1.NetworkPolicyPort
	for range r.IntN(3) {
		proto := []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP}[r.IntN(2)]
		pp := networkingv1.NetworkPolicyPort{Protocol: &proto}
		switch r.IntN(3) {
		case 0:
			v := intstr.FromInt32(80 + r.Int32N(2))
			pp.Port = &v
		case 1:
			v := intstr.FromString("serve-81")
			pp.Port = &v
		}
		ports = append(ports, pp)
	}
	return peers, ports
}

func randPolicy(r *rand.Rand, i int) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p" + string(rune('0'+i)), Namespace: propNamespaces[r.IntN(3)]}}
	np.Spec.PodSelector = *randSelector(r, "app", propApps)
	// policyTypes explicit: with it omitted, adding the first egress rule
	// makes the policy isolate egress, which may remove connections.
	switch r.IntN(3) {
	case 0:
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	case 1:
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	default:
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	}
	for range r.IntN(3) {
		peers, ports := randRule(r)
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers, Ports: ports})
	}
	for range r.IntN(3) {
		peers, ports := randRule(r)
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers, Ports: ports})
	}
	return np
}

func randWorld(seed uint64) world {
	r := rand.New(rand.NewPCG(seed, 1))
	w := world{ports: []Port{{corev1.ProtocolTCP, 80}, {corev1.ProtocolTCP, 81}, {corev1.ProtocolUDP, 80}, {corev1.ProtocolUDP, 81}}}
	for _, ns := range propNamespaces {
		for _, app := range propApps {
			e := pod(ns, app, corev1.ContainerPort{Name: "serve-81", ContainerPort: 81, Protocol: corev1.ProtocolTCP})
			if r.IntN(2) == 0 {
				e.Pod.IP = netip.AddrFrom4([4]byte{10, byte(r.IntN(3)), 0, byte(r.IntN(250))})
			}
			w.endpoints = append(w.endpoints, e)
		}
	}
	w.endpoints = append(w.endpoints, ip("10.2.0.1"), ip("10.1.0.1"), ip("192.0.2.1"))
	for i := range 1 + r.IntN(5) {
		w.policies = append(w.policies, randPolicy(r, i))
	}
	return w
}

// allowed returns the allowed connections of a world, keyed by index.
func allowed(t *testing.T, w world, pols []*networkingv1.NetworkPolicy) map[[3]int]bool {
	t.Helper()
	e, err := New(pols)
	if err != nil {
		t.Fatal(err)
	}
	out := map[[3]int]bool{}
	for i, src := range w.endpoints {
		for j, dst := range w.endpoints {
			if src.Pod == nil && dst.Pod == nil {
				continue
			}
			for k, p := range w.ports {
				if e.Decide(src, dst, p).Allowed {
					out[[3]int{i, j, k}] = true
				}
			}
		}
	}
	return out
}

// TestAddingAnAllowRuleNeverRemovesAConnection, over random worlds.
func TestAddingAnAllowRuleNeverRemovesAConnection(t *testing.T) {
	for seed := range uint64(300) {
		w := randWorld(seed)
		before := allowed(t, w, w.policies)
		r := rand.New(rand.NewPCG(seed, 2))
		changed := make([]*networkingv1.NetworkPolicy, len(w.policies))
		for i, p := range w.policies {
			changed[i] = p.DeepCopy()
		}
		target := changed[r.IntN(len(changed))]
		peers, ports := randRule(r)
		if r.IntN(2) == 0 {
			target.Spec.Ingress = append(target.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers, Ports: ports})
		} else {
			target.Spec.Egress = append(target.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers, Ports: ports})
		}
		after := allowed(t, w, changed)
		for c := range before {
			if !after[c] {
				t.Fatalf("seed %d: adding a rule to %s/%s removed connection %v", seed, target.Namespace, target.Name, c)
			}
		}
	}
}

// TestDefaultDenyRemovesWhatNothingElseAllows: a default-deny policy for a
// direction in a namespace removes exactly the connections of that
// direction whose pod was not already isolated in it, and leaves the rest.
func TestDefaultDenyRemovesWhatNothingElseAllows(t *testing.T) {
	for seed := range uint64(300) {
		w := randWorld(seed)
		r := rand.New(rand.NewPCG(seed, 3))
		ns := propNamespaces[r.IntN(3)]
		egress := r.IntN(2) == 0
		deny := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default-deny", Namespace: ns}}
		deny.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if egress {
			deny.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		}
		e, err := New(w.policies)
		if err != nil {
			t.Fatal(err)
		}
		before := allowed(t, w, w.policies)
		after := allowed(t, w, append(append([]*networkingv1.NetworkPolicy{}, w.policies...), deny))
		for i, src := range w.endpoints {
			for j, dst := range w.endpoints {
				if src.Pod == nil && dst.Pod == nil {
					continue
				}
				for k, p := range w.ports {
					c := [3]int{i, j, k}
					side, pod := e.Decide(src, dst, p).Ingress, dst.Pod
					if egress {
						side, pod = e.Decide(src, dst, p).Egress, src.Pod
					}
					inNS := pod != nil && pod.Namespace == ns
					want := before[c] && (!inNS || side.Isolated)
					if after[c] != want {
						t.Fatalf("seed %d: default-deny (egress %v) in %s: connection %v allowed %v, want %v", seed, egress, ns, c, after[c], want)
					}
				}
			}
		}
	}
}
