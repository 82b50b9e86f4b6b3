package netpol

import (
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/object"
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
	// Running pods (a live cluster's, or Pods with a status in files) stand
	// for themselves, with their addresses; the controllers that own them
	// (ReplicaSet, and its Deployment) are then left out, so that each pod
	// is judged once, as the dataplane sees it.
	owners := map[types.UID]bool{}
	byUID := map[types.UID]*object.Object{}
	for _, o := range inv.Objects {
		if m, err := meta.Accessor(o.Typed); err == nil && m.GetUID() != "" {
			byUID[m.GetUID()] = o
		}
	}
	for _, o := range inv.Objects {
		if _, ok := o.Typed.(*corev1.Pod); !ok {
			continue
		}
		for uid := controllerOf(o); uid != "" && !owners[uid]; {
			owners[uid] = true
			next, ok := byUID[uid]
			if !ok {
				break
			}
			uid = controllerOf(next)
		}
	}
	var ws []Workload
	for _, ns := range inv.WorkloadNamespaces() {
		labels := nsLabels(ns)
		for _, o := range inv.Workloads(ns) {
			if o.Pod == nil || o.Pod.Spec == nil {
				continue
			}
			if m, err := meta.Accessor(o.Typed); err == nil && owners[m.GetUID()] {
				continue
			}
			p := &Pod{Namespace: ns, NSLabels: labels, Labels: map[string]string{}}
			if o.Pod.Meta != nil {
				p.Labels = o.Pod.Meta.Labels
			}
			if pod, ok := o.Typed.(*corev1.Pod); ok {
				p.IP = podIP(pod)
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

// controllerOf is the UID of an object's controlling owner, or "".
func controllerOf(o *object.Object) types.UID {
	m, err := meta.Accessor(o.Typed)
	if err != nil {
		return ""
	}
	for _, r := range m.GetOwnerReferences() {
		if r.Controller != nil && *r.Controller {
			return r.UID
		}
	}
	return ""
}

// podIP is a pod's primary address (status.podIP, else the first of
// status.podIPs), or the zero address when it has none.
func podIP(p *corev1.Pod) netip.Addr {
	ips := []string{p.Status.PodIP}
	for _, ip := range p.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil {
			return a
		}
	}
	return netip.Addr{}
}
