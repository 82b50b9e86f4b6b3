package admission

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// Labels a Namespace sets its modes with, as Pod Security Admission's
// pod-security.kubernetes.io/enforce: a severity, or "none".
const (
	EnforceLabel = "rampart.dev/enforce"
	WarnLabel    = "rampart.dev/warn"
	AuditLabel   = "rampart.dev/audit"
)

// ClusterContext is the context the checks read at admission, from
// informer caches: the request's Namespace (its labels choose the modes and
// the Pod Security level), its NetworkPolicies, ServiceAccounts and
// RoleBindings, and the ClusterRoleBindings. Secrets and workloads are not
// cached (they would hold every credential and pod of the cluster in the
// webhook's memory).
type ClusterContext struct {
	client     kubernetes.Interface
	factory    informers.SharedInformerFactory
	namespaces corelisters.NamespaceLister
	netpols    networkinglisters.NetworkPolicyLister
	accounts   corelisters.ServiceAccountLister
	bindings   rbaclisters.RoleBindingLister
	cluster    rbaclisters.ClusterRoleBindingLister
}

// NewClusterContext sets up the informers; Start runs them.
func NewClusterContext(cs kubernetes.Interface) *ClusterContext {
	f := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	return &ClusterContext{
		client:     cs,
		factory:    f,
		namespaces: f.Core().V1().Namespaces().Lister(),
		netpols:    f.Networking().V1().NetworkPolicies().Lister(),
		accounts:   f.Core().V1().ServiceAccounts().Lister(),
		bindings:   f.Rbac().V1().RoleBindings().Lister(),
		cluster:    f.Rbac().V1().ClusterRoleBindings().Lister(),
	}
}

// Start runs the informers until ctx ends and waits at most wait for
// their first sync (the informers keep running after a timeout: only the
// wait is bounded).
func (c *ClusterContext) Start(ctx context.Context, wait time.Duration) error {
	c.factory.Start(ctx.Done())
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for typ, ok := range c.factory.WaitForCacheSync(wctx.Done()) {
		if !ok {
			return fmt.Errorf("the %v cache did not sync within %v", typ, wait)
		}
	}
	return nil
}

// Namespace returns the Namespace named name: from the cache, or read from
// the API server when the cache does not have it yet (a Namespace and its
// pods applied together must get the Namespace's modes, not the defaults).
func (c *ClusterContext) Namespace(name string) (*corev1.Namespace, bool) {
	if ns, err := c.namespaces.Get(name); err == nil {
		return ns, true
	}
	if name == "" {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	return ns, err == nil
}

// Objects are the context objects of a request in namespace ns.
func (c *ClusterContext) Objects(ns string) []*manifest.Object {
	var out []*manifest.Object
	add := func(apiVersion, kind string, namespace, name string, obj runtime.Object) {
		out = append(out, manifest.NewLiveObject(apiVersion, kind, namespace, name, obj))
	}
	if n, ok := c.Namespace(ns); ok {
		add("v1", "Namespace", "", n.Name, n)
	}
	if list, err := c.netpols.NetworkPolicies(ns).List(labels.Everything()); err == nil {
		for _, np := range list {
			add("networking.k8s.io/v1", "NetworkPolicy", np.Namespace, np.Name, np)
		}
	}
	if list, err := c.accounts.ServiceAccounts(ns).List(labels.Everything()); err == nil {
		for _, sa := range list {
			add("v1", "ServiceAccount", sa.Namespace, sa.Name, sa)
		}
	}
	if list, err := c.bindings.RoleBindings(ns).List(labels.Everything()); err == nil {
		for _, rb := range list {
			add("rbac.authorization.k8s.io/v1", "RoleBinding", rb.Namespace, rb.Name, rb)
		}
	}
	if list, err := c.cluster.List(labels.Everything()); err == nil {
		for _, crb := range list {
			add("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", crb.Name, crb)
		}
	}
	return out
}

// Modes are a namespace's enforce, warn and audit severities: its labels
// where it sets them, else the defaults. A label that names no severity
// keeps the default and is reported, so that a typo does not switch
// enforcement off silently.
func (c *ClusterContext) Modes(ns string, defaults [3]*check.Severity) ([3]*check.Severity, []string) {
	modes := defaults
	n, ok := c.Namespace(ns)
	if !ok {
		return modes, nil
	}
	var problems []string
	for i, key := range []string{EnforceLabel, WarnLabel, AuditLabel} {
		v, set := n.Labels[key]
		if !set {
			continue
		}
		if v == "none" {
			modes[i] = nil
			continue
		}
		sev, err := check.ParseSeverity(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("namespace %s: label %s=%q is not a severity; the default applies", ns, key, v))
			continue
		}
		modes[i] = &sev
	}
	return modes, problems
}

// Mutates reports whether namespace ns is labelled rampart.dev/mutate=true.
func (c *ClusterContext) Mutates(ns string) bool {
	n, ok := c.Namespace(ns)
	return ok && n.Labels[MutateLabel] == "true"
}
