// Package cistest writes node trees for the CIS tests: a kubeadm-like
// control-plane node whose files pass every automated control, made from
// flags a test chooses (the e2e test uses the flags its real API server
// runs with), and the mutations that break one control each.
package cistest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Node is a node tree to write: each component's flags, the kubelet's
// configuration, and owners by node path (uid:gid), applied with chown when
// running as root and through Owners otherwise.
type Node struct {
	APIServer, ControllerManager, Scheduler, Etcd, Proxy []string
	KubeletConfig                                        map[string]string
	KubeletUnitArgs                                      string
	Modes                                                map[string]os.FileMode
	OwnersByPath                                         map[string][2]uint32
}

// Secure is a node that passes every automated control of cis-1.12.
func Secure() *Node {
	return &Node{
		APIServer: []string{
			"kube-apiserver", "--advertise-address=10.0.0.10", "--allow-privileged=true",
			"--anonymous-auth=false",
			"--authorization-mode=Node,RBAC", "--client-ca-file=/etc/kubernetes/pki/ca.crt",
			"--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages,DenyServiceExternalIPs",
			"--admission-control-config-file=/etc/kubernetes/admission.yaml",
			"--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt", "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
			"--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key", "--etcd-servers=https://127.0.0.1:2379",
			"--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
			"--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
			"--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt",
			"--profiling=false", "--audit-log-path=/var/log/kubernetes/audit/audit.log", "--audit-log-maxage=30",
			"--audit-log-maxbackup=10", "--audit-log-maxsize=100", "--audit-policy-file=/etc/kubernetes/audit-policy.yaml",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=/etc/kubernetes/pki/sa.pub", "--service-account-signing-key-file=/etc/kubernetes/pki/sa.key",
			"--service-account-extend-token-expiration=false",
			"--encryption-provider-config=/etc/kubernetes/enc/encryption.yaml",
			"--tls-cert-file=/etc/kubernetes/pki/apiserver.crt", "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
			"--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
			"--request-timeout=60s",
		},
		ControllerManager: []string{
			"kube-controller-manager", "--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf",
			"--bind-address=127.0.0.1", "--kubeconfig=/etc/kubernetes/controller-manager.conf", "--profiling=false",
			"--root-ca-file=/etc/kubernetes/pki/ca.crt", "--service-account-private-key-file=/etc/kubernetes/pki/sa.key",
			"--use-service-account-credentials=true", "--terminated-pod-gc-threshold=10",
			"--feature-gates=RotateKubeletServerCertificate=true",
		},
		Scheduler: []string{
			"kube-scheduler", "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf", "--bind-address=127.0.0.1",
			"--kubeconfig=/etc/kubernetes/scheduler.conf", "--profiling=false",
		},
		Etcd: []string{
			"etcd", "--advertise-client-urls=https://10.0.0.10:2379", "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
			"--client-cert-auth=true", "--data-dir=/var/lib/etcd", "--key-file=/etc/kubernetes/pki/etcd/server.key",
			"--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt", "--peer-client-cert-auth=true",
			"--peer-key-file=/etc/kubernetes/pki/etcd/peer.key", "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
		},
		Proxy: []string{"kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"},
		KubeletConfig: map[string]string{
			"authentication":     "\n  anonymous:\n    enabled: false\n  webhook:\n    enabled: true\n  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt",
			"authorization":      "\n  mode: Webhook",
			"readOnlyPort":       "0",
			"rotateCertificates": "true", "eventRecordQPS": "5", "podPidsLimit": "4096", "seccompDefault": "true",
			"streamingConnectionIdleTimeout": "5m0s", "makeIPTablesUtilChains": "true",
			"tlsCertFile": "/var/lib/kubelet/pki/kubelet.crt", "tlsPrivateKeyFile": "/var/lib/kubelet/pki/kubelet.key",
			"tlsCipherSuites": "[TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]",
			"featureGates":    "\n  RotateKubeletServerCertificate: true",
			"staticPodPath":   "/etc/kubernetes/manifests",
		},
		Modes:        map[string]os.FileMode{},
		OwnersByPath: map[string][2]uint32{},
	}
}

// EtcdUID is the etcd user's id in the tree's /etc/passwd.
const EtcdUID = 1001

func staticPod(name string, argv []string, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: kube-system\n  labels:\n    component: %s\n    tier: control-plane\nspec:\n  hostNetwork: true\n  containers:\n  - name: %s\n    image: registry.k8s.io/%s:v1.37.2\n    command:\n", name, name, name, name)
	for _, a := range argv {
		fmt.Fprintf(&b, "    - %s\n", quote(a))
	}
	b.WriteString(extra)
	return b.String()
}

func quote(s string) string {
	if strings.ContainsAny(s, ":#{}[],&*!|>'\"%@`") || s == "true" || s == "false" {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// Write writes the tree under dir and returns the owner overlay to give
// cis.NodeOptions.Owner when the test cannot chown.
func (n *Node) Write(t testing.TB, dir string) func(string) (uint32, uint32, bool) {
	t.Helper()
	files := map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\netcd:x:1001:1001:etcd:/var/lib/etcd:/usr/sbin/nologin\n",
		"/etc/group":  "root:x:0:\netcd:x:1001:\n",
		"/etc/kubernetes/manifests/kube-apiserver.yaml":          staticPod("kube-apiserver", n.APIServer, ""),
		"/etc/kubernetes/manifests/kube-controller-manager.yaml": staticPod("kube-controller-manager", n.ControllerManager, ""),
		"/etc/kubernetes/manifests/kube-scheduler.yaml":          staticPod("kube-scheduler", n.Scheduler, ""),
		"/etc/kubernetes/manifests/etcd.yaml":                    staticPod("etcd", n.Etcd, ""),
		"/etc/kubernetes/manifests/kube-proxy.yaml":              staticPod("kube-proxy", n.Proxy, ""),
		"/var/lib/kube-proxy/config.conf":                        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmetricsBindAddress: 127.0.0.1:10249\n",
		"/etc/kubernetes/enc/encryption.yaml":                    "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: key1\n        secret: c2VjcmV0IGlzIHNlY3VyZSwgb3IgaXMgaXQ/Cg==\n  - identity: {}\n",
		"/etc/kubernetes/admin.conf":                             "apiVersion: v1\nkind: Config\n",
		"/etc/kubernetes/super-admin.conf":                       "apiVersion: v1\nkind: Config\n",
		"/etc/kubernetes/scheduler.conf":                         "apiVersion: v1\nkind: Config\n",
		"/etc/kubernetes/controller-manager.conf":                "apiVersion: v1\nkind: Config\n",
		"/etc/kubernetes/kubelet.conf":                           "apiVersion: v1\nkind: Config\n",
		"/etc/kubernetes/pki/ca.crt":                             "cert\n",
		"/etc/kubernetes/pki/ca.key":                             "key\n",
		"/etc/kubernetes/pki/apiserver.crt":                      "cert\n",
		"/etc/kubernetes/pki/apiserver.key":                      "key\n",
		"/etc/kubernetes/pki/etcd/ca.crt":                        "cert\n",
		"/etc/kubernetes/pki/etcd/ca.key":                        "key\n",
		"/etc/cni/net.d/10-bridge.conflist":                      "{}\n",
		"/usr/lib/systemd/system/kubelet.service":                "[Unit]\nDescription=kubelet: The Kubernetes Node Agent\n\n[Service]\nExecStart=/usr/bin/kubelet\nRestart=always\n",
		"/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": "[Service]\n" +
			"Environment=\"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf\"\n" +
			"Environment=\"KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml\"\n" +
			"EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n" +
			"EnvironmentFile=-/etc/default/kubelet\n" +
			"ExecStart=\n" +
			"ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS\n",
		"/var/lib/kubelet/kubeadm-flags.env": "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///run/containerd/containerd.sock --pod-infra-container-image=registry.k8s.io/pause:3.10\"\n",
		"/etc/default/kubelet":               "KUBELET_EXTRA_ARGS=" + n.KubeletUnitArgs + "\n",
	}
	var cfg strings.Builder
	cfg.WriteString("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n")
	keys := make([]string, 0, len(n.KubeletConfig))
	for k := range n.KubeletConfig {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := n.KubeletConfig[k]
		if strings.HasPrefix(v, "\n") {
			fmt.Fprintf(&cfg, "%s:%s\n", k, v)
		} else {
			fmt.Fprintf(&cfg, "%s: %s\n", k, v)
		}
	}
	files["/var/lib/kubelet/config.yaml"] = cfg.String()
	for p, text := range files {
		real := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o600)
		if strings.HasSuffix(p, ".crt") || p == "/etc/passwd" || p == "/etc/group" || p == "/etc/default/kubelet" || p == "/var/lib/kubelet/kubeadm-flags.env" {
			mode = 0o644
		}
		if m, ok := n.Modes[p]; ok {
			mode = m
		}
		if err := os.WriteFile(real, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(real, mode); err != nil {
			t.Fatal(err)
		}
	}
	etcdDir := filepath.Join(dir, "var/lib/etcd")
	if err := os.MkdirAll(filepath.Join(etcdDir, "member"), 0o700); err != nil {
		t.Fatal(err)
	}
	mode := os.FileMode(0o700)
	if m, ok := n.Modes["/var/lib/etcd"]; ok {
		mode = m
	}
	if err := os.Chmod(etcdDir, mode); err != nil {
		t.Fatal(err)
	}
	owners := map[string][2]uint32{"/var/lib/etcd": {EtcdUID, EtcdUID}}
	for p, o := range n.OwnersByPath {
		owners[p] = o
	}
	root := os.Geteuid() == 0
	_ = filepath.Walk(dir, func(real string, _ os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, real)
		p := "/" + filepath.ToSlash(rel)
		o, ok := owners[p]
		if !ok {
			o = [2]uint32{0, 0}
		}
		if root {
			if err := os.Lchown(real, int(o[0]), int(o[1])); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	if root {
		return nil
	}
	return func(p string) (uint32, uint32, bool) {
		if o, ok := owners[p]; ok {
			return o[0], o[1], true
		}
		return 0, 0, true
	}
}
