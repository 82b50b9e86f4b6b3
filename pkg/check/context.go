package check

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/object"
)

// Lookup is the context a check reads besides the object it judges: the
// other objects of the repository, of the cluster, or of an admission
// request's informer cache. The inventory of a file scan implements it; a
// check reads only the kinds its Reads field declares.
type Lookup interface {
	// Namespace returns the Namespace object named name, if known.
	Namespace(name string) (*corev1.Namespace, bool)
	// Workloads returns the objects that run pods in namespace ns.
	Workloads(ns string) []*object.Object
	// NetworkPolicies returns the NetworkPolicies of namespace ns.
	NetworkPolicies(ns string) []*networkingv1.NetworkPolicy
	// Selects reports whether np's podSelector matches podLabels (an
	// invalid selector matches nothing).
	Selects(np *networkingv1.NetworkPolicy, podLabels map[string]string) bool
	// ServiceAccount returns the ServiceAccount ns/name, if known.
	ServiceAccount(ns, name string) (*corev1.ServiceAccount, bool)
	// HasRoleBinding reports whether a RoleBinding or ClusterRoleBinding
	// names the ServiceAccount ns/name as a subject.
	HasRoleBinding(ns, name string) bool
	// OfKind returns the objects of kind (RBAC objects, Secrets).
	OfKind(kind string) []*object.Object
	// Find returns the object of kind in namespace ns named name, or nil.
	Find(kind, ns, name string) *object.Object
}

// Context is what a check may read besides the object: the lookup of the
// other objects, and the scan's options.
type Context struct {
	Lookup Lookup
	// PSS is the Pod Security level and version applied where no Namespace
	// in the scan says otherwise.
	PSS api.LevelVersion
	// AllowedRegistries are the image registries the configuration allows;
	// empty means the registry check has nothing to enforce.
	AllowedRegistries []string
	// KnownCheck reports whether an ID names a check of the catalog (used
	// by the checks that validate suppressions); nil accepts every ID.
	KnownCheck func(id string) bool
	// Resources are the values fixes give missing requests and limits,
	// keyed "requests.cpu", "limits.memory"; a resource without a value
	// gets no fix.
	Resources map[string]string
	// Fixing is set when the run computes fixes (the fix command, SARIF
	// fixes): the engine then calls each check's Fix on its findings.
	Fixing bool

	memo sync.Map // key -> *memoized
}

type memoized struct {
	once  sync.Once
	value any
}

// Memo returns what build gives for key, building it once per Context (one
// scan): how checks share a view of the inventory that an analyzer computes
// (the RBAC graph), without the inventory depending on the analyzer.
func (ctx *Context) Memo(key string, build func() any) any {
	m, _ := ctx.memo.LoadOrStore(key, &memoized{})
	e := m.(*memoized)
	e.once.Do(func() { e.value = build() })
	return e.value
}

// PSSFor returns the level and version that apply to o: the enforce labels
// of its Namespace when the scan includes that Namespace, else ctx.PSS.
// An object without a namespace is taken to be in "default".
func (ctx *Context) PSSFor(o *object.Object) api.LevelVersion {
	lv := ctx.PSS
	if ctx.Lookup == nil {
		return lv
	}
	name := o.Namespace
	if name == "" {
		name = "default"
	}
	ns, ok := ctx.Lookup.Namespace(name)
	if !ok {
		return lv
	}
	if l, ok := ns.Labels[api.EnforceLevelLabel]; ok {
		if level, err := api.ParseLevel(l); err == nil {
			lv.Level = level
			lv.Version = api.LatestVersion()
		}
		if v, ok := ns.Labels[api.EnforceVersionLabel]; ok {
			if version, err := api.ParseVersion(v); err == nil {
				lv.Version = version
			}
		}
	}
	return lv
}
