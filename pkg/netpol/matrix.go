package netpol

import (
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// A class is a set of pods the policies cannot tell apart: the same
// policies select them in each direction, the same rule peers match them,
// and they resolve the rules' named ports to the same numbers. Connectivity
// is computed once per pair of classes, never per pair of pods.
type class struct {
	pods  []int  // indices into the input
	in    []int  // policies isolating ingress
	out   []int  // policies isolating egress
	peers []bool // per compiled peer: does it match this class?
	named map[string]int32
}

func (e *Engine) classes(pods []*Pod) []*class {
	byKey := map[string]*class{}
	var out []*class
	var b strings.Builder
	for i, pod := range pods {
		ep := Endpoint{Pod: pod}
		c := &class{named: map[string]int32{}}
		b.Reset()
		for pi, p := range e.policies {
			if !p.selects(pod) {
				continue
			}
			if p.ingress {
				c.in = append(c.in, pi)
				b.WriteString("i" + strconv.Itoa(pi) + ",")
			}
			if p.egress {
				c.out = append(c.out, pi)
				b.WriteString("e" + strconv.Itoa(pi) + ",")
			}
		}
		b.WriteByte('|')
		c.peers = make([]bool, len(e.peers))
		for k, pr := range e.peers {
			if pr.matches(e.peerNS[k], ep) {
				c.peers[k] = true
				b.WriteString(strconv.Itoa(k) + ",")
			}
		}
		b.WriteByte('|')
		for _, n := range e.named {
			proto, name, _ := strings.Cut(n, "/")
			for _, cp := range pod.Ports {
				p := cp.Protocol
				if p == "" {
					p = corev1.ProtocolTCP
				}
				if cp.Name == name && string(p) == proto {
					c.named[n] = cp.ContainerPort
					b.WriteString(n + "=" + strconv.Itoa(int(cp.ContainerPort)) + ",")
					break
				}
			}
		}
		key := b.String()
		if have, ok := byKey[key]; ok {
			have.pods = append(have.pods, i)
			continue
		}
		c.pods = []int{i}
		byKey[key] = c
		out = append(out, c)
	}
	return out
}

// Cell is the matrix entry of one pair of classes on one port class.
type Cell struct {
	From, To int // class indices
	Port     PortRange
	Allowed  bool
}

// PortRange is a range of ports of one protocol on which every decision is
// the same.
type PortRange struct {
	Protocol corev1.Protocol `json:"protocol"`
	From     int32           `json:"from"`
	To       int32           `json:"to"`
}

// PortClasses splits each protocol's port space (1-65535) at every boundary
// a rule names (numbers, ranges, and the numbers named ports resolve to on
// the given pods): inside one range every decision is the same.
func (e *Engine) PortClasses(pods []*Pod) []PortRange {
	cuts := map[corev1.Protocol]map[int32]bool{}
	for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
		cuts[proto] = map[int32]bool{1: true, 65536: true}
	}
	named := map[string]bool{}
	for _, n := range e.named {
		named[n] = true
	}
	for _, p := range e.policies {
		for _, rs := range [][]rule{p.in, p.out} {
			for _, r := range rs {
				for _, rp := range r.ports {
					proto := ruleProtocol(rp)
					if cuts[proto] == nil || rp.Port == nil || rp.Port.Type != intstr.Int {
						continue
					}
					lo, hi := rp.Port.IntVal, rp.Port.IntVal
					if rp.EndPort != nil && *rp.EndPort >= lo {
						hi = *rp.EndPort
					}
					cuts[proto][lo], cuts[proto][hi+1] = true, true
				}
			}
		}
	}
	for _, pod := range pods {
		for _, cp := range pod.Ports {
			proto := cp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			if named[string(proto)+"/"+cp.Name] {
				cuts[proto][cp.ContainerPort], cuts[proto][cp.ContainerPort+1] = true, true
			}
		}
	}
	return rangesFromCuts(cuts)
}

// rangesFromCuts turns, per protocol, the first ports of ranges (and the
// port after the last range) into the ranges between them.
func rangesFromCuts(cuts map[corev1.Protocol]map[int32]bool) []PortRange {
	var out []PortRange
	for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
		var bs []int32
		for c := range cuts[proto] {
			bs = append(bs, c)
		}
		sort.Slice(bs, func(i, j int) bool { return bs[i] < bs[j] })
		for i := 0; i+1 < len(bs); i++ {
			out = append(out, PortRange{Protocol: proto, From: bs[i], To: bs[i+1] - 1})
		}
	}
	return out
}

// Matrix decides every pair of classes on every port class. Pods are
// grouped by Classes (class i < len(groups)); the address regions outside
// the cluster that ipBlock peers distinguish follow as classes len(groups)+j
// (see Externals). Pairs of two external regions are left out. Cells are
// ordered by source class, destination class, then port range.
func (e *Engine) Matrix(pods []*Pod) ([][]int, []External, []Cell) {
	cs := e.classes(pods)
	groups := make([][]int, len(cs))
	for i, c := range cs {
		groups[i] = c.pods
	}
	exts := e.Externals()
	for _, x := range exts {
		ep := Endpoint{IP: x.IP}
		c := &class{named: map[string]int32{}, peers: make([]bool, len(e.peers))}
		for k, pr := range e.peers {
			c.peers[k] = pr.matches(e.peerNS[k], ep)
		}
		cs = append(cs, c)
	}
	ports := e.PortClasses(pods)
	// Every pair but external to external, on every port class: sized once
	// (growing a slice of millions of cells by doubling cost seconds).
	n, x := len(cs), len(exts)
	cells := make([]Cell, 0, (n*n-x*x)*len(ports))
	for si, src := range cs {
		for di, dst := range cs {
			if si >= len(groups) && di >= len(groups) {
				continue
			}
			for _, pr := range ports {
				port := Port{Protocol: pr.Protocol, Number: pr.From}
				ok := e.sideByClass(src, src.out, true, dst, port) && e.sideByClass(dst, dst.in, false, src, port)
				cells = append(cells, Cell{From: si, To: di, Port: pr, Allowed: ok})
			}
		}
	}
	return groups, exts, cells
}

// sideByClass is side() over precomputed class facts: selector matches are
// bit lookups. self is the class whose direction is decided; other the peer.
func (e *Engine) sideByClass(self *class, isolating []int, egress bool, other *class, port Port) bool {
	if len(isolating) == 0 {
		return true
	}
	dst := self
	if egress {
		dst = other
	}
	for _, pi := range isolating {
		p := e.policies[pi]
		rules := p.in
		if egress {
			rules = p.out
		}
		for _, r := range rules {
			if !portsAllow(r, port, dst) {
				continue
			}
			if len(r.peers) == 0 {
				return true
			}
			for k := range r.peers {
				if other.peers[r.firstPeer+k] {
					return true
				}
			}
		}
	}
	return false
}

func portsAllow(r rule, port Port, dst *class) bool {
	if len(r.ports) == 0 {
		return true
	}
	for _, rp := range r.ports {
		if rp.Port != nil && rp.Port.Type == intstr.String {
			proto := ruleProtocol(rp)
			if n, ok := dst.named[string(proto)+"/"+rp.Port.StrVal]; ok && proto == port.Protocol && n == port.Number {
				return true
			}
			continue
		}
		if portMatches(rp, port, Endpoint{}) {
			return true
		}
	}
	return false
}
