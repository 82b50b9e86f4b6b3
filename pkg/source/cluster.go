// Package source reads Kubernetes objects from places other than files: a
// live cluster (client-go), and later Helm charts and Kustomize folders. All
// of them yield manifest.Objects for the same inventory and catalog.
package source

import (
	"context"
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/pager"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// ClusterOptions say which cluster and namespaces to read.
type ClusterOptions struct {
	// Kubeconfig, Context: as kubectl's --kubeconfig and --context; empty
	// means KUBECONFIG, ~/.kube/config, or the in-cluster config.
	Kubeconfig, Context string
	// Namespace limits the scan to one namespace; empty means the
	// kubeconfig context's namespace unless AllNamespaces.
	Namespace     string
	AllNamespaces bool
	// Concurrency bounds the lists in flight (default 4); PageSize is the
	// list page size (default 500).
	Concurrency int
	PageSize    int64
	// KeepOwned keeps the objects a scanned controller owns (the pods of a
	// ReplicaSet, say), which a scan judges at their owner: the connectivity
	// analysis needs every running pod with its address.
	KeepOwned bool
}

// NotEvaluated is a kind the scan could not read, and why.
type NotEvaluated struct {
	Resource  string `json:"resource"` // e.g. secrets, rolebindings.rbac.authorization.k8s.io
	Namespace string `json:"namespace,omitempty"`
	Verb      string `json:"verb"`
	Reason    string `json:"reason"`
}

// ClusterResult is what a cluster read returned.
type ClusterResult struct {
	Objects      []*manifest.Object
	NotEvaluated []NotEvaluated
	Errors       []manifest.InputError
	// Namespace is the namespace read, or "" for all.
	Namespace string
	Server    string
}

// Config resolves the REST config and namespace the way kubectl does.
func Config(opts ClusterOptions) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = opts.Kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: opts.Context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading kubeconfig: %w", err)
	}
	ns := opts.Namespace
	if ns == "" && !opts.AllNamespaces {
		if ns, _, err = cc.Namespace(); err != nil || ns == "" {
			ns = "default"
		}
	}
	if opts.AllNamespaces {
		ns = ""
	}
	return cfg, ns, nil
}

// kind is one resource the catalog reads.
type kind struct {
	gv, kind, resource string
	namespaced         bool
	list               func(cs kubernetes.Interface, ns string) pager.ListPageFunc
}

func lister[T runtime.Object](f func(ctx context.Context, opts metav1.ListOptions) (T, error)) pager.ListPageFunc {
	return func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) { return f(ctx, opts) }
}

// kinds are the resources the catalog has checks for. Endpoints are left
// out: the cluster manages them, and a scan should not report what nobody
// wrote.
var kinds = []kind{
	{"v1", "Namespace", "namespaces", false, func(cs kubernetes.Interface, _ string) pager.ListPageFunc {
		return lister(cs.CoreV1().Namespaces().List)
	}},
	{"v1", "Pod", "pods", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc { return lister(cs.CoreV1().Pods(ns).List) }},
	{"v1", "ReplicationController", "replicationcontrollers", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.CoreV1().ReplicationControllers(ns).List)
	}},
	{"v1", "Service", "services", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.CoreV1().Services(ns).List)
	}},
	{"v1", "ConfigMap", "configmaps", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.CoreV1().ConfigMaps(ns).List)
	}},
	{"v1", "Secret", "secrets", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.CoreV1().Secrets(ns).List)
	}},
	{"v1", "ServiceAccount", "serviceaccounts", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.CoreV1().ServiceAccounts(ns).List)
	}},
	{"apps/v1", "Deployment", "deployments.apps", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.AppsV1().Deployments(ns).List)
	}},
	{"apps/v1", "StatefulSet", "statefulsets.apps", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.AppsV1().StatefulSets(ns).List)
	}},
	{"apps/v1", "DaemonSet", "daemonsets.apps", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.AppsV1().DaemonSets(ns).List)
	}},
	{"apps/v1", "ReplicaSet", "replicasets.apps", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.AppsV1().ReplicaSets(ns).List)
	}},
	{"batch/v1", "Job", "jobs.batch", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.BatchV1().Jobs(ns).List)
	}},
	{"batch/v1", "CronJob", "cronjobs.batch", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.BatchV1().CronJobs(ns).List)
	}},
	{"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies.networking.k8s.io", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.NetworkingV1().NetworkPolicies(ns).List)
	}},
	{"networking.k8s.io/v1", "Ingress", "ingresses.networking.k8s.io", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.NetworkingV1().Ingresses(ns).List)
	}},
	{"rbac.authorization.k8s.io/v1", "Role", "roles.rbac.authorization.k8s.io", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.RbacV1().Roles(ns).List)
	}},
	{"rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings.rbac.authorization.k8s.io", true, func(cs kubernetes.Interface, ns string) pager.ListPageFunc {
		return lister(cs.RbacV1().RoleBindings(ns).List)
	}},
	{"rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles.rbac.authorization.k8s.io", false, func(cs kubernetes.Interface, _ string) pager.ListPageFunc {
		return lister(cs.RbacV1().ClusterRoles().List)
	}},
	{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings.rbac.authorization.k8s.io", false, func(cs kubernetes.Interface, _ string) pager.ListPageFunc {
		return lister(cs.RbacV1().ClusterRoleBindings().List)
	}},
}

// Resources lists the resources ReadCluster lists, for the read-only
// ClusterRole in deploy/.
func Resources() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.resource
	}
	return out
}

// ReadCluster lists every kind the catalog reads, page by page, a bounded
// number at a time. A kind it may not list is reported as not evaluated,
// never as clean. Objects that a controller in the scan owns (the Pods of a
// ReplicaSet, the ReplicaSets of a Deployment, the Jobs of a CronJob) are
// left out: their template is judged once, at the owner.
func ReadCluster(ctx context.Context, cfg *rest.Config, namespace string, opts ClusterOptions) (*ClusterResult, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 500
	}
	res := &ClusterResult{Namespace: namespace, Server: cfg.Host}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, opts.Concurrency)
	perKind := make([][]*manifest.Object, len(kinds))
	for i, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ns := ""
			if k.namespaced {
				ns = namespace
			}
			p := pager.New(k.list(cs, ns))
			p.PageSize = opts.PageSize
			err := p.EachListItem(ctx, metav1.ListOptions{}, func(obj runtime.Object) error {
				if o := liveObject(k, obj, namespace); o != nil {
					perKind[i] = append(perKind[i], o)
				}
				return nil
			})
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			perKind[i] = nil
			switch {
			case apierrors.IsForbidden(err):
				res.NotEvaluated = append(res.NotEvaluated, NotEvaluated{Resource: k.resource, Namespace: ns, Verb: "list", Reason: err.Error()})
			case apierrors.IsNotFound(err):
				// the API is not served by this cluster: nothing to evaluate
			default:
				res.Errors = append(res.Errors, manifest.InputError{File: cfg.Host, Message: fmt.Sprintf("listing %s: %v", k.resource, err)})
			}
		}()
	}
	wg.Wait()
	owners := map[string]bool{}
	for _, objs := range perKind {
		for _, o := range objs {
			if m, err := meta.Accessor(o.Typed); err == nil {
				owners[string(m.GetUID())] = true
			}
		}
	}
	for _, objs := range perKind {
		for _, o := range objs {
			if opts.KeepOwned || !ownedByScanned(o, owners) {
				res.Objects = append(res.Objects, o)
			}
		}
	}
	sort.SliceStable(res.Objects, func(i, j int) bool {
		a, b := res.Objects[i], res.Objects[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	sort.Slice(res.NotEvaluated, func(i, j int) bool { return res.NotEvaluated[i].Resource < res.NotEvaluated[j].Resource })
	return res, nil
}

// liveObject wraps a listed object; it drops what no check reads and what
// must not be held: Secret values and managed fields.
func liveObject(k kind, obj runtime.Object, namespace string) *manifest.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	if !k.namespaced && k.kind == "Namespace" && namespace != "" && m.GetName() != namespace {
		return nil // a one-namespace scan reads only its own Namespace
	}
	m.SetManagedFields(nil)
	if s, ok := obj.(*corev1.Secret); ok {
		s.Data, s.StringData = nil, nil // never held, never needed
	}
	// Typed list items carry no TypeMeta; set it so the object reads like a manifest.
	if ta, err := meta.TypeAccessor(obj); err == nil {
		ta.SetAPIVersion(k.gv)
		ta.SetKind(k.kind)
	}
	return manifest.NewLiveObject(k.gv, k.kind, m.GetNamespace(), m.GetName(), obj)
}

// ownedByScanned reports whether a controller that is also in the scan owns o.
func ownedByScanned(o *manifest.Object, owners map[string]bool) bool {
	m, err := meta.Accessor(o.Typed)
	if err != nil {
		return false
	}
	for _, ref := range m.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller && owners[string(ref.UID)] {
			return true
		}
	}
	return false
}

// Resource returns the resource name (e.g. deployments.apps) and scope of a
// kind the scan reads.
func Resource(apiVersion, kindName string) (resource string, namespaced, ok bool) {
	for _, k := range kinds {
		if k.gv == apiVersion && k.kind == kindName {
			return k.resource, k.namespaced, true
		}
	}
	return "", false, false
}
