package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/internal/cli"
	"github.com/rampart-k8s/rampart/pkg/exposure"
)

// syncBuffer is a bytes.Buffer the watch writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, buf *syncBuffer, cond func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond(buf.String()) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; output:\n%s", what, buf.String())
}

// TestExposureLive: on the real API server, a LoadBalancer Service whose
// status carries an address and a NodePort Service appear in exposure
// --cluster with their addresses and ports, and --watch prints the entry a
// Service's change of type adds.
func TestExposureLive(t *testing.T) {
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns := "expo"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example.com/web:1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "expo-node"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.9.0.4"}, {Type: corev1.NodeExternalIP, Address: "192.0.2.44"}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Nodes().Delete(context.Background(), "expo-node", metav1.DeleteOptions{}) })
	port := []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}
	lb, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web-lb"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: labels, Ports: port, LoadBalancerSourceRanges: []string{"198.51.100.0/24"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}
	if _, err := cs.CoreV1().Services(ns).UpdateStatus(ctx, lb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	np := []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: 30081}}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web-np"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: labels, Ports: np}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web-internal"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: port}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := cluster.Kubeconfig(t.TempDir(), "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if code := cli.Main([]string{"exposure", "--cluster", "--kubeconfig", kubeconfig, "-o", "json", "--fail-on", "none"}, strings.NewReader(""), &out, &errb); code != cli.ExitOK {
		t.Fatalf("exposure --cluster: exit %d: %s", code, errb.String())
	}
	var inv exposure.Inventory
	if err := json.Unmarshal(out.Bytes(), &inv); err != nil {
		t.Fatal(err)
	}
	got := map[string]exposure.Entry{}
	for _, e := range inv.Entries {
		if e.Object.Namespace == ns {
			got[e.ID] = e
		}
	}
	lbe, ok := got["LoadBalancer expo/web-lb 80/TCP"]
	if !ok || strings.Join(lbe.Addresses, ",") != "203.0.113.7" || strings.Join(lbe.Sources, ",") != "198.51.100.0/24" ||
		len(lbe.Targets) != 1 || lbe.Targets[0].Workload != "expo/Deployment/web" || lbe.Targets[0].Port != 8080 {
		t.Errorf("load balancer entry: %+v (all: %v)", lbe, entryIDs(got))
	}
	npe, ok := got["NodePort expo/web-np 30081/TCP"]
	if !ok || !strings.Contains(strings.Join(npe.Addresses, ","), "192.0.2.44") || !strings.Contains(strings.Join(npe.Addresses, ","), "10.9.0.4") {
		t.Errorf("node port entry: %+v (all: %v)", npe, entryIDs(got))
	}
	// The LoadBalancer's own node port, allocated by the API server, shows
	// with its number.
	found := false
	for id := range got {
		found = found || strings.HasPrefix(id, "NodePort expo/web-lb ") && !strings.Contains(id, "allocated")
	}
	if !found {
		t.Errorf("the load balancer's allocated node port is missing: %v", entryIDs(got))
	}

	// --watch: the first listing, then the change of type.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wout, werr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.MainContext(wctx, []string{"exposure", "--cluster", "--watch", "--kubeconfig", kubeconfig, "-o", "csv"}, strings.NewReader(""), &wout, &werr)
	}()
	waitFor(t, "the watch to start", &werr, func(s string) bool { return strings.Contains(s, "watching:") })
	if !strings.HasPrefix(wout.String(), "time,change,id,kind,address,port,") {
		t.Errorf("the watch's CSV lacks its header:\n%.300s", wout.String())
	}
	if !strings.Contains(wout.String(), ",added,LoadBalancer expo/web-lb 80/TCP,") {
		t.Errorf("the watch's first listing lacks the load balancer:\n%s", wout.String())
	}
	svc, err := cs.CoreV1().Services(ns).Get(ctx, "web-internal", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Type = corev1.ServiceTypeNodePort
	svc.Spec.Ports[0].NodePort = 30082
	if _, err := cs.CoreV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new node port", &wout, func(s string) bool { return strings.Contains(s, ",added,NodePort expo/web-internal 30082/TCP,") })
	if err := cs.CoreV1().Services(ns).Delete(ctx, "web-np", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removed node port", &wout, func(s string) bool { return strings.Contains(s, ",removed,NodePort expo/web-np 30081/TCP,") })
	cancel()
	select {
	case code := <-done:
		if code != cli.ExitOK {
			t.Errorf("watch exit %d: %s", code, werr.String())
		}
	case <-time.After(10 * time.Second):
		t.Error("the watch did not stop when its context ended")
	}
}

func entryIDs(m map[string]exposure.Entry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestExposureGatewayLive: with the Gateway API's own CRDs installed in the
// test API server, a Gateway whose status carries an address and an
// HTTPRoute attached to it appear in exposure --cluster, and a route
// created while --watch runs is printed.
func TestExposureGatewayLive(t *testing.T) {
	ctx := context.Background()
	dir, err := goModDir("sigs.k8s.io/gateway-api")
	if err != nil {
		t.Fatal(err)
	}
	ax, err := apiextensionsclient.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"gateways", "httproutes"} {
		data, err := os.ReadFile(filepath.Join(dir, "config", "crd", "standard", "gateway.networking.k8s.io_"+f+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatal(err)
		}
		if _, err := ax.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		name := crd.Name
		t.Cleanup(func() {
			_ = ax.ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), name, metav1.DeleteOptions{})
		})
		deadline := time.Now().Add(30 * time.Second)
		for established := false; !established; {
			got, err := ax.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range got.Status.Conditions {
				established = established || (c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue)
			}
			if time.Now().After(deadline) {
				t.Fatalf("CRD %s not established", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	dyn, err := dynamic.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"gw-infra", "gw-app"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	gwRes := schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	routeRes := schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	gw := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": "public", "namespace": "gw-infra"},
		"spec": map[string]any{"gatewayClassName": "example", "listeners": []any{
			map[string]any{"name": "http", "port": int64(80), "protocol": "HTTP", "allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "All"}}},
		}},
	}}
	created, err := dyn.Resource(gwRes).Namespace("gw-infra").Create(ctx, gw, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Object["status"] = map[string]any{"addresses": []any{map[string]any{"type": "IPAddress", "value": "203.0.113.90"}}}
	if _, err := dyn.Resource(gwRes).Namespace("gw-infra").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	route := func(name, path string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"name": name, "namespace": "gw-app"},
			"spec": map[string]any{
				"parentRefs": []any{map[string]any{"name": "public", "namespace": "gw-infra"}},
				"rules": []any{map[string]any{
					"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": path}}},
					"backendRefs": []any{map[string]any{"name": "api", "port": int64(8080)}},
				}},
			},
		}}
	}
	if _, err := dyn.Resource(routeRes).Namespace("gw-app").Create(ctx, route("api", "/api"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := cluster.Kubeconfig(t.TempDir(), "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cli.Main([]string{"exposure", "--cluster", "--kubeconfig", kubeconfig, "-o", "json", "--fail-on", "none"}, strings.NewReader(""), &out, &errb); code != cli.ExitOK {
		t.Fatalf("exposure --cluster: exit %d: %s", code, errb.String())
	}
	var inv exposure.Inventory
	if err := json.Unmarshal(out.Bytes(), &inv); err != nil {
		t.Fatal(err)
	}
	want := "Gateway gw-infra/public http 80 HTTPRoute gw-app/api spec.rules[0] */api -> Service gw-app/api:8080"
	found := false
	for _, e := range inv.Entries {
		if e.ID == want {
			found = true
			if strings.Join(e.Addresses, ",") != "203.0.113.90" || e.TLS != exposure.TLSNone {
				t.Errorf("gateway entry: %+v", e)
			}
		}
	}
	if !found {
		t.Fatalf("no entry %q in %s", want, out.String())
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wout, werr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.MainContext(wctx, []string{"exposure", "--cluster", "--watch", "--kubeconfig", kubeconfig}, strings.NewReader(""), &wout, &werr)
	}()
	waitFor(t, "the watch to start", &werr, func(s string) bool { return strings.Contains(s, "watching:") })
	if _, err := dyn.Resource(routeRes).Namespace("gw-app").Create(ctx, route("admin", "/admin"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new route", &wout, func(s string) bool {
		return strings.Contains(s, "+ Gateway gw-infra/public http 80 HTTPRoute gw-app/admin spec.rules[0] */admin -> Service gw-app/api:8080")
	})
	cancel()
	<-done
}

// goModDir is the folder of a module of the build list.
func goModDir(module string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// TestNetpolCiliumLive: a CiliumNetworkPolicy served by the API server (a
// CRD that keeps what it is given) joins netpol explain --cluster: its
// L3/L4 rule decides and its HTTP rule is shown.
func TestNetpolCiliumLive(t *testing.T) {
	ctx := context.Background()
	ax, err := apiextensionsclient.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	preserve := true
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "ciliumnetworkpolicies.cilium.io"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "cilium.io", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "ciliumnetworkpolicies", Singular: "ciliumnetworkpolicy", Kind: "CiliumNetworkPolicy", ListKind: "CiliumNetworkPolicyList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v2", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &preserve}}}},
		},
	}
	if _, err := ax.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ax.ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), crd.Name, metav1.DeleteOptions{})
	})
	cs, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns := "cilium-shop"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"api", "frontend"} {
		l := map[string]string{"app": app}
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: app},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: l}, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: app, Image: "registry.example.com/" + app + ":1"}}}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dyn, err := dynamic.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	cnp := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
		"metadata": map[string]any{"name": "api", "namespace": ns},
		"spec": map[string]any{
			"endpointSelector": map[string]any{"matchLabels": map[string]any{"app": "api"}},
			"ingress": []any{map[string]any{
				"fromEndpoints": []any{map[string]any{"matchLabels": map[string]any{"app": "frontend"}}},
				"toPorts": []any{map[string]any{"ports": []any{map[string]any{"port": "8080", "protocol": "TCP"}},
					"rules": map[string]any{"http": []any{map[string]any{"method": "GET", "path": "/public/.*"}}}}},
			}},
		},
	}}
	gvr := schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, cnp, metav1.CreateOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err) // the CRD never became served
		}
		time.Sleep(200 * time.Millisecond)
	}
	kubeconfig, err := cluster.Kubeconfig(t.TempDir(), "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	explain := func(port string) string {
		var out, errb bytes.Buffer
		cli.Main([]string{"netpol", "explain", "--cluster", "--kubeconfig", kubeconfig, ns + "/frontend", ns + "/api", "--port", port}, strings.NewReader(""), &out, &errb)
		return out.String() + errb.String()
	}
	if got := explain("8080"); !strings.Contains(got, "ALLOWED") || !strings.Contains(got, "CiliumNetworkPolicy:api") || !strings.Contains(got, "methods GET; paths /public/.*") {
		t.Errorf("8080:\n%s", got)
	}
	if got := explain("9090"); !strings.Contains(got, "DENIED") {
		t.Errorf("9090:\n%s", got)
	}
}
