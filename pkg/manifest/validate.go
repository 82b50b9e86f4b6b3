package manifest

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// builtin indexes the kinds of the built-in API groups (those the client-go
// scheme knows), to tell a misspelt kind from a custom resource.
var builtin = sync.OnceValue(func() map[string]map[string][]string {
	groups := map[string]map[string][]string{} // group → kind → versions
	for gvk := range scheme.Scheme.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal || strings.HasSuffix(gvk.Kind, "Options") || gvk.Kind == "WatchEvent" || gvk.Kind == "Status" {
			continue
		}
		if groups[gvk.Group] == nil {
			groups[gvk.Group] = map[string][]string{}
		}
		groups[gvk.Group][gvk.Kind] = append(groups[gvk.Group][gvk.Kind], gvk.Version)
	}
	return groups
})

// unknownBuiltinKind explains why gv/kind names nothing in a built-in API
// group ("" when the group is not built in, or the kind exists): a kind no
// version of the group has (with the closest kind it does have), or a
// version the group does not serve.
func unknownBuiltinKind(gv schema.GroupVersion, kind string) (string, string) {
	kinds, ok := builtin()[gv.Group]
	if !ok {
		return "", ""
	}
	group := gv.Group
	if group == "" {
		group = "the core API group"
	}
	versions, ok := kinds[kind]
	if ok {
		for _, v := range versions {
			if v == gv.Version {
				return "", ""
			}
		}
		// A kind of another version (a removed beta, say): the
		// deprecated-API check says more; the API server rejects it.
		sort.Strings(versions)
		return "apiVersion", fmt.Sprintf("%s %s is not served in version %s (versions known: %s)", group, kind, gv.Version, strings.Join(versions, ", "))
	}
	best, bestD := "", 4
	for k := range kinds {
		d := editDistance(strings.ToLower(k), strings.ToLower(kind))
		if d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	msg := fmt.Sprintf("kind %q does not exist in %s", kind, group)
	if best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	}
	return "kind", msg
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// validate adds what the API server's validation rejects beyond the schema
// and that changes what an object means to a scan: a binding's roleRef and
// subjects.
func validate(typed runtime.Object) []FieldError {
	var errs []FieldError
	bad := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	subjects := func(ss []rbacv1.Subject, clusterWide bool) {
		for i, s := range ss {
			p := JoinIndex("subjects", i)
			switch s.Kind {
			case rbacv1.ServiceAccountKind:
				if s.APIGroup != "" {
					bad(p+".apiGroup", "a ServiceAccount subject has apiGroup \"\", not %q", s.APIGroup)
				}
				if clusterWide && s.Namespace == "" {
					bad(p, "a ServiceAccount subject of a ClusterRoleBinding needs a namespace")
				}
			case rbacv1.UserKind, rbacv1.GroupKind:
				// The API server defaults an empty apiGroup to rbac's.
				if s.APIGroup != rbacv1.GroupName && s.APIGroup != "" {
					bad(p+".apiGroup", "a %s subject has apiGroup %s, not %q", s.Kind, rbacv1.GroupName, s.APIGroup)
				}
			default:
				bad(p+".kind", "subject kind %q is not User, Group or ServiceAccount", s.Kind)
			}
			if s.Name == "" {
				bad(p, "subject has no name")
			}
		}
	}
	roleRef := func(r rbacv1.RoleRef, kinds ...string) {
		if r.APIGroup != rbacv1.GroupName && r.APIGroup != "" { // "" is defaulted
			bad("roleRef.apiGroup", "roleRef.apiGroup must be %s, not %q", rbacv1.GroupName, r.APIGroup)
		}
		ok := false
		for _, k := range kinds {
			ok = ok || r.Kind == k
		}
		if !ok {
			bad("roleRef.kind", "roleRef.kind must be %s, not %q: the API server rejects this binding", strings.Join(kinds, " or "), r.Kind)
		}
		if r.Name == "" {
			bad("roleRef.name", "roleRef.name is required")
		}
	}
	switch b := typed.(type) {
	case *rbacv1.ClusterRoleBinding:
		roleRef(b.RoleRef, "ClusterRole")
		subjects(b.Subjects, true)
	case *rbacv1.RoleBinding:
		roleRef(b.RoleRef, "Role", "ClusterRole")
		subjects(b.Subjects, false)
	}
	return errs
}
