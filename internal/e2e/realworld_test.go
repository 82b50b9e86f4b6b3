package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/rampart-k8s/rampart/internal/cli"
	"github.com/rampart-k8s/rampart/internal/realworld"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/source"
)

// TestCorpusLive applies the corpus inputs marked Live (public install
// bundles and kustomize trees nobody here wrote) to the real API server,
// then runs scan, rbac and netpol against the cluster: they must answer
// without an error and see what was applied.
func TestCorpusLive(t *testing.T) {
	kubeconfig, err := cluster.Kubeconfig(t.TempDir(), "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range realworld.Corpus {
		for _, in := range m.Inputs {
			if !in.Live {
				continue
			}
			t.Run(m.Path+"/"+in.Path, func(t *testing.T) {
				dir, err := realworld.Fetch(m)
				if err != nil {
					t.Fatal(err)
				}
				loaded := source.Load([]string{realworld.Path(dir, in)}, manifest.Options{}, source.HelmOptions{})
				applied, failed := applyObjects(t, loaded.Objects)
				t.Logf("applied %d objects, %d refused by the API server", len(applied), failed)
				if len(applied) == 0 || failed > len(applied)/5 {
					t.Fatalf("applied %d, refused %d: the test would prove little", len(applied), failed)
				}
				var out, errb bytes.Buffer
				code := cli.Main([]string{"scan", "--cluster", "--kubeconfig", kubeconfig, "-A", "-o", "json", "--fail-on", "none"}, strings.NewReader(""), &out, &errb)
				if code == cli.ExitError {
					t.Fatalf("scan --cluster: exit 2: %s", errb.String())
				}
				var doc struct {
					Findings []finding `json:"findings"`
				}
				if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
					t.Fatal(err)
				}
				seen := map[string]bool{}
				for _, f := range doc.Findings {
					seen[f.Object.Kind+"/"+f.Object.Namespace+"/"+f.Object.Name] = true
				}
				for key := range applied {
					if strings.HasPrefix(key, "Deployment/") || strings.HasPrefix(key, "StatefulSet/") || strings.HasPrefix(key, "DaemonSet/") {
						if !seen[key] {
							t.Errorf("%s was applied, and scan --cluster reports nothing on it", key)
						}
					}
				}
				for _, args := range [][]string{{"rbac", "risky"}, {"netpol", "matrix"}} {
					var o, e bytes.Buffer
					if code := cli.Main(append(args, "--cluster", "--kubeconfig", kubeconfig), strings.NewReader(""), &o, &e); code == cli.ExitError {
						t.Errorf("%v --cluster: exit 2: %s", args, e.String())
					}
				}
			})
		}
	}
}

// applyObjects server-side-applies the typed objects the API server serves
// (APIServices left out: an unavailable one breaks discovery for the other
// tests) and deletes them when the test ends. It returns what was applied
// as kind/namespace/name and how many the server refused.
func applyObjects(t *testing.T, objs []*manifest.Object) (map[string]bool, int) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	applied := map[string]bool{}
	failed := 0
	for _, o := range objs {
		res, namespaced, ok := source.Resource(o.APIVersion, o.Kind)
		if !ok || o.Typed == nil || o.Kind == "APIService" {
			continue
		}
		gv, _ := schema.ParseGroupVersion(o.APIVersion)
		resource, group, _ := strings.Cut(res, ".")
		gvr := schema.GroupVersionResource{Group: group, Version: gv.Version, Resource: resource}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o.Typed)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetAPIVersion(o.APIVersion)
		u.SetKind(o.Kind)
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		ns := ""
		if namespaced {
			ns = o.Namespace
			u.SetNamespace(ns)
			ri = dyn.Resource(gvr).Namespace(ns)
		}
		if _, err := ri.Apply(context.Background(), o.Name, u, metav1.ApplyOptions{FieldManager: "rampart-e2e", Force: true}); err != nil {
			t.Logf("not applied %s: %v", o, err)
			failed++
			continue
		}
		if o.Kind != "Namespace" {
			name := o.Name
			t.Cleanup(func() {
				zero := int64(0)
				_ = ri.Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			})
		}
		applied[o.Kind+"/"+ns+"/"+o.Name] = true
	}
	return applied, failed
}

// TestNetpolLivePodAddresses: netpol --cluster reads running pods with their
// addresses, so an ipBlock rule judges a pod as the dataplane does.
func TestNetpolLivePodAddresses(t *testing.T) {
	cs, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := "addresses"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := func(name, ip string, port int32) {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: port}}}}},
		}
		created, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status.PodIP = ip
		created.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			zero := int64(0)
			_ = cs.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		})
	}
	pod("web", "10.1.2.3", 80)
	pod("batch", "10.9.0.1", 80)
	pod("db", "10.1.9.9", 5432)
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.1.0.0/16"}}}}},
		},
	}
	if _, err := cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.NetworkingV1().NetworkPolicies(ns).Delete(context.Background(), "db", metav1.DeleteOptions{})
	})
	kubeconfig, err := cluster.Kubeconfig(t.TempDir(), "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		src  string
		want int
	}{{"web", cli.ExitOK}, {"batch", cli.ExitFindings}} {
		var out, errb bytes.Buffer
		code := cli.Main([]string{"netpol", "explain", ns + "/Pod/" + tt.src, ns + "/Pod/db", "--port", "5432", "--cluster", "--kubeconfig", kubeconfig, "--exit-code"}, strings.NewReader(""), &out, &errb)
		if code != tt.want {
			t.Errorf("%s -> db through ipBlock 10.1.0.0/16: exit %d, want %d\n%s%s", tt.src, code, tt.want, out.String(), errb.String())
		}
	}
}
