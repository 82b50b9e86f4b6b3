package netpol

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// CiliumNetworkPolicy L3/L4 rules, as far as they map to Kubernetes
// NetworkPolicy semantics, join the engine as NetworkPolicies named
// "CiliumNetworkPolicy:NAME": endpointSelector as the pod selector,
// fromEndpoints/toEndpoints as pod (and, through the namespace label,
// namespace) selectors, fromCIDR/fromCIDRSet as ipBlocks, the world,
// cluster and all entities, and toPorts' ports. What has no equivalent —
// deny rules, FQDNs, services, other entities, cluster-wide policies — is
// left out with a notice. L7 rules (toPorts[].rules) do not change what
// L3/L4 allows; L7Rules lists them for explain.

// The label Cilium gives each endpoint for its namespace.
const ciliumNamespaceLabel = "io.kubernetes.pod.namespace"

type ciliumSpec struct {
	EndpointSelector *metav1.LabelSelector `json:"endpointSelector"`
	Ingress          []ciliumRule          `json:"ingress"`
	Egress           []ciliumRule          `json:"egress"`
	IngressDeny      []any                 `json:"ingressDeny"`
	EgressDeny       []any                 `json:"egressDeny"`
	// ingress/egress present but empty still isolates.
	hasIngress, hasEgress bool
}

type ciliumCIDRSet struct {
	CIDR   string   `json:"cidr"`
	Except []string `json:"except"`
}

type ciliumRule struct {
	FromEndpoints []metav1.LabelSelector `json:"fromEndpoints"`
	ToEndpoints   []metav1.LabelSelector `json:"toEndpoints"`
	FromCIDR      []string               `json:"fromCIDR"`
	ToCIDR        []string               `json:"toCIDR"`
	FromCIDRSet   []ciliumCIDRSet        `json:"fromCIDRSet"`
	ToCIDRSet     []ciliumCIDRSet        `json:"toCIDRSet"`
	FromEntities  []string               `json:"fromEntities"`
	ToEntities    []string               `json:"toEntities"`
	ToFQDNs       []any                  `json:"toFQDNs"`
	ToServices    []any                  `json:"toServices"`
	ToPorts       []ciliumPortRule       `json:"toPorts"`
}

type ciliumPortRule struct {
	Ports []struct {
		Port     string `json:"port"`
		EndPort  int32  `json:"endPort"`
		Protocol string `json:"protocol"`
	} `json:"ports"`
	Rules *struct {
		HTTP []struct {
			Method string `json:"method"`
			Path   string `json:"path"`
			Host   string `json:"host"`
		} `json:"http"`
	} `json:"rules"`
}

// ciliumSpecs reads spec and specs of a CiliumNetworkPolicy.
func ciliumSpecs(o *object.Object) []ciliumSpec {
	var out []ciliumSpec
	read := func(path string) (ciliumSpec, bool) {
		var s ciliumSpec
		if !o.DecodeJSON(path, &s) {
			return s, false
		}
		var raw map[string]any
		o.DecodeJSON(path, &raw)
		_, s.hasIngress = raw["ingress"]
		_, s.hasEgress = raw["egress"]
		return s, true
	}
	if s, ok := read("spec"); ok {
		out = append(out, s)
	}
	var n []any
	if o.DecodeJSON("specs", &n) {
		for i := range n {
			if s, ok := read(fmt.Sprintf("specs[%d]", i)); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func isCilium(o *object.Object) bool { return strings.HasPrefix(o.APIVersion, "cilium.io/") }

// stripSource removes Cilium's label source prefix (k8s:, any:).
func stripSource(k string) string {
	for _, p := range []string{"k8s:", "any:"} {
		if rest, ok := strings.CutPrefix(k, p); ok {
			return rest
		}
	}
	return k
}

// ciliumSelector turns a Cilium endpoint selector into a pod selector and,
// when it names namespaces, a namespace selector.
func ciliumSelector(sel metav1.LabelSelector) (pods, namespaces *metav1.LabelSelector) {
	pods = &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for k, v := range sel.MatchLabels {
		k = stripSource(k)
		switch {
		case k == ciliumNamespaceLabel:
			namespaces = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": v}}
		case strings.HasPrefix(k, "io.cilium.k8s.namespace.labels."):
			if namespaces == nil {
				namespaces = &metav1.LabelSelector{MatchLabels: map[string]string{}}
			}
			namespaces.MatchLabels[strings.TrimPrefix(k, "io.cilium.k8s.namespace.labels.")] = v
		default:
			pods.MatchLabels[k] = v
		}
	}
	for _, e := range sel.MatchExpressions {
		e.Key = stripSource(e.Key)
		if e.Key == ciliumNamespaceLabel {
			if namespaces == nil {
				namespaces = &metav1.LabelSelector{}
			}
			e.Key = "kubernetes.io/metadata.name"
			namespaces.MatchExpressions = append(namespaces.MatchExpressions, e)
			continue
		}
		pods.MatchExpressions = append(pods.MatchExpressions, e)
	}
	return pods, namespaces
}

func ciliumPorts(prs []ciliumPortRule) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, pr := range prs {
		if len(pr.Ports) == 0 {
			return nil // every port
		}
		for _, p := range pr.Ports {
			protos := []corev1.Protocol{corev1.Protocol(strings.ToUpper(p.Protocol))}
			switch protos[0] {
			case "", "ANY":
				protos = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
			}
			for _, proto := range protos {
				np := networkingv1.NetworkPolicyPort{Protocol: &proto}
				if n, err := strconv.Atoi(p.Port); err == nil && n > 0 {
					v := intstr.FromInt32(int32(n))
					np.Port = &v
					if p.EndPort > int32(n) {
						np.EndPort = &p.EndPort
					}
				} else if p.Port != "" && p.Port != "0" {
					v := intstr.FromString(p.Port)
					np.Port = &v
				}
				out = append(out, np)
			}
		}
	}
	return out
}

// ciliumPeers maps a rule's sources (or destinations); ok is false when a
// part of it has no equivalent.
func ciliumPeers(endpoints []metav1.LabelSelector, cidrs []string, sets []ciliumCIDRSet, entities []string) (peers []networkingv1.NetworkPolicyPeer, unmapped []string) {
	for _, e := range endpoints {
		pods, nss := ciliumSelector(e)
		p := networkingv1.NetworkPolicyPeer{PodSelector: pods}
		if nss != nil {
			p.NamespaceSelector = nss
		}
		peers = append(peers, p)
	}
	for _, c := range cidrs {
		peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
	}
	for _, s := range sets {
		peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: s.CIDR, Except: s.Except}})
	}
	for _, e := range entities {
		switch e {
		case "world", "all":
			peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "::/0"}})
			if e == "all" {
				peers = append(peers, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}})
			}
		case "cluster":
			peers = append(peers, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}})
		default:
			unmapped = append(unmapped, "entity "+e)
		}
	}
	return peers, unmapped
}

// CiliumPolicies converts the CiliumNetworkPolicies of inv; notices say
// what was left out and why.
func CiliumPolicies(inv *inventory.Inventory) ([]*networkingv1.NetworkPolicy, []string) {
	var out []*networkingv1.NetworkPolicy
	var notices []string
	for _, o := range inv.OfKind("CiliumClusterwideNetworkPolicy") {
		if isCilium(o) {
			notices = append(notices, fmt.Sprintf("CiliumClusterwideNetworkPolicy %s: cluster-wide Cilium policies are not part of the connectivity engine", o.Name))
		}
	}
	for _, o := range inv.OfKind("CiliumNetworkPolicy") {
		if !isCilium(o) {
			continue
		}
		ns := o.EffectiveNamespace()
		name := ns + "/" + o.Name
		for i, s := range ciliumSpecs(o) {
			if s.EndpointSelector == nil {
				notices = append(notices, fmt.Sprintf("CiliumNetworkPolicy %s: a spec without endpointSelector (nodeSelector) is left out", name))
				continue
			}
			if len(s.IngressDeny) > 0 || len(s.EgressDeny) > 0 {
				notices = append(notices, fmt.Sprintf("CiliumNetworkPolicy %s: deny rules have no NetworkPolicy equivalent and are left out (the connectivity shown may allow more)", name))
			}
			pods, nss := ciliumSelector(*s.EndpointSelector)
			if nss != nil {
				notices = append(notices, fmt.Sprintf("CiliumNetworkPolicy %s: an endpointSelector naming namespaces selects only its own namespace's pods here", name))
			}
			np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "CiliumNetworkPolicy:" + o.Name}, Spec: networkingv1.NetworkPolicySpec{PodSelector: *pods}}
			if i > 0 {
				np.Name += fmt.Sprintf("[%d]", i)
			}
			if s.hasIngress || len(s.IngressDeny) > 0 {
				np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
			}
			if s.hasEgress || len(s.EgressDeny) > 0 {
				np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
			}
			for _, r := range s.Ingress {
				peers, unmapped := ciliumPeers(r.FromEndpoints, r.FromCIDR, r.FromCIDRSet, r.FromEntities)
				if len(unmapped) > 0 {
					notices = append(notices, fmt.Sprintf("CiliumNetworkPolicy %s: %s left out", name, strings.Join(unmapped, ", ")))
				}
				if len(peers) == 0 && (len(r.FromEndpoints)+len(r.FromCIDR)+len(r.FromCIDRSet)+len(r.FromEntities) > 0 || len(r.ToPorts) == 0) {
					continue // only unmapped sources, or an empty rule: allows nothing here
				}
				np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers, Ports: ciliumPorts(r.ToPorts)})
			}
			for _, r := range s.Egress {
				peers, unmapped := ciliumPeers(r.ToEndpoints, r.ToCIDR, r.ToCIDRSet, r.ToEntities)
				if len(r.ToFQDNs) > 0 || len(r.ToServices) > 0 {
					unmapped = append(unmapped, "toFQDNs/toServices")
				}
				if len(unmapped) > 0 {
					notices = append(notices, fmt.Sprintf("CiliumNetworkPolicy %s: %s left out", name, strings.Join(unmapped, ", ")))
				}
				if len(peers) == 0 && (len(r.ToEndpoints)+len(r.ToCIDR)+len(r.ToCIDRSet)+len(r.ToEntities)+len(r.ToFQDNs)+len(r.ToServices) > 0 || len(r.ToPorts) == 0) {
					continue
				}
				np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers, Ports: ciliumPorts(r.ToPorts)})
			}
			out = append(out, np)
		}
	}
	sort.Strings(notices)
	return out, compactStrings(notices)
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
