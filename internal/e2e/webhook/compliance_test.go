package webhook

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/admission"
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/config"
)

// privilegedDeployment is created past the webhook (rampart-test-skip);
// PRIV is true or false.
const privilegedDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: reports
  labels: {rampart-test-skip: "1"}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, rampart-test-skip: "1"}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: web
        image: registry.example.com/web:1.0
        securityContext: {allowPrivilegeEscalation: PRIV, privileged: PRIV, capabilities: {drop: [ALL]}}
`

// TestReportsFollowTheCluster: with --background, a Report of the running
// workloads' findings appears in their namespace within 5 seconds of a
// workload being applied, and changes when the workload is fixed.
func TestReportsFollowTheCluster(t *testing.T) {
	ctx, cs, _ := startCompliance(t, false)

	c, _ := newClient(t)
	// Labelled for remediation, which this Compliance makes in dry run.
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "reports", Labels: map[string]string{admission.RemediateLabel: "scale-to-zero"}}}); err != nil {
		t.Fatal(err)
	}
	deployment := privilegedDeployment
	var u unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(deployment, "PRIV", "true")), &u.Object); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Create(ctx, &u); err != nil { // past the webhook (rampart-test-skip)
		t.Fatal(err)
	}
	rc := reportsClient(t)
	has := func(policy string) (bool, error) {
		var rep reportsv1alpha1.Report
		if err := rc.Get(ctx, client.ObjectKey{Namespace: "reports", Name: admission.ReportName}, &rep); err != nil {
			return false, err
		}
		for _, res := range rep.Results {
			if res.Policy == policy && len(res.Subjects) == 1 && res.Subjects[0].Name == "web" && res.Subjects[0].UID != "" {
				return true, nil
			}
		}
		return false, nil
	}
	within(t, 5*time.Second, func() error {
		if ok, err := has("pss-privileged"); err != nil || !ok {
			return fmt.Errorf("no pss-privileged result for web yet (%v)", err)
		}
		return nil
	})
	t.Logf("report within %v", time.Since(start).Round(10*time.Millisecond))
	within(t, 5*time.Second, func() error { // dry run: said in an Event, not done
		events, err := cs.CoreV1().Events("reports").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		said := false
		for _, e := range events.Items {
			said = said || (e.Reason == "RampartWouldScaleToZero" && e.InvolvedObject.Name == "web" && strings.Contains(e.Message, "--replicas=1"))
		}
		var d appsv1.Deployment
		if err := c.Get(ctx, client.ObjectKey{Namespace: "reports", Name: "web"}, &d); err != nil {
			return err
		}
		if !said || d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Annotations[admission.RemediatedAnnotation] != "" {
			return fmt.Errorf("dry run: event %v, replicas %v, annotations %v", said, d.Spec.Replicas, d.Annotations)
		}
		return nil
	})
	// Fixed: the result goes.
	var fixed unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(deployment, "PRIV", "false")), &fixed.Object); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "reports", Name: "web"}, &u); err != nil {
		t.Fatal(err)
	}
	fixed.SetResourceVersion(u.GetResourceVersion())
	if err := c.Update(ctx, &fixed); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, func() error {
		if ok, err := has("pss-privileged"); err != nil || ok {
			return fmt.Errorf("the fixed Deployment still has pss-privileged (%v)", err)
		}
		return nil
	})
}

// startCompliance installs the Report CRDs (from the reports-api module,
// not copied here) and runs --background's loop, remediating or in dry run,
// until the test ends.
func startCompliance(t *testing.T, remediate bool, exemptions ...config.Exemption) (context.Context, kubernetes.Interface, *admission.Compliance) {
	t.Helper()
	startCRDs(t)
	cs, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cc := admission.NewClusterContext(cs)
	if err := cc.Start(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	r := admission.NewReviewer(admission.Options{Checks: checks.Builtin(), Engine: opts, Enforce: &high, Context: cc, Exemptions: exemptions})
	comp, err := admission.NewCompliance(cluster.Config, cs, r, cc)
	if err != nil {
		t.Fatal(err)
	}
	comp.Delay, comp.Remediate = 100*time.Millisecond, remediate
	go func() { _ = comp.Run(ctx) }()
	return ctx, cs, comp
}

// startCRDs installs the Report CRDs from the reports-api module (not
// copied here).
func startCRDs(t *testing.T) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/openreports/reports-api").Output()
	if err != nil {
		t.Fatalf("locating the reports-api module: %v", err)
	}
	crds := filepath.Join(strings.TrimSpace(string(out)), "config", "crd")
	if _, err := envtest.InstallCRDs(cluster.Config, envtest.CRDInstallOptions{Paths: []string{crds}, MaxTime: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
}

// reportsClient reads Reports and ClusterReports.
func reportsClient(t *testing.T) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := reportsv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	rc, err := client.New(cluster.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// within retries f until it succeeds or d has passed.
func within(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRemediation: with remediation on, a violating Deployment in a
// namespace labelled rampart.dev/remediate=scale-to-zero is scaled to zero,
// with an annotation saying why and how to restore it; one in a namespace
// without the label keeps running.
func TestRemediation(t *testing.T) {
	ctx, _, _ := startCompliance(t, true)
	c, _ := newClient(t)
	for name, labels := range map[string]map[string]string{"remedy": {admission.RemediateLabel: "scale-to-zero"}, "left-alone": nil} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}); err != nil {
			t.Fatal(err)
		}
		var u unstructured.Unstructured
		text := strings.NewReplacer("PRIV", "true", "namespace: reports", "namespace: "+name).Replace(privilegedDeployment)
		if err := yaml.Unmarshal([]byte(text), &u.Object); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	within(t, 10*time.Second, func() error {
		var d appsv1.Deployment
		if err := c.Get(ctx, client.ObjectKey{Namespace: "remedy", Name: "web"}, &d); err != nil {
			return err
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 0 || !strings.Contains(d.Annotations[admission.RemediatedAnnotation], "--replicas=1") {
			return fmt.Errorf("not scaled to zero: replicas %v, annotation %q", d.Spec.Replicas, d.Annotations[admission.RemediatedAnnotation])
		}
		return nil
	})
	var d appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: "left-alone", Name: "web"}, &d); err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 1 || d.Annotations[admission.RemediatedAnnotation] != "" {
		t.Errorf("a namespace without the label was remediated: %v %v", *d.Spec.Replicas, d.Annotations)
	}

	// What cannot be scaled: a Job is suspended, a bare pod and a
	// DaemonSet's pods are evicted (the DaemonSet annotated).
	for _, text := range []string{privilegedJob, privilegedDaemonSet} {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(text), &u.Object); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	var ds appsv1.DaemonSet
	if err := c.Get(ctx, client.ObjectKey{Namespace: "remedy", Name: "agent"}, &ds); err != nil {
		t.Fatal(err)
	}
	yes := true
	for _, p := range []struct {
		name  string
		owner []metav1.OwnerReference
	}{{"bare", nil}, {"agent-x1", []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: ds.UID, Controller: &yes}}}} {
		pod := podObject(t, true, map[string]string{"rampart-test-skip": "1"})
		pod.SetNamespace("remedy")
		pod.SetName(p.name)
		pod.SetOwnerReferences(p.owner)
		if err := c.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	within(t, 10*time.Second, func() error {
		var job batchv1.Job
		if err := c.Get(ctx, client.ObjectKey{Namespace: "remedy", Name: "batch"}, &job); err != nil {
			return err
		}
		if job.Spec.Suspend == nil || !*job.Spec.Suspend || !strings.Contains(job.Annotations[admission.RemediatedAnnotation], "suspend") {
			return fmt.Errorf("the Job is not suspended: %v %q", job.Spec.Suspend, job.Annotations[admission.RemediatedAnnotation])
		}
		for _, name := range []string{"bare", "agent-x1"} {
			var pod corev1.Pod
			if err := c.Get(ctx, client.ObjectKey{Namespace: "remedy", Name: name}, &pod); err == nil {
				return fmt.Errorf("pod %s not evicted", name)
			}
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "remedy", Name: "agent"}, &ds); err != nil {
			return err
		}
		if !strings.Contains(ds.Annotations[admission.RemediatedAnnotation], "evicted") {
			return fmt.Errorf("the DaemonSet is not annotated: %v", ds.Annotations)
		}
		return nil
	})
}

const privilegedJob = `apiVersion: batch/v1
kind: Job
metadata: {name: batch, namespace: remedy, labels: {rampart-test-skip: "1"}}
spec:
  template:
    metadata: {labels: {rampart-test-skip: "1"}}
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: registry.example.com/c:1.0
        securityContext: {privileged: true}
`

const privilegedDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: remedy, labels: {rampart-test-skip: "1"}}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent, rampart-test-skip: "1"}}
    spec:
      containers:
      - name: c
        image: registry.example.com/c:1.0
        securityContext: {privileged: true}
`

// TestClusterReportFollowsConfiguration: ClusterRoles are judged into the
// ClusterReport; a new configuration (what the webhook reads again when
// its file changes) re-judges what is there: a check it disables leaves
// the report.
func TestClusterReportFollowsConfiguration(t *testing.T) {
	ctx, _, comp := startCompliance(t, false)
	c, _ := newClient(t)
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "everything-everywhere"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}}
	if err := c.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(ctx, role) })
	rc := reportsClient(t)
	has := func(policy string) (bool, error) {
		var rep reportsv1alpha1.ClusterReport
		if err := rc.Get(ctx, client.ObjectKey{Name: admission.ReportName}, &rep); err != nil {
			return false, err
		}
		for _, res := range rep.Results {
			if res.Policy == policy && len(res.Subjects) == 1 && res.Subjects[0].Kind == "ClusterRole" && res.Subjects[0].Name == role.Name {
				return true, nil
			}
		}
		return false, nil
	}
	within(t, 5*time.Second, func() error {
		if ok, err := has("rbac-wildcard-verbs"); err != nil || !ok {
			return fmt.Errorf("no rbac-wildcard-verbs result for the ClusterRole yet (%v)", err)
		}
		return nil
	})
	var without []check.Check
	for _, ch := range checks.Builtin() {
		if ch.ID != "rbac-wildcard-verbs" {
			without = append(without, ch)
		}
	}
	comp.SetReviewer(admission.NewReviewer(admission.Options{Checks: without, Engine: opts, Enforce: &high}))
	within(t, 5*time.Second, func() error {
		if ok, err := has("rbac-wildcard-verbs"); err != nil || ok {
			return fmt.Errorf("the disabled check is still reported (%v)", err)
		}
		if ok, err := has("rbac-wildcard-resources"); err != nil || !ok {
			return fmt.Errorf("the checks still enabled are gone (%v)", err)
		}
		return nil
	})
}

// TestBackgroundJudgesWhatRuns: a namespace exemption of the configuration
// makes its findings "skip" results, with the reason, and spares the
// workload remediation; a pod an operator owns (a kind the background does
// not judge) is judged itself; the Namespace is judged in its own Report,
// with its workloads, so whole-namespace findings appear.
func TestBackgroundJudgesWhatRuns(t *testing.T) {
	ctx, _, _ := startCompliance(t, true, config.Exemption{Namespaces: []string{"agents"}, Checks: []string{"pss-*"}, Reason: "node agents, reviewed"})
	c, _ := newClient(t)
	for _, ns := range []string{"agents", "operated"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{admission.RemediateLabel: "scale-to-zero"}}}); err != nil {
			t.Fatal(err)
		}
	}
	var u unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(strings.NewReplacer("PRIV", "true", "namespace: reports", "namespace: agents").Replace(privilegedDeployment)), &u.Object); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &u); err != nil {
		t.Fatal(err)
	}
	yes := true
	pod := podObject(t, true, map[string]string{"rampart-test-skip": "1"})
	pod.SetNamespace("operated")
	pod.SetName("rollout-abc")
	pod.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: "web", UID: "1234", Controller: &yes}})
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	rc := reportsClient(t)
	result := func(ns, kind, name, policy string) (string, map[string]string, error) {
		var rep reportsv1alpha1.Report
		if err := rc.Get(ctx, client.ObjectKey{Namespace: ns, Name: admission.ReportName}, &rep); err != nil {
			return "", nil, err
		}
		for _, r := range rep.Results {
			if r.Policy == policy && r.Subjects[0].Kind == kind && r.Subjects[0].Name == name {
				return string(r.Result), r.Properties, nil
			}
		}
		return "", nil, fmt.Errorf("no %s result for %s/%s in %s", policy, kind, name, ns)
	}
	within(t, 10*time.Second, func() error {
		res, props, err := result("agents", "Deployment", "web", "pss-privileged")
		if err != nil {
			return err
		}
		if res != "skip" || props["exempted"] != "node agents, reviewed" {
			return fmt.Errorf("exempted finding: result %q, properties %v", res, props)
		}
		if res, _, err := result("operated", "Pod", "rollout-abc", "pss-privileged"); err != nil || res != "fail" {
			return fmt.Errorf("the operator's pod: %q %v", res, err)
		}
		if _, _, err := result("operated", "Namespace", "operated", "namespace-without-networkpolicy"); err != nil {
			return err
		}
		return nil
	})
	var d appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: "agents", Name: "web"}, &d); err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 1 {
		t.Error("an exempted workload was scaled to zero")
	}
}
