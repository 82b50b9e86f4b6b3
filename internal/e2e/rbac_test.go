package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/rampart-k8s/rampart/pkg/rbac"
)

var (
	oracleNamespaces = []string{"ns-a", "ns-b", "ns-c"}
	oracleVerbs      = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	oracleResources  = []struct{ group, resource, sub string }{
		{"", "pods", ""}, {"", "pods", "log"}, {"", "secrets", ""}, {"apps", "deployments", ""},
		{"apps", "deployments", "scale"}, {"", "configmaps", ""}, {"rbac.authorization.k8s.io", "roles", ""},
	}
)

func randomRules(r *rand.Rand, cluster bool) []rbacv1.PolicyRule {
	pick := func(xs []string, n int) []string {
		out := map[string]bool{}
		for i := 0; i < n; i++ {
			out[xs[r.IntN(len(xs))]] = true
		}
		var s []string
		for x := range out {
			s = append(s, x)
		}
		return s
	}
	var rules []rbacv1.PolicyRule
	for i := 0; i < 1+r.IntN(3); i++ {
		if cluster && r.IntN(8) == 0 {
			rules = append(rules, rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: pick([]string{"/healthz", "/api/*", "/version", "*"}, 1)})
			continue
		}
		verbs := pick(oracleVerbs, 1+r.IntN(3))
		if r.IntN(10) == 0 {
			verbs = []string{"*"}
		}
		rule := rbacv1.PolicyRule{
			Verbs:     verbs,
			APIGroups: pick([]string{"", "apps", "*", "rbac.authorization.k8s.io"}, 1+r.IntN(2)),
			Resources: pick([]string{"pods", "pods/log", "*/log", "secrets", "deployments", "deployments/scale", "configmaps", "*", "roles"}, 1+r.IntN(3)),
		}
		if r.IntN(5) == 0 {
			rule.ResourceNames = []string{"n1"}
		}
		rules = append(rules, rule)
	}
	return rules
}

// TestRBACOracle creates 240 random Roles, ClusterRoles and bindings over 30
// subjects in the real API server and checks that every answer of Allows
// (rampart rbac can) and WhoCan (rampart rbac who-can) equals the API
// server's SubjectAccessReview. Zero disagreements.
func TestRBACOracle(t *testing.T) {
	cs, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := rand.New(rand.NewPCG(42, 7))
	for _, ns := range oracleNamespaces {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var subjects []rbacv1.Subject
	var identities []rbac.User
	for i := 0; i < 10; i++ {
		subjects = append(subjects,
			rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("u%d", i)},
			rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("g%d", i)},
			rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: oracleNamespaces[i%2], Name: fmt.Sprintf("sa%d", i)})
		identities = append(identities,
			rbac.ParseSubject(fmt.Sprintf("u%d", i), fmt.Sprintf("g%d", r.IntN(10)), fmt.Sprintf("g%d", r.IntN(10))),
			rbac.ParseSubject(fmt.Sprintf("system:serviceaccount:%s:sa%d", oracleNamespaces[i%2], i)))
	}
	bind := func() []rbacv1.Subject {
		var s []rbacv1.Subject
		for i := 0; i < 1+r.IntN(3); i++ {
			s = append(s, subjects[r.IntN(len(subjects))])
		}
		if r.IntN(15) == 0 {
			s = append(s, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:serviceaccounts:ns-b"})
		}
		return s
	}
	objects := 0
	for i := 0; i < 60; i++ {
		name := fmt.Sprintf("oracle-cr-%d", i)
		if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: randomRules(r, true)}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ns := oracleNamespaces[r.IntN(3)]
		if _, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("oracle-role-%d", i)}, Rules: randomRules(r, false)}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		objects += 2
	}
	for i := 0; i < 60; i++ {
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("oracle-crb-%d", i)}, Subjects: bind(),
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: fmt.Sprintf("oracle-cr-%d", r.IntN(60))}}
		if i%4 == 0 {
			crb.RoleRef.Name = fmt.Sprintf("oracle-cr-%d", r.IntN(60))
		}
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ns := oracleNamespaces[r.IntN(3)]
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("oracle-rb-%d", i), Namespace: ns}, Subjects: bind()}
		if r.IntN(2) == 0 {
			rb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: fmt.Sprintf("oracle-cr-%d", r.IntN(60))}
		} else {
			rb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: fmt.Sprintf("oracle-role-%d", r.IntN(60))} // may be in another namespace: then it grants nothing
		}
		if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		objects += 2
	}
	if objects < 200 || len(subjects) < 30 {
		t.Fatalf("only %d objects over %d subjects", objects, len(subjects))
	}

	// Read back everything, the API server's bootstrap RBAC included.
	var objs []runtime.Object
	crs, _ := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	for i := range crs.Items {
		objs = append(objs, &crs.Items[i])
	}
	roles, _ := cs.RbacV1().Roles("").List(ctx, metav1.ListOptions{})
	for i := range roles.Items {
		objs = append(objs, &roles.Items[i])
	}
	crbs, _ := cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	for i := range crbs.Items {
		objs = append(objs, &crbs.Items[i])
	}
	rbs, _ := cs.RbacV1().RoleBindings("").List(ctx, metav1.ListOptions{})
	for i := range rbs.Items {
		objs = append(objs, &rbs.Items[i])
	}
	g := rbac.New(objs)

	checked, allowed, disagreements := 0, 0, 0
	for _, ns := range append(oracleNamespaces, "") {
		for _, verb := range oracleVerbs {
			for _, res := range oracleResources {
				req := rbac.Request{Verb: verb, APIGroup: res.group, Resource: res.resource, Subresource: res.sub, Namespace: ns}
				if r.IntN(3) == 0 {
					req.Name = "n1"
				}
				who := g.WhoCan(req)
				for _, u := range identities {
					sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
						User: u.Name, Groups: u.Groups,
						ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: res.group, Resource: res.resource, Subresource: res.sub, Name: req.Name},
					}}
					got, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
					if err != nil {
						t.Fatal(err)
					}
					ours, _ := g.Allows(u, req)
					covered := false
					for _, w := range who {
						if rbac.SubjectCovers(w.Subject, u) {
							covered = true
							break
						}
					}
					checked++
					if got.Status.Allowed {
						allowed++
					}
					if ours != got.Status.Allowed || covered != got.Status.Allowed {
						disagreements++
						if disagreements <= 10 {
							t.Errorf("%s %+v: API server %v, can %v, who-can %v", u.Name, req, got.Status.Allowed, ours, covered)
						}
					}
				}
			}
		}
	}
	for _, path := range []string{"/healthz", "/api/v1", "/version", "/metrics"} {
		for _, u := range identities {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: u.Name, Groups: u.Groups,
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: "get"}}}
			got, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ours, _ := g.Allows(u, rbac.Request{Verb: "get", Path: path})
			checked++
			if ours != got.Status.Allowed {
				disagreements++
				t.Errorf("%s get %s: API server %v, rampart %v", u.Name, path, got.Status.Allowed, ours)
			}
		}
	}
	t.Logf("%d questions (%d allowed) over %d objects and %d subjects: %d disagreements", checked, allowed, objects, len(subjects), disagreements)
	if allowed == 0 || allowed == checked {
		t.Errorf("%d of %d allowed: the random policy proves nothing", allowed, checked)
	}
}

// TestBootstrapRBACIsNotRisky reads the RBAC a fresh API server creates for
// itself and expects no risky subject: its identities are the control plane.
func TestBootstrapRBACIsNotRisky(t *testing.T) {
	cs, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: "kubernetes.io/bootstrapping=rbac-defaults"}
	var objs []runtime.Object
	crs, err := cs.RbacV1().ClusterRoles().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for i := range crs.Items {
		objs = append(objs, &crs.Items[i])
	}
	crbs, _ := cs.RbacV1().ClusterRoleBindings().List(ctx, sel)
	for i := range crbs.Items {
		objs = append(objs, &crbs.Items[i])
	}
	roles, _ := cs.RbacV1().Roles("").List(ctx, sel)
	for i := range roles.Items {
		objs = append(objs, &roles.Items[i])
	}
	rbs, _ := cs.RbacV1().RoleBindings("").List(ctx, sel)
	for i := range rbs.Items {
		objs = append(objs, &rbs.Items[i])
	}
	if len(crbs.Items) < 20 {
		t.Fatalf("only %d bootstrap ClusterRoleBindings read", len(crbs.Items))
	}
	g := rbac.New(objs)
	if risks := g.Risky(); len(risks) > 0 {
		for _, r := range risks {
			t.Errorf("bootstrap subject reported risky: %s -> %s", r.Subject, r.Paths[0].Goal)
		}
	}
	// The control plane can escalate by design; Paths still shows it when asked.
	if ps := g.Paths(rbac.ParseSubject("system:kube-controller-manager")); len(ps) == 0 {
		t.Error("no path for the controller manager, which may create tokens for any ServiceAccount")
	}
}
