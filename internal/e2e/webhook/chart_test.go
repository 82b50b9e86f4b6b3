package webhook

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/internal/cli"
	"github.com/rampart-k8s/rampart/pkg/admission"
	"github.com/rampart-k8s/rampart/pkg/checks"
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
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	return admission.NewClusterContext(cs).Start(sctx, wait) == nil
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

// TestChartRBACRunsTheBackground: with background.enabled and
// background.remediate, the chart's roles (bound to its service account,
// and nothing else) let --background keep the Reports and the
// ClusterReport and remediate a labelled namespace: a Deployment scaled to
// zero, a Job suspended, a bare pod evicted; the one replica that does it
// elected through the chart's Lease.
func TestChartRBACRunsTheBackground(t *testing.T) {
	const release, ns = "rampart-bg", "rampart-bg"
	ctx := context.Background()
	c, _ := newClient(t)
	namespace(t, c, ns)
	objs, errs := source.RenderChart(chart, source.HelmOptions{Namespace: ns, ReleaseName: release,
		Set: []string{"background.enabled=true", "background.remediate=true"}})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, o := range objs {
		switch v := o.Typed.(type) {
		case *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding, *rbacv1.Role, *rbacv1.RoleBinding:
			obj := v.(client.Object)
			if err := c.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Delete(ctx, obj) })
		}
	}
	kc, err := cluster.Kubeconfig(t.TempDir(), "system:serviceaccount:"+ns+":"+release)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	startCRDs(t)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	cc := admission.NewClusterContext(cs)
	if err := cc.Start(runCtx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	r := admission.NewReviewer(admission.Options{Checks: checks.Builtin(), Engine: opts, Enforce: &high, Context: cc})
	comp, err := admission.NewCompliance(cfg, cs, r, cc)
	if err != nil {
		t.Fatal(err)
	}
	comp.Delay, comp.Remediate = 100*time.Millisecond, true
	// Elected through the chart's Lease, as the webhook runs it.
	comp.Start(runCtx)
	go comp.RunAsLeader(runCtx, cs, ns, release+"-background", "test")

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bg-remedy", Labels: map[string]string{admission.RemediateLabel: "scale-to-zero"}}}); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{privilegedDeployment, privilegedJob} {
		var u unstructured.Unstructured
		text = strings.NewReplacer("PRIV", "true", "namespace: reports", "namespace: bg-remedy", "namespace: remedy", "namespace: bg-remedy").Replace(text)
		if err := yaml.Unmarshal([]byte(text), &u.Object); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	pod := podObject(t, true, map[string]string{"rampart-test-skip": "1"})
	pod.SetNamespace("bg-remedy")
	pod.SetName("bare")
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	rc := reportsClient(t)
	within(t, 20*time.Second, func() error {
		var rep reportsv1alpha1.Report
		if err := rc.Get(ctx, client.ObjectKey{Namespace: "bg-remedy", Name: admission.ReportName}, &rep); err != nil {
			return err
		}
		var crep reportsv1alpha1.ClusterReport
		if err := rc.Get(ctx, client.ObjectKey{Name: admission.ReportName}, &crep); err != nil {
			return err
		}
		var d appsv1.Deployment
		if err := c.Get(ctx, client.ObjectKey{Namespace: "bg-remedy", Name: "web"}, &d); err != nil {
			return err
		}
		var job batchv1.Job
		if err := c.Get(ctx, client.ObjectKey{Namespace: "bg-remedy", Name: "batch"}, &job); err != nil {
			return err
		}
		var p corev1.Pod
		evicted := c.Get(ctx, client.ObjectKey{Namespace: "bg-remedy", Name: "bare"}, &p) != nil
		if *d.Spec.Replicas != 0 || job.Spec.Suspend == nil || !*job.Spec.Suspend || !evicted {
			return fmt.Errorf("not remediated: replicas %d, suspended %v, pod evicted %v", *d.Spec.Replicas, job.Spec.Suspend, evicted)
		}
		return nil
	})
}
