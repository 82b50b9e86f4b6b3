// Package inventory is the indexed set of objects of one scan: the context
// the checks read (Namespaces, workloads by namespace, NetworkPolicies,
// ServiceAccounts, bindings), built once. It implements check.Lookup for a
// file set; a live cluster or an informer cache can implement it too.
package inventory

import (
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// Inventory is the indexed set of objects of one scan, with the views that
// checks share, computed once.
type Inventory struct {
	Objects []*object.Object

	namespaces      map[string]*corev1.Namespace
	workloads       map[string][]*object.Object // by effective namespace, in scan order
	netpols         map[string][]*networkingv1.NetworkPolicy
	netpolObjects   map[*networkingv1.NetworkPolicy]*object.Object
	selectors       map[*networkingv1.NetworkPolicy]labels.Selector // nil: invalid selector
	serviceAccounts map[string]*corev1.ServiceAccount               // "namespace/name"
	boundSAs        map[string]bool                                 // "namespace/name" of ServiceAccounts some binding names

	byRefOnce sync.Once
	byRef     map[string]*object.Object
	byKind    map[string][]*object.Object
}

// All returns every object of the scan, in scan order.
func (inv *Inventory) All() []*object.Object { return inv.Objects }

// OfKind returns the objects of kind, in scan order.
func (inv *Inventory) OfKind(kind string) []*object.Object {
	inv.index()
	return inv.byKind[kind]
}

// Find returns the first object of kind in namespace ns named name, or nil.
func (inv *Inventory) Find(kind, ns, name string) *object.Object {
	inv.index()
	return inv.byRef[kind+"/"+ns+"/"+name]
}

// index builds the lookups by reference and by kind, once.
func (inv *Inventory) index() {
	inv.byRefOnce.Do(func() {
		inv.byRef = make(map[string]*object.Object, len(inv.Objects))
		inv.byKind = map[string][]*object.Object{}
		for _, o := range inv.Objects {
			k := o.Kind + "/" + o.Namespace + "/" + o.Name
			if _, ok := inv.byRef[k]; !ok {
				inv.byRef[k] = o
			}
			inv.byKind[o.Kind] = append(inv.byKind[o.Kind], o)
		}
	})
}

// New indexes objs and derives pod templates and the shared views.
func New(objs []*manifest.Object) *Inventory {
	inv := &Inventory{
		namespaces:      map[string]*corev1.Namespace{},
		workloads:       map[string][]*object.Object{},
		netpols:         map[string][]*networkingv1.NetworkPolicy{},
		netpolObjects:   map[*networkingv1.NetworkPolicy]*object.Object{},
		selectors:       map[*networkingv1.NetworkPolicy]labels.Selector{},
		serviceAccounts: map[string]*corev1.ServiceAccount{},
		boundSAs:        map[string]bool{},
	}
	inv.Objects = make([]*object.Object, len(objs))
	for i, o := range objs {
		io := object.New(o)
		inv.Objects[i] = io
		if io.Pod != nil {
			ns := io.EffectiveNamespace()
			inv.workloads[ns] = append(inv.workloads[ns], io)
		}
		switch t := o.Typed.(type) {
		case *corev1.Namespace:
			if o.Name != "" {
				inv.namespaces[o.Name] = t
			}
		case *networkingv1.NetworkPolicy:
			ns := io.EffectiveNamespace()
			inv.netpols[ns] = append(inv.netpols[ns], t)
			inv.netpolObjects[t] = io
			if sel, err := metav1.LabelSelectorAsSelector(&t.Spec.PodSelector); err == nil {
				inv.selectors[t] = sel
			} else {
				inv.selectors[t] = nil // the API server rejects it; it selects nothing
			}
		case *corev1.ServiceAccount:
			inv.serviceAccounts[io.EffectiveNamespace()+"/"+o.Name] = t
		case *rbacv1.RoleBinding:
			inv.bind(t.Subjects, io.EffectiveNamespace())
		case *rbacv1.ClusterRoleBinding:
			inv.bind(t.Subjects, "")
		}
	}
	return inv
}

func (inv *Inventory) bind(subjects []rbacv1.Subject, bindingNS string) {
	for _, s := range subjects {
		if s.Kind != rbacv1.ServiceAccountKind {
			continue
		}
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		inv.boundSAs[ns+"/"+s.Name] = true
	}
}

// Workloads returns the objects that run pods in namespace ns, in scan order.
func (inv *Inventory) Workloads(ns string) []*object.Object { return inv.workloads[ns] }

// WorkloadNamespaces lists the namespaces that have workloads, sorted.
func (inv *Inventory) WorkloadNamespaces() []string {
	names := make([]string, 0, len(inv.workloads))
	for n := range inv.workloads {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NetworkPolicies returns the NetworkPolicies of namespace ns.
func (inv *Inventory) NetworkPolicies(ns string) []*networkingv1.NetworkPolicy {
	return inv.netpols[ns]
}

// Selects reports whether NetworkPolicy np's podSelector (compiled once)
// matches podLabels; an invalid selector matches nothing.
func (inv *Inventory) Selects(np *networkingv1.NetworkPolicy, podLabels map[string]string) bool {
	sel, ok := inv.selectors[np]
	if !ok {
		s, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			return false
		}
		sel = s
	}
	return sel != nil && sel.Matches(labels.Set(podLabels))
}

// ObjectOf returns the inventory object a NetworkPolicy was decoded from.
func (inv *Inventory) ObjectOf(np *networkingv1.NetworkPolicy) *object.Object {
	return inv.netpolObjects[np]
}

// ServiceAccount returns the ServiceAccount ns/name if the scan has it.
func (inv *Inventory) ServiceAccount(ns, name string) (*corev1.ServiceAccount, bool) {
	sa, ok := inv.serviceAccounts[ns+"/"+name]
	return sa, ok
}

// HasRoleBinding reports whether a RoleBinding or ClusterRoleBinding in the
// scan names the ServiceAccount ns/name as a subject.
func (inv *Inventory) HasRoleBinding(ns, name string) bool { return inv.boundSAs[ns+"/"+name] }

// Namespace returns the Namespace object named name, if the scan has it.
func (inv *Inventory) Namespace(name string) (*corev1.Namespace, bool) {
	ns, ok := inv.namespaces[name]
	return ns, ok
}

// NamespaceNames lists the Namespace objects in the scan, sorted.
func (inv *Inventory) NamespaceNames() []string {
	names := make([]string, 0, len(inv.namespaces))
	for n := range inv.namespaces {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
