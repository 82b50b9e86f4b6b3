package check

import (
	"sync"

	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/inventory"
)

// Context is what a check may read besides the object: the whole inventory
// and the scan's options.
type Context struct {
	Inventory *inventory.Inventory
	// PSS is the Pod Security level and version applied where no Namespace
	// in the scan says otherwise.
	PSS api.LevelVersion
	// AllowedRegistries are the image registries the configuration allows;
	// empty means the registry check has nothing to enforce.
	AllowedRegistries []string
	// KnownCheck reports whether an ID names a check of the catalog (used
	// by the checks that validate suppressions); nil accepts every ID.
	KnownCheck func(id string) bool

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
func (ctx *Context) PSSFor(o *inventory.Object) api.LevelVersion {
	lv := ctx.PSS
	if ctx.Inventory == nil {
		return lv
	}
	name := o.Namespace
	if name == "" {
		name = "default"
	}
	ns, ok := ctx.Inventory.Namespace(name)
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
