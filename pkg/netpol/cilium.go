package netpol

import (
	"fmt"
	"slices"
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
	EndpointSelector  *metav1.LabelSelector `json:"endpointSelector"`
	Ingress           []ciliumRule          `json:"ingress"`
	Egress            []ciliumRule          `json:"egress"`
	IngressDeny       []any                 `json:"ingressDeny"`
	EgressDeny        []any                 `json:"egressDeny"`
	EnableDefaultDeny *struct {
		Ingress *bool `json:"ingress"`
		Egress  *bool `json:"egress"`
	} `json:"enableDefaultDeny"`
	// hasIngress, hasEgress: the directions the policy enforces;
	// noDeny*: enableDefaultDeny turned off for a direction.
	hasIngress, hasEgress       bool
	noDenyIngress, noDenyEgress bool
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
	ICMPs         []any                  `json:"icmps"`
	FromNodes     []any                  `json:"fromNodes"`
	ToNodes       []any                  `json:"toNodes"`
	FromRequires  []any                  `json:"fromRequires"`
	ToRequires    []any                  `json:"toRequires"`
	FromGroups    []any                  `json:"fromGroups"`
	ToGroups      []any                  `json:"toGroups"`
}

// unmappedParts names the parts of a rule with no NetworkPolicy
// equivalent.
func (r ciliumRule) unmappedParts() []string {
	var out []string
	for _, p := range []struct {
		name string
		n    int
	}{{"icmps", len(r.ICMPs)}, {"fromNodes", len(r.FromNodes)}, {"toNodes", len(r.ToNodes)}, {"fromRequires", len(r.FromRequires)},
		{"toRequires", len(r.ToRequires)}, {"fromGroups", len(r.FromGroups)}, {"toGroups", len(r.ToGroups)}, {"toFQDNs", len(r.ToFQDNs)}, {"toServices", len(r.ToServices)}} {
		if p.n > 0 {
			out = append(out, p.name)
		}
	}
	return out
}

// mapped maps a rule of one direction to NetworkPolicy peers and ports.
// keep is false when the rule allows nothing here, or has a part (ICMP
// alone, requirements, nodes, groups) without which it would allow more
// than Cilium does; why says what was left out.
func (r ciliumRule) mapped(egress bool) (peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, keep bool, why string) {
	eps, cidrs, sets, ents := r.FromEndpoints, r.FromCIDR, r.FromCIDRSet, r.FromEntities
	narrowing, others := len(r.FromRequires)+len(r.FromNodes)+len(r.FromGroups), 0
	if egress {
		eps, cidrs, sets, ents = r.ToEndpoints, r.ToCIDR, r.ToCIDRSet, r.ToEntities
		narrowing, others = len(r.ToRequires)+len(r.ToNodes)+len(r.ToGroups), len(r.ToFQDNs)+len(r.ToServices)
	}
	if len(r.ICMPs) > 0 && len(r.ToPorts) == 0 {
		return nil, nil, false, "an ICMP-only rule allows no TCP, UDP or SCTP port and is left out"
	}
	if narrowing > 0 {
		return nil, nil, false, "a rule with " + strings.Join(r.unmappedParts(), ", ") + " is left out"
	}
	peers, unmapped := ciliumPeers(eps, cidrs, sets, ents)
	if unmapped = append(unmapped, r.unmappedParts()...); len(unmapped) > 0 {
		why = strings.Join(unmapped, ", ") + " left out"
	}
	if len(peers) == 0 && (len(eps)+len(cidrs)+len(sets)+len(ents)+others > 0 || len(r.ToPorts) == 0) {
		return nil, nil, false, why // only unmapped peers, or an empty rule: allows nothing here
	}
	return peers, ciliumPorts(r.ToPorts), true, why
}

// ciliumServiceAccountLabel is the label Cilium gives an endpoint for its
// ServiceAccount; pods carry no such label, so selectors on it do not map.
const ciliumServiceAccountLabel = "io.cilium.k8s.policy.serviceaccount"

func selectsServiceAccount(sel metav1.LabelSelector) bool {
	for k := range sel.MatchLabels {
		if stripSource(k) == ciliumServiceAccountLabel {
			return true
		}
	}
	for _, e := range sel.MatchExpressions {
		if stripSource(e.Key) == ciliumServiceAccountLabel {
			return true
		}
	}
	return false
}

type ciliumPortRule struct {
	Ports []struct {
		Port     string `json:"port"`
		EndPort  int32  `json:"endPort"`
		Protocol string `json:"protocol"`
	} `json:"ports"`
	Rules *struct {
		HTTP []struct {
			Method  string   `json:"method"`
			Path    string   `json:"path"`
			Host    string   `json:"host"`
			Headers []string `json:"headers"`
		} `json:"http"`
		Kafka []any `json:"kafka"`
		DNS   []any `json:"dns"`
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
		// Cilium enforces a direction when the policy has rules for it
		// (an empty list does not), unless enableDefaultDeny says no.
		s.hasIngress = len(s.Ingress) > 0 || len(s.IngressDeny) > 0
		s.hasEgress = len(s.Egress) > 0 || len(s.EgressDeny) > 0
		if s.EnableDefaultDeny != nil {
			if s.EnableDefaultDeny.Ingress != nil && !*s.EnableDefaultDeny.Ingress {
				s.noDenyIngress = true
			}
			if s.EnableDefaultDeny.Egress != nil && !*s.EnableDefaultDeny.Egress {
				s.noDenyEgress = true
			}
		}
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
			if namespaces == nil {
				namespaces = &metav1.LabelSelector{MatchLabels: map[string]string{}}
			}
			namespaces.MatchLabels["kubernetes.io/metadata.name"] = v
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
				namespaces = &metav1.LabelSelector{MatchLabels: map[string]string{}}
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
		if selectsServiceAccount(e) {
			unmapped = append(unmapped, "a selector on "+ciliumServiceAccountLabel)
			continue
		}
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

// Policies returns what the engine takes from inv: the workloads, and the
// NetworkPolicies with the CiliumNetworkPolicies that map to them (notices
// say what does not).
func Policies(inv *inventory.Inventory) ([]Workload, []*networkingv1.NetworkPolicy, []string) {
	ws, pols := FromInventory(inv)
	cnp, notices := CiliumPolicies(inv)
	return ws, append(pols, cnp...), notices
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
			if selectsServiceAccount(*s.EndpointSelector) {
				notices = append(notices, fmt.Sprintf("CiliumNetworkPolicy %s: its endpointSelector names %s, which pods do not carry as a label: the policy is left out", name, ciliumServiceAccountLabel))
				continue
			}
			pods, nss := ciliumSelector(*s.EndpointSelector)
			if nss != nil {
				notices = append(notices, fmt.Sprintf("CiliumNetworkPolicy %s: an endpointSelector naming namespaces selects only its own namespace's pods here", name))
			}
			np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "CiliumNetworkPolicy:" + o.Name}, Spec: networkingv1.NetworkPolicySpec{PodSelector: *pods}}
			if i > 0 {
				np.Name += fmt.Sprintf("[%d]", i)
			}
			if s.noDenyIngress || s.noDenyEgress {
				notices = append(notices, fmt.Sprintf("CiliumNetworkPolicy %s: enableDefaultDeny off: its allow rules do not isolate and are left out", name))
			}
			if s.hasIngress && !s.noDenyIngress {
				np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
			}
			if s.hasEgress && !s.noDenyEgress {
				np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
			}
			for _, r := range s.Ingress {
				peers, ports, keep, why := r.mapped(false)
				if why != "" {
					notices = append(notices, fmt.Sprintf("CiliumNetworkPolicy %s: %s", name, why))
				}
				if keep {
					np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers, Ports: ports})
				}
			}
			for _, r := range s.Egress {
				peers, ports, keep, why := r.mapped(true)
				if why != "" {
					notices = append(notices, fmt.Sprintf("CiliumNetworkPolicy %s: %s", name, why))
				}
				if keep {
					np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers, Ports: ports})
				}
			}
			out = append(out, np)
		}
	}
	sort.Strings(notices)
	return out, slices.Compact(notices)
}
