package fix

import (
	"fmt"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/netpol"
)

// maxCuts bounds the connections counted per namespace (the message says
// "at least" beyond it).
const maxCuts = 100

// cuts returns the connections between workloads that adding the generated
// NetworkPolicies to the fixed manifests would remove, as the netpol engine
// decides them (the same engine as rampart netpol diff), per namespace of
// the generated policies (a connection with an end in it), at most maxCuts
// each: to a port the destination listens on (its container ports and its
// Services' target ports).
func cuts(inv *inventory.Inventory, gens []generated) (map[string][]netpol.Cut, error) {
	if !slices.ContainsFunc(gens, func(g generated) bool { _, ok := g.obj.(*networkingv1.NetworkPolicy); return ok }) {
		return nil, nil // nothing generated that could cut
	}
	ws, pols := netpol.FromInventory(inv)
	before, err := netpol.New(pols)
	if err != nil {
		return nil, err
	}
	after := append([]*networkingv1.NetworkPolicy{}, pols...)
	namespaces := map[string]bool{}
	for _, g := range gens {
		if np, ok := g.obj.(*networkingv1.NetworkPolicy); ok {
			np = np.DeepCopy()
			np.Namespace = g.ns
			after = append(after, np)
			namespaces[g.ns] = true
		}
	}
	if len(namespaces) == 0 {
		return nil, nil
	}
	afterE, err := netpol.New(after)
	if err != nil {
		return nil, err
	}
	listens := map[string][]netpol.Port{}
	services := servicesByNamespace(inv)
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
		for _, sp := range servicePorts(services, w.Pod.Namespace, w.Pod.Labels) {
			if sp.Port.Type == intstr.Int {
				add(netpol.Port{Protocol: *sp.Protocol, Number: sp.Port.IntVal})
			}
		}
	}
	cutter := netpol.NewCutter(before, afterE, ws)
	names := make([]string, 0, len(namespaces))
	for ns := range namespaces {
		names = append(names, ns)
	}
	// Namespaces are searched in parallel, each worker with its own copy of
	// the decisions made (the classes are shared, read-only).
	found := make([][]netpol.Cut, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < goruntime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func(c *netpol.Cutter) {
			defer wg.Done()
			for i := range next {
				found[i] = c.Cuts(listens, names[i], maxCuts)
			}
		}(cutter.Copy())
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	out := map[string][]netpol.Cut{}
	for i, ns := range names {
		if len(found[i]) > 0 {
			out[ns] = found[i]
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
		byNS, err := cuts(inv, gens)
		if err != nil || len(byNS) == 0 {
			return gens, applied, pending, err
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
		for _, ns := range namespaces {
			pending = append(pending, Pending{File: file, CheckID: "namespace-without-networkpolicy", Object: "Namespace/" + ns,
				Reason: "breaking fix; run with --breaking: the NetworkPolicies it would generate cut " + describeCuts(byNS[ns])})
		}
		kept := gens[:0:0]
		for _, g := range gens {
			if _, ok := g.obj.(*networkingv1.NetworkPolicy); ok && byNS[g.ns] != nil {
				continue
			}
			kept = append(kept, g)
		}
		gens = kept
	}
	return gens, applied, pending, nil
}

// describeCuts says how many connections are cut and names the first ones.
func describeCuts(cs []netpol.Cut) string {
	count := fmt.Sprint(len(cs))
	if len(cs) >= maxCuts {
		count = "at least " + count
	}
	var shown []string
	for _, c := range cs[:min(len(cs), 5)] {
		shown = append(shown, fmt.Sprintf("%s -> %s (%s %d)", c.From, c.To, c.Port.Protocol, c.Port.Number))
	}
	s := count + " connection(s) between workloads that the manifests do not show the app needs: " + strings.Join(shown, "; ")
	if len(cs) > len(shown) {
		s += "; and more (rampart netpol diff lists them all)"
	}
	return s
}
