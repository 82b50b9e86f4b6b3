package netpol

import (
	"sort"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/rampart-k8s/rampart/pkg/inventory"
)

// Workload is a pod-running object of the inventory as the engine sees it.
type Workload struct {
	Name string // "namespace/Kind/name"
	Pod  *Pod
}

// FromInventory returns the workloads (every object that runs a pod, with
// its template labels, its namespace's labels and its container ports),
// sorted by name, and every NetworkPolicy. A namespace the inventory does
// not define gets the label kubernetes.io/metadata.name, as the API server
// sets it.
func FromInventory(inv *inventory.Inventory) ([]Workload, []*networkingv1.NetworkPolicy) {
	nsLabels := func(ns string) map[string]string {
		out := map[string]string{"kubernetes.io/metadata.name": ns}
		if n, ok := inv.Namespace(ns); ok {
			for k, v := range n.Labels {
				out[k] = v
			}
		}
		return out
	}
	var ws []Workload
	for _, ns := range inv.WorkloadNamespaces() {
		labels := nsLabels(ns)
		for _, o := range inv.Workloads(ns) {
			if o.Pod == nil || o.Pod.Spec == nil {
				continue
			}
			p := &Pod{Namespace: ns, NSLabels: labels, Labels: map[string]string{}}
			if o.Pod.Meta != nil {
				p.Labels = o.Pod.Meta.Labels
			}
			for _, c := range o.Pod.Spec.Containers {
				p.Ports = append(p.Ports, c.Ports...)
			}
			ws = append(ws, Workload{Name: ns + "/" + o.Kind + "/" + o.Name, Pod: p})
		}
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].Name < ws[j].Name })
	var pols []*networkingv1.NetworkPolicy
	for _, o := range inv.Objects {
		np, ok := o.Typed.(*networkingv1.NetworkPolicy)
		if !ok {
			continue
		}
		if np.Namespace == "" {
			np = np.DeepCopy()
			np.Namespace = o.EffectiveNamespace()
		}
		pols = append(pols, np)
	}
	sort.SliceStable(pols, func(i, j int) bool {
		return pols[i].Namespace+"/"+pols[i].Name < pols[j].Namespace+"/"+pols[j].Name
	})
	return ws, pols
}
