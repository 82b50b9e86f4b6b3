package webhook

import (
	"context"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampart-k8s/rampart/internal/cli"
	"github.com/rampart-k8s/rampart/pkg/admission"
	"github.com/rampart-k8s/rampart/pkg/source"
)

const chart = "../../../deploy/charts/rampart"

// chartClusterRole is the ClusterRole the chart grants the webhook.
func chartClusterRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	objs, errs := source.RenderChart(chart, source.HelmOptions{Namespace: "rampart"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, o := range objs {
		if cr, ok := o.Typed.(*rbacv1.ClusterRole); ok {
			return cr.DeepCopy()
		}
	}
	t.Fatal("the chart has no ClusterRole")
	return nil
}

// startAs runs the webhook's informers as a user bound to role and reports
// whether their caches sync within wait.
func startAs(t *testing.T, user string, role *rbacv1.ClusterRole, wait time.Duration) bool {
	t.Helper()
	ctx := context.Background()
	c, _ := newClient(t)
	role.ObjectMeta = metav1.ObjectMeta{Name: user}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: user},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}}}
	for _, o := range []client.Object{role, binding} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	kc, err := cluster.Kubeconfig(t.TempDir(), user)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return admission.NewClusterContext(cs).Start(sctx) == nil
}

// TestChartRBACIsWhatTheWebhookReads: the chart's ClusterRole lets the
// webhook's informers sync against the real API server, and without any
// one of its rules they do not: it grants what --cluster-context reads and
// nothing it could do without.
func TestChartRBACIsWhatTheWebhookReads(t *testing.T) {
	role := chartClusterRole(t)
	for _, r := range role.Rules {
		for _, v := range r.Verbs {
			if v != "list" && v != "watch" && (v != "get" || strings.Join(r.Resources, ",") != "namespaces") {
				t.Errorf("the chart grants %s on %v", v, r.Resources)
			}
		}
	}
	if !startAs(t, "rampart-webhook", role.DeepCopy(), 20*time.Second) {
		t.Fatal("the informers do not sync with the chart's ClusterRole")
	}
	for i := range role.Rules {
		less := role.DeepCopy()
		less.Rules = append(less.Rules[:i:i], less.Rules[i+1:]...)
		if startAs(t, "rampart-less-"+strings.Join(role.Rules[i].Resources, "-"), less, 2*time.Second) {
			t.Errorf("the informers sync without the rule on %v: the chart grants more than needed", role.Rules[i].Resources)
		}
	}
}

// TestChartScansClean: the webhook's own chart, scanned by Rampart at the
// restricted level, has no finding above low (--fail-on medium passes) in
// every way it installs; pinned by digest, no finding at all.
func TestChartScansClean(t *testing.T) {
	digest := "image.digest=sha256:" + strings.Repeat("0", 64)
	for _, tc := range []struct {
		set  []string
		none bool // not even low findings
	}{
		{nil, false},
		{[]string{digest, "mutate.enabled=true"}, true},
		{[]string{"certManager.enabled=false", "tls.existingSecret=tls", "tls.caBundle=Q0E="}, false},
		{[]string{"background.enabled=true", "background.remediate=true"}, false},
	} {
		args := []string{"scan", chart, "-n", "rampart", "--fail-on", "medium", "--pss-level", "restricted"}
		for _, kv := range tc.set {
			args = append(args, "--set", kv)
		}
		var out, errb strings.Builder
		if code := cli.Main(args, strings.NewReader(""), &out, &errb); code != 0 {
			t.Errorf("%v: exit %d\n%s%s", tc.set, code, out.String(), errb.String())
		}
		if o := out.String(); tc.none && !strings.HasPrefix(o, "0 findings") && !strings.Contains(o, "\n0 findings") {
			t.Errorf("%v: findings:\n%s", tc.set, out.String())
		}
	}
}
