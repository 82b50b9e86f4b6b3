package rbac

import (
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Goal is what an escalation path reaches.
type Goal string

// Goals, worst first.
const (
	GoalClusterAdmin Goal = "cluster-admin" // every verb on every resource
	GoalSecrets      Goal = "read-secrets"  // the Secrets of a namespace or of the cluster
)

// Step is one move of an escalation path: the identity that makes it, what
// it does, and the grant that allows it.
type Step struct {
	From   string `json:"from"`
	Action string `json:"action"`
	To     string `json:"to"` // the identity or goal reached
	Grant  *Grant `json:"grant"`
}

// Path is a chain of steps from a subject to a goal.
type Path struct {
	Goal  Goal   `json:"goal"`
	Steps []Step `json:"steps"`
}

type move struct {
	action string
	req    Request
	goal   Goal // set when the move reaches a goal directly
	intoNS bool // the move yields every ServiceAccount of the request's namespace
}

// nsMoves are the escalation types inside a namespace: what a permission
// lets its holder become. "{ns}" in an action stands for the namespace.
var nsMoves = []move{
	{"creates pods, running them as any ServiceAccount of {ns}", Request{Verb: "create", Resource: "pods"}, "", true},
	{"creates Deployments, whose pods run as any ServiceAccount of {ns}", Request{Verb: "create", APIGroup: "apps", Resource: "deployments"}, "", true},
	{"creates DaemonSets, whose pods run as any ServiceAccount of {ns}", Request{Verb: "create", APIGroup: "apps", Resource: "daemonsets"}, "", true},
	{"creates StatefulSets, whose pods run as any ServiceAccount of {ns}", Request{Verb: "create", APIGroup: "apps", Resource: "statefulsets"}, "", true},
	{"creates Jobs, whose pods run as any ServiceAccount of {ns}", Request{Verb: "create", APIGroup: "batch", Resource: "jobs"}, "", true},
	{"creates CronJobs, whose pods run as any ServiceAccount of {ns}", Request{Verb: "create", APIGroup: "batch", Resource: "cronjobs"}, "", true},
	{"creates tokens for any ServiceAccount of {ns}", Request{Verb: "create", Resource: "serviceaccounts", Subresource: "token"}, "", true},
	{"reads the Secrets of {ns}", Request{Verb: "get", Resource: "secrets"}, GoalSecrets, true},
	{"lists the Secrets of {ns}", Request{Verb: "list", Resource: "secrets"}, GoalSecrets, true},
}

// createSecrets lets a reader of Secrets mint a token for any ServiceAccount:
// a Secret of type kubernetes.io/service-account-token naming it is filled
// by the token controller.
var createSecrets = Request{Verb: "create", Resource: "secrets"}

// clusterMoves are permissions that amount to cluster-admin on their own.
var clusterMoves = []move{
	{"holds every verb on every resource", Request{Verb: "*", APIGroup: "*", Resource: "*"}, GoalClusterAdmin, false},
	{"may escalate ClusterRoles: grant itself anything", Request{Verb: "escalate", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterroles"}, GoalClusterAdmin, false},
	{"may bind any ClusterRole, cluster-admin included", Request{Verb: "bind", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterroles"}, GoalClusterAdmin, false},
	{"may impersonate groups, system:masters included", Request{Verb: "impersonate", Resource: "groups"}, GoalClusterAdmin, false},
	{"may impersonate users", Request{Verb: "impersonate", Resource: "users"}, GoalClusterAdmin, false},
	{"may use nodes/proxy: the kubelet API runs commands in any pod", Request{Verb: "get", Resource: "nodes", Subresource: "proxy"}, GoalClusterAdmin, false},
	{"may approve certificate requests: client certificates for any identity", Request{Verb: "update", APIGroup: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "approval"}, GoalClusterAdmin, false},
	{"may change mutating admission webhooks: rewrite any object", Request{Verb: "create", APIGroup: "admissionregistration.k8s.io", Resource: "mutatingwebhookconfigurations"}, GoalClusterAdmin, false},
	{"may change validating admission webhooks", Request{Verb: "update", APIGroup: "admissionregistration.k8s.io", Resource: "validatingwebhookconfigurations"}, GoalClusterAdmin, false},
	{"reads every Secret of the cluster", Request{Verb: "list", Resource: "secrets"}, GoalSecrets, false},
}

// Paths returns, for subject u, the shortest chain to each goal it can reach:
// directly, or by becoming ServiceAccounts whose permissions lead further.
// Breadth first, so each identity is visited once.
func (g *Graph) Paths(u User) []Path {
	key := userKey(u)
	g.pathsMu.Lock()
	if p, ok := g.pathsCache[key]; ok {
		g.pathsMu.Unlock()
		return p
	}
	g.pathsMu.Unlock()
	p := g.search(u, false)
	g.pathsMu.Lock()
	g.pathsCache[key] = p
	g.pathsMu.Unlock()
	return p
}

// edge is one move an identity can make: to a goal, into the ServiceAccounts
// of a namespace, or both.
type edge struct {
	action string
	goal   Goal
	ns     string
	only   []string // when set, the only ServiceAccounts of ns the move yields
	grant  *Grant
}

// edges lists the moves of identity u, in the order paths tries them:
// cluster-wide moves, then namespaces by name. Cached per identity, since
// every subject's search walks the same ServiceAccounts.
func (g *Graph) edges(u User) []edge {
	key := userKey(u)
	g.edgesMu.Lock()
	e, ok := g.edgesCache[key]
	g.edgesMu.Unlock()
	if ok {
		return e
	}
	bs := g.bindingsFor(u)
	var out []edge
	if len(bs) > 0 {
		for _, m := range clusterMoves {
			if gr := g.allowsWith(bs, u, m.req); gr != nil {
				out = append(out, edge{action: m.action, goal: m.goal, grant: gr})
			}
		}
		// Only namespaces where the identity holds something can matter:
		// every namespace when it has a ClusterRoleBinding.
		nss := g.nsList
		if bs[0].ns != "" {
			scope := map[string]bool{}
			nss = nil
			for _, b := range bs {
				if !scope[b.ns] {
					scope[b.ns] = true
					nss = append(nss, b.ns)
				}
			}
			sort.Strings(nss)
		}
		for _, ns := range nss {
			for _, m := range nsMoves {
				req := m.req
				req.Namespace = ns
				gr := g.allowsWith(bs, u, req)
				if gr == nil {
					continue
				}
				e := edge{action: strings.ReplaceAll(m.action, "{ns}", ns), goal: m.goal, ns: ns, grant: gr}
				if req.Resource == "secrets" {
					// Since Kubernetes 1.24 ServiceAccounts have no token
					// Secret unless one is made: reading Secrets yields the
					// tokens that exist, or any token if it can create one.
					create := createSecrets
					create.Namespace = ns
					switch {
					case g.allowsWith(bs, u, create) != nil:
						e.action += " and creates token Secrets: the token of any ServiceAccount of " + ns
					case len(g.tokenSecrets[ns]) > 0:
						e.only = g.tokenSecrets[ns]
						e.action += ", token Secrets of " + strings.Join(g.tokenSecrets[ns], ", ") + " included"
					default:
						e.ns = "" // no token to read: the Secrets themselves are the goal
					}
				}
				out = append(out, e)
			}
		}
	}
	g.edgesMu.Lock()
	g.edgesCache[key] = out
	g.edgesMu.Unlock()
	return out
}

// AllPaths returns, for subject u, a chain to each goal from every identity
// the subject can become that reaches one: the shortest chain first for each
// goal, then the longer routes through other ServiceAccounts, worst goal
// first. Each identity is visited once, so the list is bounded by twice the
// number of identities (listing every simple path would be exponential).
func (g *Graph) AllPaths(u User) []Path { return g.search(u, true) }

// search walks breadth first from u. Without all it stops once both goals
// are found and keeps the first (shortest) chain to each; with all it walks
// every reachable identity and keeps each identity's first move to each goal.
func (g *Graph) search(u User, all bool) []Path {
	type node struct {
		user  User
		name  string
		steps []Step
	}
	start := node{user: u, name: displayName(u)}
	queue := []node{start}
	seen := map[string]bool{start.name: true}
	entered := map[string]bool{} // namespaces whose ServiceAccounts are queued
	found := map[Goal]Path{}
	var every []Path
	extend := func(n node, action, to string, gr *Grant) []Step {
		return append(append([]Step{}, n.steps...), Step{From: n.name, Action: action, To: to, Grant: gr})
	}
	for len(queue) > 0 && (all || len(found) < 2) {
		n := queue[0]
		queue = queue[1:]
		reached := map[Goal]bool{}
		for _, e := range g.edges(n.user) {
			if e.goal != "" && !reached[e.goal] {
				reached[e.goal] = true
				if _, done := found[e.goal]; !done || all {
					p := Path{Goal: e.goal, Steps: extend(n, e.action, string(e.goal), e.grant)}
					if !done {
						found[e.goal] = p
					}
					every = append(every, p)
				}
			}
			if e.ns == "" {
				continue
			}
			sas := e.only
			if sas == nil {
				if entered[e.ns] {
					continue
				}
				entered[e.ns] = true
				sas = g.serviceAccounts[e.ns]
			}
			for _, sa := range sas {
				name := "system:serviceaccount:" + e.ns + ":" + sa
				if seen[name] {
					continue
				}
				seen[name] = true
				queue = append(queue, node{user: ParseSubject(name), name: name, steps: extend(n, e.action, name, e.grant)})
			}
		}
	}
	rank := map[Goal]int{GoalClusterAdmin: 0, GoalSecrets: 1}
	if all {
		// BFS order is by length already; stable sort keeps it per goal.
		sort.SliceStable(every, func(i, j int) bool { return rank[every[i].Goal] < rank[every[j].Goal] })
		return every
	}
	var out []Path
	for _, goal := range []Goal{GoalClusterAdmin, GoalSecrets} {
		if p, ok := found[goal]; ok {
			out = append(out, p)
		}
	}
	return out
}

// userKey identifies a user and its groups for the per-graph caches.
func userKey(u User) string { return u.Name + "\x00" + strings.Join(u.Groups, "\x00") }

func displayName(u User) string {
	if u.Name != "" {
		return u.Name
	}
	if len(u.Groups) > 0 {
		return "group:" + u.Groups[0]
	}
	return "(nobody)"
}

// Risk is one subject's worst reachable goal, with its evidence.
type Risk struct {
	Subject string `json:"subject"`
	Paths   []Path `json:"paths"`
}

// Risky ranks the subjects of every binding by the worst goal they reach
// (cluster-admin before Secrets), then by the shortest chain. Kubernetes' own
// identities (names starting with system:, except the anonymous and all-users
// groups, and ServiceAccounts of kube-system) are the control plane and are
// left out: they hold their permissions by design.
func (g *Graph) Risky() []Risk {
	g.riskyOnce.Do(func() { g.risky = g.rank() })
	return g.risky
}

// Escalation is a Risky subject's worst chain when it has more than one
// step, placed on the binding it is reported on.
type Escalation struct {
	Subject string
	Path    Path
	// Related are the steps whose bindings are the other links.
	Related []Step
}

// Escalations returns, by binding, the chains to report there: each Risky
// subject whose worst chain is indirect, once, on the binding that starts
// the chain when that binding names the subject, or else (the first step
// came through a group) on the first binding that names it. Computed once.
func (g *Graph) Escalations() map[Ref][]Escalation {
	g.escOnce.Do(func() {
		g.esc = map[Ref][]Escalation{}
		for _, r := range g.Risky() {
			p := r.Paths[0]
			if len(p.Steps) < 2 || p.Steps[0].Grant == nil {
				continue
			}
			own := g.BindingsNaming(r.Subject)
			start := p.Steps[0].Grant.Binding
			at, related := start, p.Steps[1:]
			if !slices.Contains(own, start) {
				if len(own) == 0 {
					continue
				}
				at, related = own[0], p.Steps
			}
			g.esc[at] = append(g.esc[at], Escalation{Subject: r.Subject, Path: p, Related: related})
		}
	})
	return g.esc
}

// RiskySubject is the name Risky gives a binding's subject (users by name,
// groups as group:NAME, ServiceAccounts as system:serviceaccount:NS:NAME;
// bindingNS fills a ServiceAccount's empty namespace), or "" when it is one
// of Kubernetes' own identities, which Risky leaves out.
func RiskySubject(s rbacv1.Subject, bindingNS string) string {
	name := SubjectName(s, bindingNS)
	if controlPlane(name) {
		return ""
	}
	return name
}

// SubjectName names a binding's subject as paths' steps do: users by name,
// groups as group:NAME, ServiceAccounts as system:serviceaccount:NS:NAME
// (bindingNS fills an empty namespace); "" for an unknown kind.
func SubjectName(s rbacv1.Subject, bindingNS string) string {
	var name string
	switch s.Kind {
	case "User":
		name = s.Name
	case "Group":
		name = "group:" + s.Name
	case "ServiceAccount":
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		name = "system:serviceaccount:" + ns + ":" + s.Name
	}
	return name
}

func (g *Graph) rank() []Risk {
	subjects := map[string]User{}
	add := func(b binding) {
		for _, s := range b.subjects {
			name := RiskySubject(s, b.ns)
			switch {
			case name == "":
			case s.Kind == "Group":
				subjects[name] = User{Groups: []string{s.Name}}
			default:
				subjects[name] = ParseSubject(name)
			}
		}
	}
	for _, b := range g.cluster {
		add(b)
	}
	for _, bs := range g.namespaced {
		for _, b := range bs {
			add(b)
		}
	}
	var out []Risk
	for name, u := range subjects {
		if ps := g.Paths(u); len(ps) > 0 {
			out = append(out, Risk{Subject: name, Paths: ps})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Paths[0].Goal != b.Paths[0].Goal {
			return a.Paths[0].Goal == GoalClusterAdmin
		}
		if len(a.Paths[0].Steps) != len(b.Paths[0].Steps) {
			return len(a.Paths[0].Steps) < len(b.Paths[0].Steps)
		}
		return a.Subject < b.Subject
	})
	return out
}

func controlPlane(name string) bool {
	switch name {
	case "group:system:anonymous", "group:system:unauthenticated", "group:system:authenticated", "system:anonymous":
		return false
	}
	return strings.HasPrefix(name, "system:serviceaccount:kube-system:") ||
		(strings.HasPrefix(name, "system:") && !strings.HasPrefix(name, "system:serviceaccount:")) ||
		strings.HasPrefix(name, "group:system:")
}
