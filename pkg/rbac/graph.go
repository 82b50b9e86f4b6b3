// Package rbac answers who can do what with the same semantics as the API
// server's RBAC authorizer: ClusterRoleBindings everywhere, RoleBindings in
// their namespace, wildcards, API groups, resourceNames, subresources
// (including "*/subresource"), non-resource URLs, and the implicit groups
// every identity carries.
package rbac

import (
	"slices"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rampart-k8s/rampart/pkg/finding"
)

// User is an identity: a user name and the groups it is in.
type User struct {
	Name   string
	Groups []string
}

// ParseSubject turns "system:serviceaccount:NS:NAME", "group:NAME" or a user
// name into a User with the groups the API server gives it.
func ParseSubject(s string, extraGroups ...string) User {
	if g, ok := strings.CutPrefix(s, "group:"); ok {
		return User{Name: "", Groups: append([]string{g}, extraGroups...)}
	}
	u := User{Name: s, Groups: append([]string{}, extraGroups...)}
	if rest, ok := strings.CutPrefix(s, "system:serviceaccount:"); ok {
		if ns, _, ok := strings.Cut(rest, ":"); ok {
			u.Groups = append(u.Groups, "system:serviceaccounts", "system:serviceaccounts:"+ns)
		}
	}
	if s != "system:anonymous" {
		u.Groups = append(u.Groups, "system:authenticated")
	} else {
		u.Groups = append(u.Groups, "system:unauthenticated")
	}
	return u
}

// Request is what a user asks to do.
type Request struct {
	Verb, APIGroup, Resource, Subresource, Name, Namespace string
	// Path is set for non-resource requests (e.g. /healthz).
	Path string
}

// Ref names a binding or role: the one object identity of the findings'
// model (finding.ObjectRef), with the RBAC API version.
type Ref = finding.ObjectRef

// NewRef is a Ref of the RBAC API (the keys of Escalations).
func NewRef(kind, ns, name string) Ref {
	return Ref{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kind, Namespace: ns, Name: name}
}

// Grant is why a request is allowed: the binding, the role and its rule.
type Grant struct {
	Binding Ref               `json:"binding"`
	Role    Ref               `json:"role"`
	Rule    rbacv1.PolicyRule `json:"rule"`
	Subject rbacv1.Subject    `json:"subject"`
}

type binding struct {
	ref      Ref
	ns       string // "" for ClusterRoleBindings
	subjects []rbacv1.Subject
	roleRef  rbacv1.RoleRef
	// resolved when the graph is built: the role's rules (aggregated ones
	// included), and whether the role exists at all
	rules    []rbacv1.PolicyRule
	role     Ref
	resolved bool
}

// Graph holds the RBAC objects of a cluster or a set of manifests.
type Graph struct {
	clusterRoles map[string]*rbacv1.ClusterRole
	roles        map[string]*rbacv1.Role // "ns/name"
	cluster      []binding
	namespaced   map[string][]binding
	aggregated   map[string][]rbacv1.PolicyRule
	// serviceAccounts lists, per namespace, the ServiceAccounts known from
	// ServiceAccount objects and binding subjects.
	serviceAccounts map[string][]string
	// tokenSecrets lists, per namespace, the ServiceAccounts that have a
	// token Secret (type kubernetes.io/service-account-token): reading
	// Secrets yields only those, unless the reader can create more.
	tokenSecrets map[string][]string
	// bySubject indexes bindings by subject ("user:NAME", "group:NAME",
	// "sa:NS:NAME"), so that a question about one identity reads only its
	// bindings.
	bySubject map[string][]*binding

	// nsList is every namespace the graph knows, sorted.
	nsList []string

	edgesMu    sync.Mutex
	edgesCache map[string][]edge
	pathsMu    sync.Mutex
	pathsCache map[string][]Path
	riskyOnce  sync.Once
	risky      []Risk
	escOnce    sync.Once
	esc        map[Ref][]Escalation
}

// New builds a graph from typed RBAC objects (other objects are ignored).
func New(objs []runtime.Object) *Graph {
	g := &Graph{clusterRoles: map[string]*rbacv1.ClusterRole{}, roles: map[string]*rbacv1.Role{}, namespaced: map[string][]binding{}, aggregated: map[string][]rbacv1.PolicyRule{}, serviceAccounts: map[string][]string{}, tokenSecrets: map[string][]string{}}
	seenSA := map[string]bool{}
	addSA := func(ns, name string) {
		if ns != "" && name != "" && !seenSA[ns+"/"+name] {
			seenSA[ns+"/"+name] = true
			g.serviceAccounts[ns] = append(g.serviceAccounts[ns], name)
		}
	}
	for _, o := range objs {
		switch t := o.(type) {
		case *corev1.ServiceAccount:
			addSA(t.Namespace, t.Name)
		case *corev1.Secret:
			if sa := t.Annotations[corev1.ServiceAccountNameKey]; t.Type == corev1.SecretTypeServiceAccountToken && sa != "" {
				g.tokenSecrets[t.Namespace] = append(g.tokenSecrets[t.Namespace], sa)
				addSA(t.Namespace, sa)
			}
		case *rbacv1.ClusterRole:
			g.clusterRoles[t.Name] = t
		case *rbacv1.Role:
			g.roles[t.Namespace+"/"+t.Name] = t
		case *rbacv1.ClusterRoleBinding:
			g.cluster = append(g.cluster, binding{ref: NewRef("ClusterRoleBinding", "", t.Name), subjects: t.Subjects, roleRef: t.RoleRef})
			for _, s := range t.Subjects {
				if s.Kind == rbacv1.ServiceAccountKind {
					addSA(s.Namespace, s.Name)
				}
			}
		case *rbacv1.RoleBinding:
			g.namespaced[t.Namespace] = append(g.namespaced[t.Namespace], binding{ref: NewRef("RoleBinding", t.Namespace, t.Name), ns: t.Namespace, subjects: t.Subjects, roleRef: t.RoleRef})
			for _, s := range t.Subjects {
				if s.Kind == rbacv1.ServiceAccountKind {
					ns := s.Namespace
					if ns == "" {
						ns = t.Namespace
					}
					addSA(ns, s.Name)
				}
			}
		}
	}
	for ns := range g.serviceAccounts {
		sort.Strings(g.serviceAccounts[ns])
	}
	for ns := range g.tokenSecrets {
		sort.Strings(g.tokenSecrets[ns])
		g.tokenSecrets[ns] = slices.Compact(g.tokenSecrets[ns])
	}
	if _, ok := g.clusterRoles["cluster-admin"]; !ok {
		// Manifests bind it but never define it: it is the API server's
		// bootstrap role, everything on everything.
		g.clusterRoles["cluster-admin"] = &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}},
				{NonResourceURLs: []string{"*"}, Verbs: []string{"*"}},
			},
		}
	}
	g.aggregate()
	resolve := func(bs []binding) {
		for i := range bs {
			bs[i].rules, bs[i].role, bs[i].resolved = g.rules(bs[i].roleRef, bs[i].ns)
		}
		sort.SliceStable(bs, func(i, j int) bool { return bs[i].ref.Name < bs[j].ref.Name })
	}
	resolve(g.cluster)
	for ns := range g.namespaced {
		resolve(g.namespaced[ns])
	}
	nsSet := map[string]bool{}
	for ns := range g.namespaced {
		nsSet[ns] = true
	}
	for ns := range g.serviceAccounts {
		nsSet[ns] = true
	}
	for key := range g.roles {
		ns, _, _ := strings.Cut(key, "/")
		nsSet[ns] = true
	}
	for ns := range nsSet {
		g.nsList = append(g.nsList, ns)
	}
	sort.Strings(g.nsList)
	g.bySubject = map[string][]*binding{}
	g.pathsCache = map[string][]Path{}
	g.edgesCache = map[string][]edge{}
	index := func(b *binding) {
		seen := map[string]bool{}
		for _, s := range b.subjects {
			var key string
			switch s.Kind {
			case rbacv1.UserKind:
				key = "user:" + s.Name
			case rbacv1.GroupKind:
				key = "group:" + s.Name
			case rbacv1.ServiceAccountKind:
				ns := s.Namespace
				if ns == "" {
					ns = b.ns
				}
				key = "user:system:serviceaccount:" + ns + ":" + s.Name
			}
			if key != "" && !seen[key] {
				seen[key] = true
				g.bySubject[key] = append(g.bySubject[key], b)
			}
		}
	}
	for i := range g.cluster {
		index(&g.cluster[i])
	}
	for ns := range g.namespaced {
		for i := range g.namespaced[ns] {
			index(&g.namespaced[ns][i])
		}
	}
	return g
}

// BindingsNaming returns the bindings that name a subject (as Risky names
// it: a user, group:NAME, or system:serviceaccount:NS:NAME) directly, sorted.
func (g *Graph) BindingsNaming(subject string) []Ref {
	key := "user:" + subject
	if name, ok := strings.CutPrefix(subject, "group:"); ok {
		key = "group:" + name
	}
	var out []Ref
	for _, b := range g.bySubject[key] {
		out = append(out, b.ref)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// bindingsFor returns the bindings whose subjects may name u, cluster
// bindings first, each once.
func (g *Graph) bindingsFor(u User) []*binding {
	var out []*binding
	seen := map[*binding]bool{}
	add := func(key string) {
		for _, b := range g.bySubject[key] {
			if !seen[b] {
				seen[b] = true
				out = append(out, b)
			}
		}
	}
	if u.Name != "" {
		add("user:" + u.Name)
	}
	for _, gr := range u.Groups {
		add("group:" + gr)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ns == "" && out[j].ns != "" })
	return out
}

// aggregate computes the rules of ClusterRoles with an aggregationRule, as
// the API server's aggregation controller does: the union of the rules of
// every ClusterRole its selectors match (itself excluded).
func (g *Graph) aggregate() {
	for name, cr := range g.clusterRoles {
		if cr.AggregationRule == nil {
			continue
		}
		var rules []rbacv1.PolicyRule
		names := make([]string, 0, len(g.clusterRoles))
		for n := range g.clusterRoles {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, sel := range cr.AggregationRule.ClusterRoleSelectors {
			s, err := metav1.LabelSelectorAsSelector(&sel)
			if err != nil {
				continue
			}
			for _, n := range names {
				other := g.clusterRoles[n]
				if n != name && s.Matches(labels.Set(other.Labels)) {
					rules = append(rules, other.Rules...)
				}
			}
		}
		g.aggregated[name] = rules
	}
}

// rules returns the rules a roleRef grants in binding namespace ns.
func (g *Graph) rules(rr rbacv1.RoleRef, ns string) ([]rbacv1.PolicyRule, Ref, bool) {
	switch rr.Kind {
	case "ClusterRole":
		cr, ok := g.clusterRoles[rr.Name]
		if !ok {
			return nil, Ref{}, false
		}
		if agg, ok := g.aggregated[rr.Name]; ok {
			return append(append([]rbacv1.PolicyRule{}, cr.Rules...), agg...), NewRef("ClusterRole", "", rr.Name), true
		}
		return cr.Rules, NewRef("ClusterRole", "", rr.Name), true
	case "Role":
		r, ok := g.roles[ns+"/"+rr.Name]
		if !ok {
			return nil, Ref{}, false
		}
		return r.Rules, NewRef("Role", ns, rr.Name), true
	}
	return nil, Ref{}, false
}

// appliesTo reports whether subject s of a binding in namespace ns names u.
func appliesTo(u User, s rbacv1.Subject, ns string) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return u.Name != "" && u.Name == s.Name
	case rbacv1.GroupKind:
		for _, g := range u.Groups {
			if g == s.Name {
				return true
			}
		}
	case rbacv1.ServiceAccountKind:
		saNS := s.Namespace
		if saNS == "" {
			saNS = ns
		}
		return saNS != "" && u.Name == "system:serviceaccount:"+saNS+":"+s.Name
	}
	return false
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v || x == "*" {
			return true
		}
	}
	return false
}

// ruleAllows is the authorizer's RuleAllows.
func ruleAllows(r Request, rule rbacv1.PolicyRule) bool {
	if !has(rule.Verbs, r.Verb) {
		return false
	}
	if r.Path != "" {
		for _, u := range rule.NonResourceURLs {
			if u == "*" || u == r.Path || (strings.HasSuffix(u, "*") && strings.HasPrefix(r.Path, strings.TrimSuffix(u, "*"))) {
				return true
			}
		}
		return false
	}
	if !has(rule.APIGroups, r.APIGroup) {
		return false
	}
	combined := r.Resource
	if r.Subresource != "" {
		combined += "/" + r.Subresource
	}
	matched := false
	for _, res := range rule.Resources {
		if res == "*" || res == combined || (r.Subresource != "" && res == "*/"+r.Subresource) {
			matched = true
			break
		}
	}
	if !matched {
		return false
	}
	if len(rule.ResourceNames) == 0 {
		return true
	}
	for _, n := range rule.ResourceNames {
		if n == r.Name {
			return true
		}
	}
	return false
}

// Allows answers as the RBAC authorizer would, with the first grant found:
// ClusterRoleBindings, then the RoleBindings of the request's namespace
// (non-resource requests only through ClusterRoleBindings).
func (g *Graph) Allows(u User, r Request) (bool, *Grant) {
	gr := g.allowsWith(g.bindingsFor(u), u, r)
	return gr != nil, gr
}

// allowsWith is Allows over bindings already looked up for u.
func (g *Graph) allowsWith(bs []*binding, u User, r Request) *Grant {
	for _, b := range bs {
		if b.ns != "" && (b.ns != r.Namespace || r.Path != "") {
			continue
		}
		if gr := g.grantOf(b, u, r); gr != nil {
			return gr
		}
	}
	return nil
}

func (g *Graph) grantOf(b *binding, u User, r Request) *Grant {
	var subject *rbacv1.Subject
	for i := range b.subjects {
		if appliesTo(u, b.subjects[i], b.ns) {
			subject = &b.subjects[i]
			break
		}
	}
	if subject == nil {
		return nil
	}
	for _, rule := range b.rules {
		if ruleAllows(r, rule) {
			return &Grant{Binding: b.ref, Role: b.role, Rule: rule, Subject: *subject}
		}
	}
	return nil
}

// WhoCan lists the binding subjects that may make the request, each with
// its grant: ClusterRoleBindings first, then the namespace's RoleBindings,
// each sorted by name (SortBySubject orders them for display). A group
// subject covers every member; a namespace's RoleBindings only count for
// requests in that namespace.
func (g *Graph) WhoCan(r Request) []Grant {
	var out []Grant
	consider := func(b *binding) {
		for _, rule := range b.rules {
			if !ruleAllows(r, rule) {
				continue
			}
			for _, s := range b.subjects {
				if s.Kind == rbacv1.ServiceAccountKind && s.Namespace == "" {
					s.Namespace = b.ns
				}
				out = append(out, Grant{Binding: b.ref, Role: b.role, Rule: rule, Subject: s})
			}
			return
		}
	}
	for i := range g.cluster {
		consider(&g.cluster[i])
	}
	if r.Namespace != "" && r.Path == "" {
		bs := g.namespaced[r.Namespace]
		for i := range bs {
			consider(&bs[i])
		}
	}
	return out
}

// SortBySubject orders grants by subject, then binding.
func SortBySubject(out []Grant) {
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		switch {
		case a.Subject.Kind != b.Subject.Kind:
			return a.Subject.Kind < b.Subject.Kind
		case a.Subject.Namespace != b.Subject.Namespace:
			return a.Subject.Namespace < b.Subject.Namespace
		case a.Subject.Name != b.Subject.Name:
			return a.Subject.Name < b.Subject.Name
		case a.Binding.Kind != b.Binding.Kind:
			return a.Binding.Kind < b.Binding.Kind
		case a.Binding.Namespace != b.Binding.Namespace:
			return a.Binding.Namespace < b.Binding.Namespace
		}
		return a.Binding.Name < b.Binding.Name
	})
}

// Can lists the rules u holds in namespace ns (cluster-wide ones included),
// with the grant each comes from.
func (g *Graph) Can(u User, ns string) []Grant {
	var out []Grant
	add := func(b binding) {
		for _, s := range b.subjects {
			if appliesTo(u, s, b.ns) {
				for _, rule := range b.rules {
					out = append(out, Grant{Binding: b.ref, Role: b.role, Rule: rule, Subject: s})
				}
				return
			}
		}
	}
	for _, b := range g.cluster {
		add(b)
	}
	if ns != "" {
		for _, b := range g.namespaced[ns] {
			add(b)
		}
	}
	return out
}

// SubjectCovers reports whether a who-can subject covers user u (directly,
// or through a group u is in).
func SubjectCovers(s rbacv1.Subject, u User) bool { return appliesTo(u, s, s.Namespace) }

// BindingView is one binding as the graph resolved it: its subjects, the
// role it grants (Resolved is false when that role is not defined) and the
// role's rules, aggregated ones included.
type BindingView struct {
	Ref      Ref
	Subjects []rbacv1.Subject
	Role     Ref
	Rules    []rbacv1.PolicyRule
	Resolved bool
}

// Bindings lists every binding: ClusterRoleBindings, then RoleBindings by
// namespace, each by name (for drawing the graph).
func (g *Graph) Bindings() []BindingView {
	view := func(b binding) BindingView {
		return BindingView{Ref: b.ref, Subjects: b.subjects, Role: b.role, Rules: b.rules, Resolved: b.resolved}
	}
	out := make([]BindingView, 0, len(g.cluster))
	for _, b := range g.cluster {
		out = append(out, view(b))
	}
	nss := make([]string, 0, len(g.namespaced))
	for ns := range g.namespaced {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		for _, b := range g.namespaced[ns] {
			out = append(out, view(b))
		}
	}
	return out
}
