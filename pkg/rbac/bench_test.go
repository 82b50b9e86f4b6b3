package rbac

import (
	"fmt"
	"math/rand/v2"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// synthetic builds n roles and n bindings over subjects subjects, in 50
// namespaces, half cluster-scoped.
func synthetic(n, subjects int) []runtime.Object {
	r := rand.New(rand.NewPCG(1, 2))
	// Like real clusters: wildcards are rare, resources many.
	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	resources := []string{"pods", "secrets", "configmaps", "deployments", "services", "pods/log", "ingresses", "jobs",
		"cronjobs", "statefulsets", "daemonsets", "replicasets", "endpoints", "events", "serviceaccounts", "persistentvolumeclaims",
		"networkpolicies", "roles", "rolebindings", "horizontalpodautoscalers"}
	pick := func(xs []string) string {
		if r.IntN(50) == 0 {
			return "*"
		}
		return xs[r.IntN(len(xs))]
	}
	rule := func() rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: []string{pick(verbs), pick(verbs)},
			APIGroups: []string{"", "apps"}, Resources: []string{pick(resources), pick(resources)}}
	}
	subject := func() rbacv1.Subject {
		i := r.IntN(subjects)
		switch i % 3 {
		case 0:
			return rbacv1.Subject{Kind: "User", Name: fmt.Sprintf("user-%d", i)}
		case 1:
			return rbacv1.Subject{Kind: "Group", Name: fmt.Sprintf("group-%d", i)}
		}
		return rbacv1.Subject{Kind: "ServiceAccount", Namespace: fmt.Sprintf("ns-%d", i%50), Name: fmt.Sprintf("sa-%d", i)}
	}
	var objs []runtime.Object
	for i := 0; i < n/2; i++ {
		ns := fmt.Sprintf("ns-%d", i%50)
		objs = append(objs,
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cr-%d", i)}, Rules: []rbacv1.PolicyRule{rule(), rule()}},
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("r-%d", i), Namespace: ns}, Rules: []rbacv1.PolicyRule{rule(), rule()}},
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("crb-%d", i)}, Subjects: []rbacv1.Subject{subject(), subject()},
				RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: fmt.Sprintf("cr-%d", r.IntN(n/2))}},
			&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rb-%d", i), Namespace: ns}, Subjects: []rbacv1.Subject{subject(), subject()},
				RoleRef: rbacv1.RoleRef{Kind: "Role", Name: fmt.Sprintf("r-%d", i)}})
	}
	return objs
}

// BenchmarkWhoCan: 10k roles and 10k bindings over 5k subjects; one op is
// building the graph and answering 1,000 who-can questions.
func BenchmarkWhoCan(b *testing.B) {
	objs := synthetic(10000, 5000)
	r := rand.New(rand.NewPCG(3, 4))
	verbs := []string{"get", "list", "create", "delete"}
	resources := []string{"pods", "secrets", "configmaps", "deployments"}
	reqs := make([]Request, 1000)
	for i := range reqs {
		reqs[i] = Request{Verb: verbs[r.IntN(4)], Resource: resources[r.IntN(4)], Namespace: fmt.Sprintf("ns-%d", r.IntN(50))}
	}
	b.ReportAllocs()
	for b.Loop() {
		g := New(objs)
		n := 0
		for _, q := range reqs {
			n += len(g.WhoCan(q))
		}
		if n == 0 {
			b.Fatal("no answers")
		}
	}
}
