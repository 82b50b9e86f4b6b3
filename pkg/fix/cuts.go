package fix

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/netpol"
)

// cuts returns the connections between workloads that adding the generated
// NetworkPolicies to the fixed manifests would remove, as the netpol engine
// decides them (the same engine as rampart netpol diff).
func cuts(inv *inventory.Inventory, gens []generated) ([]netpol.Change, error) {
	ws, pols := netpol.FromInventory(inv)
	before, err := netpol.New(pols)
	if err != nil {
		return nil, err
	}
	after := append([]*networkingv1.NetworkPolicy{}, pols...)
	for _, g := range gens {
		if np, ok := g.obj.(*networkingv1.NetworkPolicy); ok {
			np = np.DeepCopy()
			np.Namespace = g.ns
			after = append(after, np)
		}
	}
	afterE, err := netpol.New(after)
	if err != nil {
		return nil, err
	}
	// A connection is one to a port the destination listens on: its
	// container ports and the target ports of its Services.
	listens := map[string][]netpol.Port{}
	for _, w := range ws {
		seen := map[netpol.Port]bool{}
		add := func(p netpol.Port) {
			if p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
			if p.Number > 0 && !seen[p] {
				seen[p] = true
				listens[w.Name] = append(listens[w.Name], p)
			}
		}
		for _, cp := range w.Pod.Ports {
			add(netpol.Port{Protocol: cp.Protocol, Number: cp.ContainerPort})
		}
		for _, sp := range servicePorts(inv, w.Pod.Namespace, w.Pod.Labels) {
			if sp.Port.Type == intstr.Int {
				add(netpol.Port{Protocol: *sp.Protocol, Number: sp.Port.IntVal})
			}
		}
	}
	var out []netpol.Change
	for _, c := range netpol.Diff(before, ws, afterE, ws) {
		if c.Added {
			continue
		}
		for _, to := range c.To {
			var ports []netpol.PortRange
			for _, p := range listens[to] {
				for _, r := range c.Ports {
					if r.Protocol == p.Protocol && r.From <= p.Number && p.Number <= r.To {
						ports = append(ports, netpol.PortRange{Protocol: p.Protocol, From: p.Number, To: p.Number})
					}
				}
			}
			if len(ports) > 0 {
				out = append(out, netpol.Change{From: c.From, To: []string{to}, Ports: ports})
			}
		}
	}
	return out, nil
}

// judgeCuts decides which generated NetworkPolicies are made. Policies that
// cut a connection the manifests do not show the app needs are breaking:
// with --breaking they are made and each namespace's cuts are listed as a
// breaking fix; without, that namespace's policies are left out and listed
// as pending, with the connections they would cut.
func judgeCuts(inv *inventory.Inventory, gens []generated, breaking bool, file string) ([]generated, []Applied, []Pending, error) {
	var applied []Applied
	var pending []Pending
	for round := 0; round < 8; round++ {
		cs, err := cuts(inv, gens)
		if err != nil || len(cs) == 0 {
			return gens, applied, pending, err
		}
		generatedIn := map[string]bool{}
		for _, g := range gens {
			if _, ok := g.obj.(*networkingv1.NetworkPolicy); ok {
				generatedIn[g.ns] = true
			}
		}
		// Each cut is put on the namespace whose new policies isolate its
		// source (egress), or else its destination (ingress).
		byNS := map[string][]netpol.Change{}
		for _, c := range cs {
			ns := namespaceOf(c.From[0])
			if !generatedIn[ns] {
				ns = namespaceOf(c.To[0])
			}
			byNS[ns] = append(byNS[ns], c)
		}
		namespaces := make([]string, 0, len(byNS))
		for ns := range byNS {
			namespaces = append(namespaces, ns)
		}
		sort.Strings(namespaces)
		if breaking {
			for _, ns := range namespaces {
				applied = append(applied, Applied{File: file, CheckID: "namespace-without-networkpolicy", Object: "Namespace/" + ns,
					Message: "The generated NetworkPolicies cut " + describeCuts(byNS[ns]), Breaking: true})
			}
			return gens, applied, pending, nil
		}
		drop := map[string]bool{}
		for _, ns := range namespaces {
			drop[ns] = true
			pending = append(pending, Pending{File: file, CheckID: "namespace-without-networkpolicy", Object: "Namespace/" + ns,
				Reason: "breaking fix; run with --breaking: the NetworkPolicies it would generate cut " + describeCuts(byNS[ns])})
		}
		kept := gens[:0:0]
		for _, g := range gens {
			if _, ok := g.obj.(*networkingv1.NetworkPolicy); ok && drop[g.ns] {
				continue
			}
			kept = append(kept, g)
		}
		gens = kept
	}
	return gens, applied, pending, nil
}

func namespaceOf(workload string) string {
	ns, _, _ := strings.Cut(workload, "/")
	return ns
}

// describeCuts says how many connections are cut and names the first ones.
func describeCuts(cs []netpol.Change) string {
	pairs := 0
	var shown []string
	for _, c := range cs {
		pairs += len(c.From) * len(c.To)
		if len(shown) < 5 {
			var ports []string
			for _, p := range c.Ports {
				ports = append(ports, p.String())
			}
			shown = append(shown, names(c.From)+" -> "+names(c.To)+" ("+strings.Join(ports, ", ")+")")
		}
	}
	s := fmt.Sprintf("%d connection(s) between workloads that the manifests do not show the app needs: %s", pairs, strings.Join(shown, "; "))
	if len(cs) > len(shown) {
		s += fmt.Sprintf("; and %d more (rampart netpol diff lists them all)", len(cs)-len(shown))
	}
	return s
}

func names(ws []string) string {
	if len(ws) <= 2 {
		return strings.Join(ws, ", ")
	}
	return fmt.Sprintf("%s, %s and %d more", ws[0], ws[1], len(ws)-2)
}
