package cis_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/cis"
	"github.com/rampart-k8s/rampart/pkg/cis/cistest"
)

// cis112IDs are the control IDs of CIS 1.12 as the specification lists
// them (131): the catalog must have each, and node mode a result for each.
var cis112IDs = strings.Fields(`
1.1.1 1.1.2 1.1.3 1.1.4 1.1.5 1.1.6 1.1.7 1.1.8 1.1.9 1.1.10 1.1.11 1.1.12 1.1.13 1.1.14 1.1.15 1.1.16 1.1.17 1.1.18 1.1.19 1.1.20 1.1.21
1.2.1 1.2.2 1.2.3 1.2.4 1.2.5 1.2.6 1.2.7 1.2.8 1.2.9 1.2.10 1.2.11 1.2.12 1.2.13 1.2.14 1.2.15 1.2.16 1.2.17 1.2.18 1.2.19 1.2.20
1.2.21 1.2.22 1.2.23 1.2.24 1.2.25 1.2.26 1.2.27 1.2.28 1.2.29 1.2.30
1.3.1 1.3.2 1.3.3 1.3.4 1.3.5 1.3.6 1.3.7 1.4.1 1.4.2
2.1 2.2 2.3 2.4 2.5 2.6 2.7
3.1.1 3.1.2 3.1.3 3.2.1 3.2.2
4.1.1 4.1.2 4.1.3 4.1.4 4.1.5 4.1.6 4.1.7 4.1.8 4.1.9 4.1.10
4.2.1 4.2.2 4.2.3 4.2.4 4.2.5 4.2.6 4.2.7 4.2.8 4.2.9 4.2.10 4.2.11 4.2.12 4.2.13 4.2.14 4.3.1
5.1.1 5.1.2 5.1.3 5.1.4 5.1.5 5.1.6 5.1.7 5.1.8 5.1.9 5.1.10 5.1.11 5.1.12 5.1.13
5.2.1 5.2.2 5.2.3 5.2.4 5.2.5 5.2.6 5.2.7 5.2.8 5.2.9 5.2.10 5.2.11 5.2.12
5.3.1 5.3.2 5.4.1 5.4.2 5.5.1 5.6.1 5.6.2 5.6.3 5.6.4`)

func load(t *testing.T) *cis.Benchmark {
	t.Helper()
	b, err := cis.Load("cis-1.12")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func evalTree(t *testing.T, b *cis.Benchmark, n *cistest.Node) map[string]cis.Result {
	t.Helper()
	dir := t.TempDir()
	owner := n.Write(t, dir)
	node := cis.ReadNode(b, cis.NodeOptions{Root: dir, NodeName: "cp-1", Owner: owner})
	for _, e := range node.Errors {
		t.Errorf("read error: %v", e)
	}
	out := map[string]cis.Result{}
	for _, r := range append(b.EvaluateNode(node), b.EvaluatePolicies(nil)...) {
		out[r.ID] = r
	}
	return out
}

func TestEveryControlHasAResult(t *testing.T) {
	b := load(t)
	var ids []string
	for _, c := range b.Controls {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, cis112IDs) {
		t.Fatalf("catalog controls differ from CIS 1.12:\n got %v\nwant %v", ids, cis112IDs)
	}
	got := evalTree(t, b, cistest.Secure())
	for _, id := range cis112IDs {
		if _, ok := got[id]; !ok {
			t.Errorf("control %s has no result in node mode", id)
		}
	}
	if len(got) != len(cis112IDs) {
		t.Errorf("%d results, want %d", len(got), len(cis112IDs))
	}
}

func TestSecureNodePassesEveryAutomatedControl(t *testing.T) {
	b := load(t)
	got := evalTree(t, b, cistest.Secure())
	for _, c := range b.Controls {
		r := got[c.ID]
		switch {
		case strings.HasPrefix(c.ID, "5."):
			if len(c.Policy) > 0 && r.Status != cis.NotEvaluated {
				t.Errorf("%s: %s without manifests, want not-evaluated", c.ID, r.Status)
			}
		case c.Automated && r.Status != cis.Pass:
			t.Errorf("%s: %s (%s) %+v", c.ID, r.Status, r.Reason, r.Evidence)
		case !c.Automated && c.Manual == "" && r.Status != cis.Pass && !(c.File != nil && c.File.Optional && r.Status == cis.NotApplicable):
			t.Errorf("manual control with a test %s: %s (%s) %+v", c.ID, r.Status, r.Reason, r.Evidence)
		}
	}
}

// replace changes the flag of argv that starts with prefix (or removes it
// when to is "").
func replace(argv []string, prefix, to string) []string {
	var out []string
	found := false
	for _, a := range argv {
		if strings.HasPrefix(a, prefix) {
			found = true
			if to != "" {
				out = append(out, to)
			}
			continue
		}
		out = append(out, a)
	}
	if !found && to != "" {
		out = append(out, to)
	}
	return out
}

func TestOneMutationFailsOneControl(t *testing.T) {
	type mut func(n *cistest.Node)
	api := func(prefix, to string) mut {
		return func(n *cistest.Node) { n.APIServer = replace(n.APIServer, prefix, to) }
	}
	kcm := func(prefix, to string) mut {
		return func(n *cistest.Node) { n.ControllerManager = replace(n.ControllerManager, prefix, to) }
	}
	sched := func(prefix, to string) mut {
		return func(n *cistest.Node) { n.Scheduler = replace(n.Scheduler, prefix, to) }
	}
	etcd := func(prefix, to string) mut {
		return func(n *cistest.Node) { n.Etcd = replace(n.Etcd, prefix, to) }
	}
	mode := func(p string, m os.FileMode) mut { return func(n *cistest.Node) { n.Modes[p] = m } }
	owner := func(p string, uid uint32) mut {
		return func(n *cistest.Node) { n.OwnersByPath[p] = [2]uint32{uid, uid} }
	}
	kubelet := func(key, value string) mut {
		return func(n *cistest.Node) {
			if value == "" {
				delete(n.KubeletConfig, key)
			} else {
				n.KubeletConfig[key] = value
			}
		}
	}
	proxy := func(to string) mut { return func(n *cistest.Node) { n.Proxy = append(n.Proxy, to) } }
	cases := map[string]mut{
		"1.1.1":  mode("/etc/kubernetes/manifests/kube-apiserver.yaml", 0o644),
		"1.1.2":  owner("/etc/kubernetes/manifests/kube-apiserver.yaml", 1000),
		"1.1.3":  mode("/etc/kubernetes/manifests/kube-controller-manager.yaml", 0o640),
		"1.1.4":  owner("/etc/kubernetes/manifests/kube-controller-manager.yaml", 1000),
		"1.1.5":  mode("/etc/kubernetes/manifests/kube-scheduler.yaml", 0o604),
		"1.1.6":  owner("/etc/kubernetes/manifests/kube-scheduler.yaml", EtcdUIDForTest),
		"1.1.7":  mode("/etc/kubernetes/manifests/etcd.yaml", 0o700),
		"1.1.8":  owner("/etc/kubernetes/manifests/etcd.yaml", 1000),
		"1.1.11": mode("/var/lib/etcd", 0o750),
		"1.1.12": owner("/var/lib/etcd", 0),
		"1.1.13": mode("/etc/kubernetes/super-admin.conf", 0o640),
		"1.1.14": owner("/etc/kubernetes/admin.conf", 1000),
		"1.1.15": mode("/etc/kubernetes/scheduler.conf", 0o644),
		"1.1.16": owner("/etc/kubernetes/scheduler.conf", 1000),
		"1.1.17": mode("/etc/kubernetes/controller-manager.conf", 0o666),
		"1.1.18": owner("/etc/kubernetes/controller-manager.conf", 1000),
		"1.1.19": owner("/etc/kubernetes/pki/etcd/ca.crt", 1000),
		"1.2.2":  api("--token-auth-file", "--token-auth-file=/etc/kubernetes/tokens.csv"),
		"1.2.4":  api("--kubelet-client-key", ""),
		"1.2.5":  api("--kubelet-certificate-authority", ""),
		"1.2.6":  api("--authorization-mode", "--authorization-mode=Node,RBAC,AlwaysAllow"),
		"1.2.7":  api("--authorization-mode", "--authorization-mode=RBAC"),
		"1.2.8":  api("--authorization-mode", "--authorization-mode=Node"),
		"1.2.10": api("--enable-admission-plugins", "--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages,DenyServiceExternalIPs,AlwaysAdmit"),
		"1.2.12": api("--disable-admission-plugins", "--disable-admission-plugins=ServiceAccount"),
		"1.2.13": api("--disable-admission-plugins", "--disable-admission-plugins=DefaultStorageClass,NamespaceLifecycle"),
		"1.2.14": api("--enable-admission-plugins", "--enable-admission-plugins=EventRateLimit,AlwaysPullImages,DenyServiceExternalIPs"),
		"1.2.15": api("--profiling", ""),
		"1.2.16": api("--audit-log-path", ""),
		"1.2.17": api("--audit-log-maxage", "--audit-log-maxage=7"),
		"1.2.18": api("--audit-log-maxbackup", "--audit-log-maxbackup=abc"),
		"1.2.19": api("--audit-log-maxsize", "--audit-log-maxsize=99"),
		"1.2.21": api("--service-account-lookup", "--service-account-lookup=false"),
		"1.2.22": api("--service-account-key-file", ""),
		"1.2.23": api("--etcd-certfile", ""),
		"1.2.24": api("--tls-private-key-file", ""),
		"1.2.25": api("--client-ca-file", ""),
		"1.2.26": api("--etcd-cafile", ""),
		"1.2.30": api("--service-account-extend-token-expiration", "--service-account-extend-token-expiration=true"),
		"1.3.2":  kcm("--profiling", "--profiling"),
		"1.3.3":  kcm("--use-service-account-credentials", ""),
		"1.3.4":  kcm("--service-account-private-key-file", ""),
		"1.3.5":  kcm("--root-ca-file", ""),
		"1.3.6":  kcm("--feature-gates", "--feature-gates=RotateKubeletServerCertificate=false"),
		"1.3.7":  kcm("--bind-address", "--bind-address=0.0.0.0"),
		"1.4.1":  sched("--profiling", "--profiling=true"),
		"1.4.2":  sched("--bind-address", "--bind-address=0.0.0.0"),
		"2.1":    etcd("--key-file", ""),
		"2.2":    etcd("--client-cert-auth", ""),
		"2.3":    etcd("--auto-tls", "--auto-tls=true"),
		"2.4":    etcd("--peer-cert-file", ""),
		"2.5":    etcd("--peer-client-cert-auth", "--peer-client-cert-auth=false"),
		"2.6":    etcd("--peer-auto-tls", "--peer-auto-tls"),
		"4.1.1":  mode("/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", 0o644),
		"4.1.2":  owner("/usr/lib/systemd/system/kubelet.service", 1000),
		"4.1.5":  mode("/etc/kubernetes/kubelet.conf", 0o644),
		"4.1.6":  owner("/etc/kubernetes/kubelet.conf", 1000),
		"4.1.9":  mode("/var/lib/kubelet/config.yaml", 0o644),
		"4.1.10": owner("/var/lib/kubelet/config.yaml", 1000),
		"4.2.1":  kubelet("authentication", "\n  anonymous:\n    enabled: true\n  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt"),
		"4.2.2":  kubelet("authorization", "\n  mode: AlwaysAllow"),
		"4.2.3":  kubelet("authentication", "\n  anonymous:\n    enabled: false"),
		"4.2.6":  kubelet("makeIPTablesUtilChains", "false"),
		"4.2.10": kubelet("rotateCertificates", "false"),
		"4.3.1":  proxy("--metrics-bind-address=0.0.0.0:10249"),
	}
	b := load(t)
	for _, c := range b.Controls {
		if c.Automated && cases[c.ID] == nil {
			t.Errorf("automated control %s has no mutation", c.ID)
		}
	}
	for id, m := range cases {
		t.Run(id, func(t *testing.T) {
			n := cistest.Secure()
			m(n)
			got := evalTree(t, b, n)
			var failed []string
			for _, c := range b.Controls {
				if c.Automated && got[c.ID].Status != cis.Pass {
					failed = append(failed, c.ID+"="+string(got[c.ID].Status))
				}
			}
			if len(failed) != 1 || !strings.HasPrefix(failed[0], id+"=fail") {
				t.Fatalf("automated controls not passing: %v, want only %s failing; evidence %+v", failed, id, got[id].Evidence)
			}
			if len(got[id].Findings) == 0 {
				t.Errorf("%s failed without a finding", id)
			}
		})
	}
}

// edit replaces text in a file of the tree.
func edit(t *testing.T, dir, p, from, to string) {
	t.Helper()
	real := filepath.Join(dir, p)
	data, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), from) {
		t.Fatalf("%s has no %q", p, from)
	}
	if err := os.WriteFile(real, []byte(strings.Replace(string(data), from, to, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// EtcdUIDForTest owns a file with a user that is not root.
const EtcdUIDForTest = cistest.EtcdUID

// TestNodeLayouts holds node mode to what real nodes look like: systemd's
// unit folders and drop-ins, kubelet configuration drop-ins, components that
// run elsewhere, broken files, symlinks.
func TestNodeLayouts(t *testing.T) {
	b := load(t)
	write := func(dir, p, text string) {
		real := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(real, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	move := func(dir, from, to string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, to)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		change func(dir string)
		want   map[string]cis.Status
		// found: control → text the evidence must show
		found map[string]string
	}{
		{"drop-in in /etc, unit in /lib", func(dir string) {
			move(dir, "usr/lib/systemd/system/kubelet.service", "lib/systemd/system/kubelet.service")
			move(dir, "usr/lib/systemd/system/kubelet.service.d", "etc/systemd/system/kubelet.service.d")
		}, map[string]cis.Status{"4.2.1": cis.Pass, "4.2.2": cis.Pass, "4.1.1": cis.Pass}, nil},
		{"an override drop-in in /etc wins", func(dir string) {
			write(dir, "etc/systemd/system/kubelet.service.d/20-override.conf", "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml --read-only-port=10255\n")
		}, map[string]cis.Status{"4.2.4": cis.Warn}, map[string]string{"4.2.4": "10255"}},
		{"the /etc unit hides the /usr/lib one", func(dir string) {
			write(dir, "etc/systemd/system/kubelet.service", "[Service]\nExecStart=/usr/bin/kubelet --read-only-port=10255\n")
			if err := os.RemoveAll(filepath.Join(dir, "usr/lib/systemd/system/kubelet.service.d")); err != nil {
				t.Fatal(err)
			}
		}, map[string]cis.Status{"4.2.4": cis.Warn}, nil},
		{"usrmerge reads each file once", func(dir string) {
			if err := os.Symlink("usr/lib", filepath.Join(dir, "lib")); err != nil {
				t.Fatal(err)
			}
		}, map[string]cis.Status{"4.1.1": cis.Pass}, nil},
		{"flags from an environment file point at it", func(dir string) {
			write(dir, "var/lib/kubelet/kubeadm-flags.env", "# written by kubeadm\nKUBELET_KUBEADM_ARGS=\"--read-only-port=10255\"\n")
		}, map[string]cis.Status{"4.2.4": cis.Warn}, map[string]string{"4.2.4": "kubeadm-flags.env:2"}},
		{"a broken manifest keeps the node a control plane", func(dir string) {
			write(dir, "etc/kubernetes/manifests/kube-apiserver.yaml", "spec: [unclosed\n")
		}, map[string]cis.Status{"1.1.1": cis.Pass, "1.2.15": cis.NotEvaluated, "1.3.2": cis.Pass}, nil},
		{"external etcd", func(dir string) {
			if err := os.Remove(filepath.Join(dir, "etc/kubernetes/manifests/etcd.yaml")); err != nil {
				t.Fatal(err)
			}
		}, map[string]cis.Status{"1.1.7": cis.NotApplicable, "1.1.11": cis.NotApplicable, "1.1.12": cis.NotApplicable, "2.1": cis.NotApplicable, "1.2.15": cis.Pass}, nil},
		{"kubelet configuration missing", func(dir string) {
			if err := os.Remove(filepath.Join(dir, "var/lib/kubelet/config.yaml")); err != nil {
				t.Fatal(err)
			}
		}, map[string]cis.Status{"4.2.1": cis.NotEvaluated, "4.2.2": cis.NotEvaluated, "4.1.9": cis.NotApplicable}, nil},
		{"kubelet configuration drop-ins", func(dir string) {
			write(dir, "etc/default/kubelet", "KUBELET_EXTRA_ARGS=--config-dir=/etc/kubernetes/kubelet.conf.d\n")
			write(dir, "etc/kubernetes/kubelet.conf.d/50-a.conf", "authentication:\n  anonymous:\n    enabled: true\n")
			write(dir, "etc/kubernetes/kubelet.conf.d/90-b.conf", "rotateCertificates: false\n")
		}, map[string]cis.Status{"4.2.1": cis.Fail, "4.2.10": cis.Fail, "4.2.2": cis.Pass}, map[string]string{"4.2.1": "50-a.conf:3", "4.2.10": "90-b.conf:1"}},
		{"seccompDefault false is a warning", func(dir string) {
			write(dir, "etc/default/kubelet", "KUBELET_EXTRA_ARGS=--seccomp-default=false\n")
		}, map[string]cis.Status{"4.2.14": cis.Warn}, nil},
		{"a boolean's stray value is named", func(dir string) {
			write(dir, "etc/default/kubelet", "KUBELET_EXTRA_ARGS=\"--anonymous-auth false\"\n")
		}, map[string]cis.Status{"4.2.1": cis.Fail}, map[string]string{"4.2.1": "a boolean flag takes --anonymous-auth=false"}},
		{"structured authorization configuration", func(dir string) {
			edit(t, dir, "etc/kubernetes/manifests/kube-apiserver.yaml", "--authorization-mode=Node,RBAC", "--authorization-config=/etc/kubernetes/authz.yaml")
			write(dir, "etc/kubernetes/authz.yaml", "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers:\n- type: Node\n  name: node\n- type: RBAC\n  name: rbac\n")
		}, map[string]cis.Status{"1.2.6": cis.Pass, "1.2.7": cis.Pass, "1.2.8": cis.Pass}, map[string]string{"1.2.7": "Node,RBAC"}},
		{"structured authorization without Node", func(dir string) {
			edit(t, dir, "etc/kubernetes/manifests/kube-apiserver.yaml", "--authorization-mode=Node,RBAC", "--authorization-config=/etc/kubernetes/authz.yaml")
			write(dir, "etc/kubernetes/authz.yaml", "authorizers:\n- type: RBAC\n  name: rbac\n")
		}, map[string]cis.Status{"1.2.6": cis.Pass, "1.2.7": cis.Fail, "1.2.8": cis.Pass}, nil},
		{"an unreadable file is not missing", func(dir string) {
			p := filepath.Join(dir, "var/lib/kubelet/config.yaml")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("config.yaml", p); err != nil { // a loop
				t.Fatal(err)
			}
		}, map[string]cis.Status{"4.1.9": cis.NotEvaluated, "4.1.10": cis.NotEvaluated, "4.2.1": cis.NotEvaluated}, nil},
		{"symlinks stay under the root", func(dir string) {
			if err := os.Remove(filepath.Join(dir, "etc/kubernetes/admin.conf")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/etc/kubernetes/super-admin.conf", filepath.Join(dir, "etc/kubernetes/admin.conf")); err != nil {
				t.Fatal(err)
			}
			write(dir, "etc/kubernetes/scheduler.conf", "x")
			if err := os.Chmod(filepath.Join(dir, "etc/kubernetes/super-admin.conf"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, map[string]cis.Status{"1.1.13": cis.Fail}, map[string]string{"1.1.13": "644"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			owner := cistest.Secure().Write(t, dir)
			tt.change(dir)
			node := cis.ReadNode(b, cis.NodeOptions{Root: dir, NodeName: "cp-1", Owner: owner})
			got := map[string]cis.Result{}
			for _, r := range b.EvaluateNode(node) {
				got[r.ID] = r
			}
			for id, want := range tt.want {
				if got[id].Status != want {
					t.Errorf("%s: %s (%s), want %s; evidence %+v", id, got[id].Status, got[id].Reason, want, got[id].Evidence)
				}
			}
			for id, text := range tt.found {
				var all []string
				for _, ev := range got[id].Evidence {
					all = append(all, ev.Found, ev.Source)
					if ev.Location != nil {
						all = append(all, ev.Location.String())
					}
				}
				if !strings.Contains(strings.Join(all, " "), text) {
					t.Errorf("%s: evidence %v does not show %q", id, all, text)
				}
			}
		})
	}
}

// BenchmarkNode is node mode's whole work on a control-plane node: read
// the files, evaluate sections 1 to 4.
func BenchmarkNode(b *testing.B) {
	bench, err := cis.Load("")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	owner := cistest.Secure().Write(b, dir)
	b.ReportAllocs()
	for b.Loop() {
		n := cis.ReadNode(bench, cis.NodeOptions{Root: dir, NodeName: "cp-1", Owner: owner})
		if len(bench.EvaluateNode(n)) != 97 {
			b.Fatal("results")
		}
	}
}
