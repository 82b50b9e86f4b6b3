// Package audit tests `rampart audit serve` as the audit webhook backend of
// a real kube-apiserver: the API server is started with an audit policy and
// the webhook configuration `rampart audit webhook-config` prints, and what
// is done through it comes back as alerts.
package audit

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/rampart-k8s/rampart/internal/testcert"
	"github.com/rampart-k8s/rampart/internal/testcluster"
)

const policy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: RequestResponse
  verbs: [create, update, patch, delete]
  resources:
  - {group: "", resources: [pods]}
  - {group: rbac.authorization.k8s.io}
- level: None
`

var (
	cluster  *testcluster.Cluster
	alerts   string // the receiver's output file
	stderr   *strings.Builder
	receiver string // its address
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit e2e:", err)
		os.Exit(1) // fail, never skip
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "rampart-audit-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "rampart")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/rampart").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build: %v\n%s", err, out)
	}
	caFile, certFile, keyFile, clientCert, clientKey, err := serving(dir)
	if err != nil {
		return 0, err
	}
	// The receiver first: the API server's configuration names its address.
	alerts = filepath.Join(dir, "alerts.jsonl")
	recv := exec.Command(bin, "audit", "serve", "--listen", "127.0.0.1:0", "--tls-cert-file", certFile, "--tls-private-key-file", keyFile,
		"--client-ca-file", caFile, "--queue", filepath.Join(dir, "queue.db"), "--output-file", alerts)
	pipe, err := recv.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := recv.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = recv.Process.Kill(); _ = recv.Wait() }()
	addr := make(chan string, 1)
	stderr = &strings.Builder{}
	go func() {
		sc := bufio.NewScanner(pipe)
		re := regexp.MustCompile(`receiver on (\S+)`)
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var at string
	select {
	case at = <-addr:
		receiver = at
	case <-time.After(30 * time.Second):
		return 0, fmt.Errorf("the receiver did not start: %s", stderr)
	}
	webhook, err := exec.Command(bin, "audit", "webhook-config", "--server", "https://"+at+"/audit", "--ca-file", caFile,
		"--client-certificate", clientCert, "--client-key", clientKey).Output()
	if err != nil {
		return 0, fmt.Errorf("audit webhook-config: %v", err)
	}
	for name, text := range map[string][]byte{"policy.yaml": []byte(policy), "webhook.yaml": webhook} {
		if err := os.WriteFile(filepath.Join(dir, name), text, 0o600); err != nil {
			return 0, err
		}
	}
	c, err := testcluster.StartWith(envtest.WebhookInstallOptions{}, map[string]string{
		"audit-policy-file":            filepath.Join(dir, "policy.yaml"),
		"audit-webhook-config-file":    filepath.Join(dir, "webhook.yaml"),
		"audit-webhook-batch-max-wait": "1s",
	})
	if err != nil {
		return 0, err
	}
	cluster = c
	defer func() { _ = c.Stop() }()
	return m.Run(), nil
}

// serving makes the receiver's certificate for 127.0.0.1 and the API
// server's client certificate, with one CA (the file the receiver's
// --client-ca-file and the webhook configuration's CA both read).
func serving(dir string) (caFile, certFile, keyFile, clientCert, clientKey string, err error) {
	ca, err := testcert.NewCA()
	if err != nil {
		return
	}
	srv, err := ca.Serving("127.0.0.1")
	if err != nil {
		return
	}
	cl, err := ca.Client()
	if err != nil {
		return
	}
	caFile = filepath.Join(dir, "ca.crt")
	if err = os.WriteFile(caFile, ca.CertPEM, 0o600); err != nil {
		return
	}
	if certFile, keyFile, err = srv.Write(dir, "tls"); err != nil {
		return
	}
	clientCert, clientKey, err = cl.Write(dir, "client")
	return
}

// TestAlertsFromTheAPIServer: a privileged pod and a binding to
// cluster-admin made through the real API server come back from its audit
// webhook as the rules' alerts, with the request's user and object.
func TestAlertsFromTheAPIServer(t *testing.T) {
	cs, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	yes := true
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "root-shell", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example.com/tools:1.0",
			SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "mallory-admin"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "mallory"}}}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Create Privileged Pod": "root-shell", "Attach to cluster-admin Role": "mallory-admin"}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := map[string]string{}
		data, _ := os.ReadFile(alerts)
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var a struct {
				Rule      string `json:"rule"`
				User      string `json:"user"`
				ObjectRef struct {
					Name string `json:"name"`
				} `json:"objectRef"`
			}
			if json.Unmarshal([]byte(line), &a) == nil && a.User != "" {
				got[a.Rule] = a.ObjectRef.Name
			}
		}
		missing := false
		for rule, name := range want {
			if got[rule] != name {
				missing = true
			}
		}
		if !missing {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("alerts %v, want %v; receiver said:\n%s", got, want, stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestOnlyTheAPIServerPosts: a client without the API server's certificate
// cannot post events.
func TestOnlyTheAPIServerPosts(t *testing.T) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Post("https://"+receiver+"/audit", "application/json", strings.NewReader(`{"kind":"EventList","items":[]}`))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a client with no certificate was answered %s", resp.Status)
	}
}
