// Package cis_test runs rampart cis against the real kube-apiserver and
// etcd that hack/control-plane.sh builds: node mode over a node tree made
// from the flags they run with, live mode through the API server (mirror
// pods, a kubelet's configz authorized by the API server as nodes/configz,
// the node job's published results), with the least privilege rampart cis
// rbac prints, and with less.
package cis_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/internal/cli"
	"github.com/rampart-k8s/rampart/internal/testcert"
	"github.com/rampart-k8s/rampart/internal/testcluster"
	"github.com/rampart-k8s/rampart/pkg/cis"
	"github.com/rampart-k8s/rampart/pkg/cis/cistest"
	"github.com/rampart-k8s/rampart/pkg/source"
)

var cluster *testcluster.Cluster

// recordedFlags are added to the API server's: some controls pass, others
// (envtest's own flags) fail.
var recordedFlags = map[string]string{
	"profiling":           "false",
	"audit-log-maxage":    "30",
	"audit-log-maxsize":   "100",
	"request-timeout":     "60s",
	"tls-min-version":     "VersionTLS12",
	"event-ttl":           "1h0m0s",
	"audit-log-maxbackup": "10",
	"service-account-extend-token-expiration": "false",
}

func TestMain(m *testing.M) {
	c, err := testcluster.StartWith(envtestNoWebhooks(), recordedFlags)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cis e2e:", err)
		os.Exit(1) // fail, never skip
	}
	cluster = c
	code := m.Run()
	_ = c.Stop()
	os.Exit(code)
}

type results struct {
	Benchmark string `json:"benchmark"`
	Mode      string `json:"mode"`
	Results   []struct {
		ID       string         `json:"id"`
		Status   cis.Status     `json:"status"`
		Reason   string         `json:"reason"`
		Evidence []cis.Evidence `json:"evidence"`
	} `json:"results"`
	Forbidden []string `json:"forbidden"`
}

func run(t *testing.T, args ...string) (results, int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(args, strings.NewReader(""), &out, &errb)
	var r results
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("rampart %s: exit %d, not JSON: %v\n%s\n%s", strings.Join(args, " "), code, err, out.String(), errb.String())
	}
	return r, code, errb.String()
}

func byID(r results) map[string]string {
	m := map[string]string{}
	for _, x := range r.Results {
		m[x.ID] = string(x.Status)
	}
	return m
}

// kubeconfigFor writes a kubeconfig holding a token of a ServiceAccount.
func kubeconfigFor(t *testing.T, cs kubernetes.Interface, ns, name, dir string) string {
	t.Helper()
	ctx := context.Background()
	_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: cluster.Config.Host, CertificateAuthorityData: cluster.Config.CAData}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u", Namespace: ns}
	cfg.CurrentContext = "x"
	p := filepath.Join(dir, name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func create(t *testing.T, cs kubernetes.Interface, objs []runtime.Object) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		var err error
		switch x := o.(type) {
		case *rbacv1.ClusterRole:
			_, err = cs.RbacV1().ClusterRoles().Create(ctx, x, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, x, metav1.CreateOptions{})
		case *rbacv1.Role:
			_, err = cs.RbacV1().Roles(x.Namespace).Create(ctx, x, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = cs.RbacV1().RoleBindings(x.Namespace).Create(ctx, x, metav1.CreateOptions{})
		case *corev1.ServiceAccount:
			_, err = cs.CoreV1().ServiceAccounts(x.Namespace).Create(ctx, x, metav1.CreateOptions{})
		default:
			continue // the DaemonSet: no kubelet runs it here
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating %T: %v", o, err)
		}
	}
}

// kubelet serves /configz as a kubelet does: the bearer token reviewed by
// the API server (TokenReview), the request authorized by it as get
// nodes/configz on this node (SubjectAccessReview).
func kubelet(t *testing.T, cs kubernetes.Interface, node string, config []byte) (port int, caFile string) {
	t.Helper()
	ca, err := testcert.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Serving("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "kubelet-ca.crt")
	if err := os.WriteFile(caFile, ca.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]json.RawMessage{"kubeletconfig": config})
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		tr, err := cs.AuthenticationV1().TokenReviews().Create(r.Context(), &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
		if err != nil || !tr.Status.Authenticated {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(r.Context(), &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User: tr.Status.User.Username, Groups: tr.Status.User.Groups, UID: tr.Status.User.UID,
			ResourceAttributes: &authzv1.ResourceAttributes{Verb: "get", Resource: "nodes", Subresource: "configz", Name: node},
		}}, metav1.CreateOptions{})
		if err != nil || !sar.Status.Allowed || r.URL.Path != "/configz" {
			http.Error(w, "Forbidden (user="+tr.Status.User.Username+", verb=get, resource=nodes, subresource=configz)", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port, caFile
}

func mirrorPod(name string, argv []string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-cp-1", Namespace: "kube-system",
			Labels:      map[string]string{"component": name, "tier": "control-plane"},
			Annotations: map[string]string{"kubernetes.io/config.mirror": "0123456789abcdef"}},
		Spec: corev1.PodSpec{NodeName: "cp-1", HostNetwork: true,
			Containers: []corev1.Container{{Name: name, Image: "registry.k8s.io/" + name + ":v1.37.2", Command: argv}}},
	}
}

// TestNodeAndLiveAgree is the CIS issue's acceptance: node mode over a tree
// made from the flags the real kube-apiserver and etcd run with, and live
// mode against that API server, give the same answers for sections 1 and
// 2; live mode with only the least privilege of `rampart cis rbac` leaves
// nothing not evaluated; with less, the permission missing is named.
func TestNodeAndLiveAgree(t *testing.T) {
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(cluster.Config)
	api, etcd, err := cluster.CommandLines()
	if err != nil {
		t.Fatal(err)
	}
	for flag, v := range recordedFlags {
		if !slices.Contains(api, "--"+flag+"="+v) {
			t.Fatalf("the API server does not run with --%s=%s: %v", flag, v, api)
		}
	}
	// The node's files, from the recorded command lines.
	node := cistest.Secure()
	node.APIServer = append([]string{"kube-apiserver"}, api[1:]...)
	node.Etcd = append([]string{"etcd"}, etcd[1:]...)
	dir := t.TempDir()
	// Without root the files keep the test's owner: owner controls fail in
	// node mode, and so in live mode, which has them from the node.
	_ = node.Write(t, dir)
	work := t.TempDir()

	// What the kubelet would show through the API: mirror pods, the Node.
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rampart"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, argv := range map[string][]string{"kube-apiserver": node.APIServer, "kube-controller-manager": node.ControllerManager, "kube-scheduler": node.Scheduler, "etcd": node.Etcd} {
		if _, err := cs.CoreV1().Pods("kube-system").Create(ctx, mirrorPod(name, argv), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A second scheduler run as an ordinary pod (as the Kubernetes docs
	// show) is not the control plane's: live mode reads mirror pods only.
	second := mirrorPod("kube-scheduler", []string{"kube-scheduler", "--profiling=true", "--bind-address=0.0.0.0"})
	second.Name, second.Annotations, second.Spec.NodeName = "my-scheduler", nil, "worker-1"
	if _, err := cs.CoreV1().Pods("kube-system").Create(ctx, second, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfgYAML, err := os.ReadFile(filepath.Join(dir, "var/lib/kubelet/config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgJSON, err := sigsyaml.YAMLToJSON(cfgYAML)
	if err != nil {
		t.Fatal(err)
	}
	port, kubeletCA := kubelet(t, cs, "cp-1", cfgJSON)
	n, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp-1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The node job's pod, as the job's ServiceAccount: node mode, published.
	create(t, cs, cis.NodeJob(cis.NodeJobOptions{Namespace: "rampart"}))
	jobKC := kubeconfigFor(t, cs, "rampart", "rampart-cis-node", work)
	nodeRes, code, stderr := run(t, "cis", "--root", dir, "--node-name", "cp-1", "--publish", "--node-results-namespace", "rampart",
		"--kubeconfig", jobKC, "-o", "json", "--fail-on", "none")
	if code != 0 {
		t.Fatalf("node mode with --publish: exit %d\n%s", code, stderr)
	}

	// Live, with exactly the least privilege.
	create(t, cs, cis.LiveRBAC("rampart", "rampart-cis", "rampart", source.Resources()))
	liveKC := kubeconfigFor(t, cs, "rampart", "rampart-cis", work)
	live, code, stderr := run(t, "cis", "--cluster", "--kubeconfig", liveKC, "--kubelet-ca-file", kubeletCA, "-o", "json", "--fail-on", "none")
	if code != 0 || len(live.Forbidden) > 0 {
		t.Errorf("live mode: exit %d, forbidden %v\n%s", code, live.Forbidden, stderr)
	}
	liveBy, nodeBy := byID(live), byID(nodeRes)
	for _, r := range live.Results {
		if r.Status == cis.NotEvaluated {
			t.Errorf("live %s not evaluated: %s", r.ID, r.Reason)
		}
	}
	compared, differ := 0, 0
	for id, ns := range nodeBy {
		if !strings.HasPrefix(id, "1.") && !strings.HasPrefix(id, "2.") {
			continue
		}
		compared++
		if liveBy[id] != ns {
			differ++
			t.Errorf("%s: node mode %s, live mode %s", id, ns, liveBy[id])
		}
	}
	if compared != 67 || differ > 0 {
		t.Errorf("compared %d controls of sections 1 and 2 (want 67), %d differ", compared, differ)
	}
	// The recorded flags decide as expected, both ways.
	for id, want := range map[string]string{"1.2.15": "pass", "1.2.17": "pass", "1.2.12": "fail", "1.2.7": "fail", "1.2.8": "pass", "2.1": "fail", "2.2": "fail", "1.2.30": "pass"} {
		if liveBy[id] != want {
			t.Errorf("%s live: %s, want %s", id, liveBy[id], want)
		}
	}
	// Flags come from the mirror pods, not from the node's results.
	for _, r := range live.Results {
		if r.ID == "1.2.15" && (len(r.Evidence) == 0 || r.Evidence[0].Source != "pod kube-system/kube-apiserver-cp-1") {
			t.Errorf("1.2.15 live evidence %+v, want the mirror pod", r.Evidence)
		}
		if r.ID == "4.2.10" && (len(r.Evidence) == 0 || r.Evidence[0].Source != "configz of node cp-1") {
			t.Errorf("4.2.10 live evidence %+v, want the kubelet's configz", r.Evidence)
		}
	}
	t.Logf("sections 1 and 2: %d controls, node and live agree; live: %d results", compared, len(live.Results))

	// Less privilege: each missing permission is named.
	less := []struct {
		name, drop, want string
		controls         []string
	}{
		{"no nodes/configz", "nodes/configz", "get nodes/configz", []string{"4.2.1", "4.2.2", "4.2.10"}},
		{"no node results", "configmaps in rampart", "list configmaps in rampart", []string{"1.1.1", "4.1.1"}},
		{"no pods", "pods", "list pods in kube-system", []string{"1.2.15", "2.2"}},
	}
	for i, tt := range less {
		t.Run(tt.name, func(t *testing.T) {
			sa := "rampart-cis-less-" + strconv.Itoa(i)
			objs := cis.LiveRBAC("rampart", sa, "rampart", source.Resources())
			for _, o := range objs {
				switch x := o.(type) {
				case *rbacv1.ClusterRole:
					x.Name = sa
					var keep []rbacv1.PolicyRule
					for _, r := range x.Rules {
						if !slices.Contains(r.Resources, tt.drop) {
							keep = append(keep, r)
						}
					}
					x.Rules = keep
				case *rbacv1.Role:
					x.Name = sa
					if tt.drop == "configmaps in rampart" && x.Namespace == "rampart" {
						x.Rules = nil
					}
				case *rbacv1.ClusterRoleBinding:
					x.Name, x.RoleRef.Name = sa, sa
				case *rbacv1.RoleBinding:
					x.Name, x.RoleRef.Name = sa, sa
				}
			}
			create(t, cs, objs)
			kc := kubeconfigFor(t, cs, "rampart", sa, work)
			got, code, _ := run(t, "cis", "--cluster", "--kubeconfig", kc, "--kubelet-ca-file", kubeletCA, "-o", "json", "--fail-on", "none")
			if code != 2 || !slices.Contains(got.Forbidden, tt.want) {
				t.Errorf("exit %d, forbidden %v; want exit 2 naming %q", code, got.Forbidden, tt.want)
			}
			for _, r := range got.Results {
				if slices.Contains(tt.controls, r.ID) && (r.Status != cis.NotEvaluated || !strings.Contains(r.Reason, strings.Fields(tt.want)[1])) {
					t.Errorf("%s: %s (%s), want not evaluated naming %s", r.ID, r.Status, r.Reason, tt.want)
				}
			}
		})
	}
}

func envtestNoWebhooks() envtest.WebhookInstallOptions { return envtest.WebhookInstallOptions{} }
