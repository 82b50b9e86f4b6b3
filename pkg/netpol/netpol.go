// Package netpol decides NetworkPolicy connectivity: whether one endpoint
// may open a connection to another on a port, and which policy and rule
// decide it on the egress side of the source and the ingress side of the
// destination.
//
// Semantics follow the NetworkPolicy API: a pod is isolated in a direction
// when a policy of its namespace selects it and lists that direction in
// policyTypes (Ingress always when policyTypes is empty; Egress when it is
// empty and the policy has egress rules). An isolated direction allows what
// the union of its policies' rules allows; a connection needs both the
// source's egress and the destination's ingress.
package netpol

import (
	"fmt"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Pod is a pod, or a class of pods with the same labels in the same
// namespace: its labels, its namespace's labels, and its container ports
// (named ports resolve against the destination's).
type Pod struct {
	Namespace string
	NSLabels  map[string]string
	Labels    map[string]string
	Ports     []corev1.ContainerPort
	// IP, when known, lets ipBlock peers match the pod too.
	IP netip.Addr
}

// Endpoint is one side of a connection: a Pod, or an address outside the
// cluster when Pod is nil.
type Endpoint struct {
	Pod *Pod
	IP  netip.Addr
}

func (e Endpoint) addr() netip.Addr {
	if e.Pod != nil {
		return e.Pod.IP
	}
	return e.IP
}

// Port is a destination port and protocol.
type Port struct {
	Protocol corev1.Protocol
	Number   int32
}

// Side is the verdict of one direction.
type Side struct {
	// Isolated is true when a policy selects the pod in this direction.
	Isolated bool `json:"isolated"`
	Allowed  bool `json:"allowed"`
	// Policy and Rule name the first allowing rule ("ns/name", index in
	// spec.ingress or spec.egress); when isolated and denied, Policies lists
	// the policies that isolate the pod.
	Policy   string   `json:"policy,omitempty"`
	Rule     int      `json:"rule"`
	Policies []string `json:"policies,omitempty"`
}

// Verdict is the decision for one connection.
type Verdict struct {
	Allowed bool `json:"allowed"`
	Egress  Side `json:"egress"`
	Ingress Side `json:"ingress"`
}

type peer struct {
	pods, namespaces labels.Selector // nil: not set
	block            *ipBlock
}

type ipBlock struct {
	cidr   netip.Prefix
	except []netip.Prefix
}

type rule struct {
	peers []peer // empty: every source or destination
	ports []networkingv1.NetworkPolicyPort
	// firstPeer is the position of peers[0] in Engine.peers.
	firstPeer int
}

type policy struct {
	name            string
	namespace       string
	selector        labels.Selector
	ingress, egress bool
	in, out         []rule
}

// Engine evaluates a fixed set of policies.
type Engine struct {
	policies []policy
	// Every rule peer of every policy in one list, with its policy's
	// namespace, and every named port ("PROTOCOL/name") a rule uses: the
	// facts the class matrix precomputes per class.
	peers  []peer
	peerNS []string
	named  []string
}

// New compiles policies; a policy with an invalid selector or CIDR is an
// error naming it (the API server would have rejected it).
func New(pols []*networkingv1.NetworkPolicy) (*Engine, error) {
	e := &Engine{}
	for _, np := range pols {
		p, err := compile(np)
		if err != nil {
			return nil, fmt.Errorf("NetworkPolicy %s/%s: %w", np.Namespace, np.Name, err)
		}
		e.policies = append(e.policies, p)
	}
	namedSet := map[string]bool{}
	for _, p := range e.policies {
		for _, rs := range [][]rule{p.in, p.out} {
			for ri := range rs {
				rs[ri].firstPeer = len(e.peers)
				for _, c := range rs[ri].peers {
					e.peers = append(e.peers, c)
					e.peerNS = append(e.peerNS, p.namespace)
				}
				for _, rp := range rs[ri].ports {
					if rp.Port != nil && rp.Port.Type == intstr.String && rp.Port.StrVal != "" {
						namedSet[string(ruleProtocol(rp))+"/"+rp.Port.StrVal] = true
					}
				}
			}
		}
	}
	for n := range namedSet {
		e.named = append(e.named, n)
	}
	sort.Strings(e.named)
	return e, nil
}

// Valid splits policies into those New compiles and the others, with an
// error each (naming the policy), so that one invalid policy costs only
// itself where an analysis can go on without it.
func Valid(pols []*networkingv1.NetworkPolicy) (ok, bad []*networkingv1.NetworkPolicy, errs []error) {
	for _, np := range pols {
		if _, err := compile(np); err != nil {
			bad = append(bad, np)
			errs = append(errs, fmt.Errorf("NetworkPolicy %s/%s: %w", np.Namespace, np.Name, err))
			continue
		}
		ok = append(ok, np)
	}
	return ok, bad, errs
}

func compile(np *networkingv1.NetworkPolicy) (policy, error) {
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return policy{}, fmt.Errorf("spec.podSelector: %w", err)
	}
	p := policy{name: np.Namespace + "/" + np.Name, namespace: np.Namespace, selector: sel}
	if len(np.Spec.PolicyTypes) == 0 {
		p.ingress = true
		p.egress = len(np.Spec.Egress) > 0
	}
	for _, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.ingress = true
		case networkingv1.PolicyTypeEgress:
			p.egress = true
		}
	}
	for i, r := range np.Spec.Ingress {
		peers, err := compilePeers(r.From)
		if err != nil {
			return policy{}, fmt.Errorf("spec.ingress[%d].from: %w", i, err)
		}
		p.in = append(p.in, rule{peers: peers, ports: r.Ports})
	}
	for i, r := range np.Spec.Egress {
		peers, err := compilePeers(r.To)
		if err != nil {
			return policy{}, fmt.Errorf("spec.egress[%d].to: %w", i, err)
		}
		p.out = append(p.out, rule{peers: peers, ports: r.Ports})
	}
	return p, nil
}

func compilePeers(in []networkingv1.NetworkPolicyPeer) ([]peer, error) {
	var out []peer
	for i, pr := range in {
		var c peer
		var err error
		if pr.PodSelector != nil {
			if c.pods, err = metav1.LabelSelectorAsSelector(pr.PodSelector); err != nil {
				return nil, fmt.Errorf("[%d].podSelector: %w", i, err)
			}
		}
		if pr.NamespaceSelector != nil {
			if c.namespaces, err = metav1.LabelSelectorAsSelector(pr.NamespaceSelector); err != nil {
				return nil, fmt.Errorf("[%d].namespaceSelector: %w", i, err)
			}
		}
		if pr.IPBlock != nil {
			b := &ipBlock{}
			if b.cidr, err = netip.ParsePrefix(pr.IPBlock.CIDR); err != nil {
				return nil, fmt.Errorf("[%d].ipBlock.cidr: %w", i, err)
			}
			for j, ex := range pr.IPBlock.Except {
				px, err := netip.ParsePrefix(ex)
				if err != nil {
					return nil, fmt.Errorf("[%d].ipBlock.except[%d]: %w", i, j, err)
				}
				b.except = append(b.except, px)
			}
			c.block = b
		}
		out = append(out, c)
	}
	return out, nil
}

// matches reports whether peer c (of a policy in namespace ns) covers e.
func (c peer) matches(ns string, e Endpoint) bool {
	if c.block != nil {
		a := e.addr()
		if !a.IsValid() || !c.block.cidr.Contains(a) {
			return false
		}
		for _, ex := range c.block.except {
			if ex.Contains(a) {
				return false
			}
		}
		return true
	}
	if e.Pod == nil {
		return false // selectors match pods only
	}
	if c.namespaces != nil {
		if !c.namespaces.Matches(labels.Set(e.Pod.NSLabels)) {
			return false
		}
	} else if e.Pod.Namespace != ns {
		return false // a podSelector alone means the policy's namespace
	}
	return c.pods == nil || c.pods.Matches(labels.Set(e.Pod.Labels))
}

// ruleProtocol is a rule port's protocol: TCP when omitted.
func ruleProtocol(rp networkingv1.NetworkPolicyPort) corev1.Protocol {
	if rp.Protocol != nil {
		return *rp.Protocol
	}
	return corev1.ProtocolTCP
}

// portMatches reports whether a rule port covers port on destination dst.
func portMatches(rp networkingv1.NetworkPolicyPort, port Port, dst Endpoint) bool {
	proto := ruleProtocol(rp)
	if proto != port.Protocol {
		return false
	}
	if rp.Port == nil {
		return true
	}
	if rp.Port.Type == intstr.Int {
		lo := rp.Port.IntVal
		hi := lo
		if rp.EndPort != nil && *rp.EndPort >= lo {
			hi = *rp.EndPort
		}
		return port.Number >= lo && port.Number <= hi
	}
	// A named port: the destination container port of that name and protocol.
	if dst.Pod == nil || rp.Port.StrVal == "" {
		return false
	}
	for _, cp := range dst.Pod.Ports {
		p := cp.Protocol
		if p == "" {
			p = corev1.ProtocolTCP
		}
		if cp.Name == rp.Port.StrVal && p == proto {
			return cp.ContainerPort == port.Number
		}
	}
	return false
}

func (r rule) allows(ns string, other Endpoint, port Port, dst Endpoint) bool {
	if len(r.ports) > 0 {
		ok := false
		for _, rp := range r.ports {
			if portMatches(rp, port, dst) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.peers) == 0 {
		return true
	}
	for _, c := range r.peers {
		if c.matches(ns, other) {
			return true
		}
	}
	return false
}

func (p policy) selects(pod *Pod) bool {
	return pod != nil && pod.Namespace == p.namespace && p.selector.Matches(labels.Set(pod.Labels))
}

// Decide returns whether src may connect to dst on port, with the deciding
// policy and rule on each side.
func (e *Engine) Decide(src, dst Endpoint, port Port) Verdict {
	out := Verdict{Egress: e.side(src.Pod, true, dst, port, dst), Ingress: e.side(dst.Pod, false, src, port, dst)}
	out.Allowed = out.Egress.Allowed && out.Ingress.Allowed
	return out
}

// side decides one direction for pod (nil: an external endpoint, never
// isolated); other is the peer endpoint the rules must match.
func (e *Engine) side(pod *Pod, egress bool, other Endpoint, port Port, dst Endpoint) Side {
	s := Side{Allowed: true, Rule: -1}
	if pod == nil {
		return s
	}
	for _, p := range e.policies {
		if (egress && !p.egress) || (!egress && !p.ingress) || !p.selects(pod) {
			continue
		}
		if !s.Isolated {
			s.Isolated, s.Allowed = true, false
		}
		rules := p.in
		if egress {
			rules = p.out
		}
		if s.Allowed {
			continue
		}
		s.Policies = append(s.Policies, p.name)
		for i, r := range rules {
			if r.allows(p.namespace, other, port, dst) {
				s.Allowed, s.Policy, s.Rule, s.Policies = true, p.name, i, nil
				break
			}
		}
	}
	return s
}
