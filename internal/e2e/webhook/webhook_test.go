// Package webhook tests the admission webhook registered with a real
// kube-apiserver (internal/testcluster, envtest's webhook installation): the
// API server's decisions on the catalog's fixtures are the scanner's.
package webhook

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/pod-security-admission/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/internal/testcluster"
	"github.com/rampart-k8s/rampart/pkg/admission"
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

const webhookName = "validate.rampart.dev"

var (
	cluster *testcluster.Cluster
	opts    = engine.Options{PSS: api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}}
	high    = check.High
	medium  = check.Medium
)

func configuration() *admissionregistrationv1.ValidatingWebhookConfiguration {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	path := "/validate"
	timeout := int32(5)
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	rule := func(group string, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: ops, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{"*"}, Resources: resources}}
	}
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "rampart"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    webhookName,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "rampart", Name: "rampart", Path: &path}},
			Rules:                   []admissionregistrationv1.RuleWithOperations{rule("", "pods", "pods/ephemeralcontainers", "replicationcontrollers", "podtemplates"), rule("apps", "deployments", "statefulsets", "daemonsets", "replicasets"), rule("batch", "jobs", "cronjobs")},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system", "rampart"}}}},
			// Objects labelled rampart-test-skip are created without the
			// webhook (to have a non-compliant object to update).
			ObjectSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "rampart-test-skip", Operator: metav1.LabelSelectorOpDoesNotExist}}},
		}},
	}
}

// mutating is the /mutate webhook for the same kinds, called only in
// namespaces that opt in (rampart.dev/mutate=true): the API server does not
// pay a second call elsewhere (the webhook checks the label too).
func mutating() *admissionregistrationv1.MutatingWebhookConfiguration {
	v := configuration().Webhooks[0]
	path := "/mutate"
	never := admissionregistrationv1.NeverReinvocationPolicy
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "rampart-mutate"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "mutate.rampart.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "rampart", Name: "rampart", Path: &path}},
			Rules:                   v.Rules,
			FailurePolicy:           v.FailurePolicy,
			SideEffects:             v.SideEffects,
			TimeoutSeconds:          v.TimeoutSeconds,
			AdmissionReviewVersions: v.AdmissionReviewVersions,
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{admission.MutateLabel: "true"}},
			ObjectSelector:          v.ObjectSelector,
			ReinvocationPolicy:      &never,
		}},
	}
}

// auditLog is the API server's audit log (pods at Metadata level: the
// webhook's audit annotations are in it).
var auditLog string

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: Metadata
  resources: [{group: "", resources: [pods]}]
- level: None
`

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rampart-webhook-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook e2e:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	auditLog = filepath.Join(dir, "audit.log")
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(auditPolicy), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "webhook e2e:", err)
		os.Exit(1)
	}
	c, err := testcluster.StartWith(envtest.WebhookInstallOptions{
		ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{configuration()},
		MutatingWebhooks:   []*admissionregistrationv1.MutatingWebhookConfiguration{mutating()},
	}, map[string]string{"audit-policy-file": filepath.Join(dir, "policy.yaml"), "audit-log-path": auditLog})
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook e2e: cannot start the test control plane:", err)
		os.Exit(1) // fail, never skip
	}
	cluster = c
	informers, stopInformers := context.WithCancel(context.Background())
	srv, err := serve(informers, c.Env.WebhookInstallOptions)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook e2e: cannot serve the webhook:", err)
		_ = c.Stop()
		os.Exit(1)
	}
	code := m.Run()
	_ = srv.Close()
	stopInformers() // their watches would hold the API server open
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "webhook e2e: stopping the control plane:", err)
	}
	os.Exit(code)
}

// serve starts the webhook as `rampart webhook serve --enforce high --warn
// medium --audit low` (its defaults) does, on envtest's port and certificate.
func serve(ctx context.Context, w envtest.WebhookInstallOptions) (*http.Server, error) {
	certs, err := admission.NewCertReloader(filepath.Join(w.LocalServingCertDir, "tls.crt"), filepath.Join(w.LocalServingCertDir, "tls.key"))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(w.LocalServingHost, fmt.Sprint(w.LocalServingPort)))
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		return nil, err
	}
	cc := admission.NewClusterContext(cs)
	if err := cc.Start(ctx, time.Minute); err != nil {
		return nil, err
	}
	low := check.Low
	r := admission.NewReviewer(admission.Options{Checks: checks.Builtin(), Engine: opts, Enforce: &high, Warn: &medium, Audit: &low, Context: cc})
	// (the same handler serves /validate and /mutate)
	srv := &http.Server{Handler: admission.NewHandler(r, admission.NewMetrics()), ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return srv, nil
}

// warnings collects the API server's warnings.
type warnings struct {
	mu  sync.Mutex
	got []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.got
	w.got = nil
	return out
}

func newClient(t *testing.T) (client.Client, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(cluster.Config)
	cfg.WarningHandler = w
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

func namespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(context.Background(), ns); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
}

var workloadKinds = map[string]bool{"Pod": true, "Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true,
	"Job": true, "CronJob": true, "ReplicationController": true, "PodTemplate": true}

// TestAPIServerDecidesAsTheScanner: every single-object fixture of the
// catalog that runs a pod, created (dry run) through the API server with the
// webhook registered: denied by the webhook exactly when the scanner finds
// something at or above high in it; what the API server refuses by itself
// is counted apart.
func TestAPIServerDecidesAsTheScanner(t *testing.T) {
	c, _ := newClient(t)
	namespace(t, c, "admit")
	paths, _ := filepath.Glob("../../../pkg/checks/testdata/*/*.yaml")
	agreed, deniedByUs, refused := 0, 0, 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		objs, errs := manifest.Parse(p, data)
		if len(errs) > 0 || len(objs) != 1 || !workloadKinds[objs[0].Kind] {
			continue
		}
		manifest.SetDefaultNamespace(objs, "admit")
		wantDeny := false
		for _, f := range engine.Run(checks.Builtin(), inventory.New(objs), opts).Findings {
			wantDeny = wantDeny || f.Severity >= check.High
		}
		var u unstructured.Unstructured
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		u.SetNamespace("admit")
		u.SetName(fmt.Sprintf("f%d", agreed+deniedByUs+refused))
		err = c.Create(context.Background(), &u, client.DryRunAll)
		switch {
		case err == nil:
			if wantDeny {
				t.Errorf("%s: admitted; the scanner finds something at or above high", p)
			}
			agreed++
		case strings.Contains(err.Error(), `admission webhook "`+webhookName+`" denied the request`):
			if !wantDeny {
				t.Errorf("%s: denied; the scanner finds nothing at or above high: %v", p, err)
			}
			if strings.Contains(err.Error(), ".go:") || strings.Contains(err.Error(), "testdata") {
				t.Errorf("%s: the denial names a file: %v", p, err)
			}
			deniedByUs++
		default:
			refused++ // the API server's own validation (a wrong type, a missing field)
		}
	}
	if agreed < 20 || deniedByUs < 40 {
		t.Fatalf("admitted %d, denied by the webhook %d, refused by the API server %d", agreed, deniedByUs, refused)
	}
	t.Logf("admitted %d, denied by the webhook %d, refused by the API server itself %d", agreed, deniedByUs, refused)
}

const pod = `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: modes
  labels: {app: web}
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: web
    image: registry.example.com/web:1.0
    securityContext:
      allowPrivilegeEscalation: ESCALATION
      capabilities: {drop: [ALL]}
      privileged: PRIVILEGED
`

func podObject(t *testing.T, privileged bool, labels map[string]string) *unstructured.Unstructured {
	t.Helper()
	var u unstructured.Unstructured
	// The API server refuses privileged without privilege escalation.
	text := strings.NewReplacer("PRIVILEGED", fmt.Sprint(privileged), "ESCALATION", fmt.Sprint(privileged)).Replace(pod)
	if err := yaml.Unmarshal([]byte(text), &u.Object); err != nil {
		t.Fatal(err)
	}
	l := u.GetLabels()
	for k, v := range labels {
		l[k] = v
	}
	u.SetLabels(l)
	return &u
}

// TestModesThroughTheAPIServer: warnings reach the client; a privileged
// pod is denied with the field named; an update that only relabels a
// non-compliant pod the cluster already runs is allowed; kube-system is
// left out.
func TestModesThroughTheAPIServer(t *testing.T) {
	ctx := context.Background()
	c, w := newClient(t)
	namespace(t, c, "modes")
	if err := c.Create(ctx, podObject(t, false, nil)); err != nil {
		t.Fatalf("compliant pod: %v", err)
	}
	got := strings.Join(w.take(), "\n")
	if !strings.Contains(got, "medium ") {
		t.Errorf("no medium warning for the compliant pod; warnings: %q", got)
	}
	bad := podObject(t, true, nil)
	bad.SetName("bad")
	err := c.Create(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "pss-privileged") || !strings.Contains(err.Error(), "securityContext.privileged") {
		t.Fatalf("privileged pod: %v", err)
	}
	// A non-compliant pod the cluster runs (created past the webhook), then
	// relabelled through it.
	old := podObject(t, true, map[string]string{"rampart-test-skip": "1"})
	old.SetName("old")
	if err := c.Create(ctx, old); err != nil {
		t.Fatalf("pod past the webhook: %v", err)
	}
	relabelled := old.DeepCopy()
	l := relabelled.GetLabels()
	delete(l, "rampart-test-skip")
	l["team"] = "shop"
	relabelled.SetLabels(l)
	if err := c.Update(ctx, relabelled); err != nil {
		t.Errorf("relabelling a running non-compliant pod: %v", err)
	}
	// The audit mode: the findings at or above low are in the API
	// server's audit log, as the webhook's annotation.
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(auditLog)
		found := ""
		for _, line := range strings.Split(string(data), "\n") {
			var e struct {
				Verb        string                           `json:"verb"`
				ObjectRef   struct{ Name, Namespace string } `json:"objectRef"`
				Annotations map[string]string                `json:"annotations"`
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Verb == "create" && e.ObjectRef.Namespace == "modes" && e.ObjectRef.Name == "bad" {
				found = e.Annotations[webhookName+"/findings"]
			}
		}
		if strings.Contains(found, "pss-privileged") {
			break
		}
		if time.Now().After(deadline) {
			for _, line := range strings.Split(string(data), "\n") {
				if strings.Contains(line, `"name":"bad"`) {
					t.Log(line)
				}
			}
			t.Fatalf("no %s/findings audit annotation with pss-privileged for the denied pod (got %q)", webhookName, found)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// kube-system is left out by the configuration's namespaceSelector.
	sys := podObject(t, true, nil)
	sys.SetName("sys")
	sys.SetNamespace("kube-system")
	if err := c.Create(ctx, sys, client.DryRunAll); err != nil {
		t.Errorf("kube-system: %v", err)
	}
}

// TestNamespaceModesAndContext: a Namespace's labels choose its modes (a
// label that names no severity keeps the default, with a warning); the
// checks read the cluster's objects (a ServiceAccount that a RoleBinding
// grants something keeps its token without a finding).
func TestNamespaceModesAndContext(t *testing.T) {
	ctx := context.Background()
	c, w := newClient(t)
	for name, labels := range map[string]map[string]string{
		"lenient": {admission.EnforceLabel: "critical", admission.WarnLabel: "high"},
		"typo":    {admission.EnforceLabel: "hihg"},
		"bound":   nil,
	} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if err := c.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	// runAsUser 0 is a high finding (pss-run-as-user).
	root := func(ns string) *unstructured.Unstructured {
		u := podObject(t, false, nil)
		u.SetNamespace(ns)
		u.SetName("root")
		if err := unstructured.SetNestedField(u.Object, int64(0), "spec", "securityContext", "runAsUser"); err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedField(u.Object, false, "spec", "securityContext", "runAsNonRoot"); err != nil {
			t.Fatal(err)
		}
		return u
	}
	eventually(t, func() error { // the informer sees the new Namespaces
		w.take()
		err := c.Create(ctx, root("lenient"), client.DryRunAll)
		if err != nil {
			return err
		}
		if got := strings.Join(w.take(), "\n"); !strings.Contains(got, "pss-run-as-user") {
			return fmt.Errorf("no high warning: %q", got)
		}
		return nil
	})
	err := c.Create(ctx, root("typo"), client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "pss-run-as-user") {
		t.Errorf("typo namespace: the default enforce did not apply: %v", err)
	}
	if got := strings.Join(w.take(), "\n"); !strings.Contains(got, "is not a severity") {
		t.Errorf("no warning about the label: %q", got)
	}
	// A ServiceAccount bound to a Role: its token is needed.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "bound"}}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "bound"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "api", Namespace: "bound"}}}
	for _, o := range []client.Object{sa, rb} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() error {
		u := podObject(t, false, nil)
		u.SetNamespace("bound")
		if err := unstructured.SetNestedField(u.Object, "api", "spec", "serviceAccountName"); err != nil {
			t.Fatal(err)
		}
		w.take()
		if err := c.Create(ctx, u, client.DryRunAll); err != nil {
			return err
		}
		if got := strings.Join(w.take(), "\n"); strings.Contains(got, "sa-token-automount") || strings.Contains(got, "namespace-without-networkpolicy") {
			return fmt.Errorf("the context was not read: %q", got)
		}
		return nil
	})
}

// eventually retries f for up to 10 seconds: informers see new objects a
// moment after the API server stores them.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	within(t, 10*time.Second, f)
}

// TestMutateThroughTheAPIServer: the same bare pod is denied in a namespace
// that does not opt in to mutation, and admitted, hardened, in one that
// does; the stored pod has the fixes and creating it again patches nothing
// more (the stored spec is what a second admission would give).
func TestMutateThroughTheAPIServer(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	for name, labels := range map[string]map[string]string{"plain": nil, "hardened": {admission.MutateLabel: "true"}} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}); err != nil {
			t.Fatal(err)
		}
	}
	const bare = `apiVersion: v1
kind: Pod
metadata: {name: bare}
spec:
  containers: [{name: c, image: registry.example.com/c:1.0}]
`
	pod := func(ns string) *unstructured.Unstructured {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(bare), &u.Object); err != nil {
			t.Fatal(err)
		}
		u.SetNamespace(ns)
		return &u
	}
	if err := c.Create(ctx, pod("plain")); err == nil || !strings.Contains(err.Error(), "pss-allow-privilege-escalation") {
		t.Fatalf("bare pod in a namespace without mutation: %v", err)
	}
	var stored *unstructured.Unstructured
	eventually(t, func() error { // the informer sees the new Namespace
		p := pod("hardened")
		if err := c.Create(ctx, p); err != nil {
			return err
		}
		stored = p
		return nil
	})
	containers, _, _ := unstructured.NestedSlice(stored.Object, "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("containers %v", containers)
	}
	csc, _, _ := unstructured.NestedMap(containers[0].(map[string]any), "securityContext")
	if csc["allowPrivilegeEscalation"] != false {
		t.Errorf("stored container securityContext %v", csc)
	}
	if v, _, _ := unstructured.NestedBool(stored.Object, "spec", "securityContext", "runAsNonRoot"); !v {
		t.Errorf("stored pod securityContext: %v", stored.Object["spec"])
	}
	// Dry-run the stored object again under another name: no finding the
	// mutation would fix is left, so it is admitted as it is.
	again := stored.DeepCopy()
	again.SetName("again")
	again.SetResourceVersion("")
	again.SetUID("")
	if err := c.Create(ctx, again, client.DryRunAll); err != nil {
		t.Errorf("the stored pod created again: %v", err)
	}
	if !equalSpecs(stored, again) {
		t.Errorf("a second admission changed the spec:\n%v\n%v", stored.Object["spec"], again.Object["spec"])
	}
}

func equalSpecs(a, b *unstructured.Unstructured) bool {
	return fmt.Sprint(a.Object["spec"]) == fmt.Sprint(b.Object["spec"])
}

// BenchmarkCreatePods creates pods through the real API server, in a
// namespace the webhooks judge and in one they leave out (the same pod; the
// API server's own work is the rest): go test -run '^$' -bench CreatePods
// ./internal/e2e/webhook. Compare the two ns/op.
func BenchmarkCreatePods(b *testing.B) {
	ctx := context.Background()
	cfg := rest.CopyConfig(cluster.Config)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit: the server's time is measured
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, ns := range []string{"bench-judged", "bench-skipped"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !strings.Contains(err.Error(), "already exists") {
			b.Fatal(err)
		}
	}
	const compliant = `apiVersion: v1
kind: Pod
metadata: {generateName: p-}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: registry.example.com/c:1.0
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`
	for _, tc := range []struct {
		name, ns string
		skip     bool
	}{{"with-webhooks", "bench-judged", false}, {"without-webhooks", "bench-skipped", true}} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var u unstructured.Unstructured
				if err := yaml.Unmarshal([]byte(compliant), &u.Object); err != nil {
					b.Fatal(err)
				}
				u.SetNamespace(tc.ns)
				if tc.skip {
					u.SetLabels(map[string]string{"rampart-test-skip": "1"})
				}
				if err := c.Create(ctx, &u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
