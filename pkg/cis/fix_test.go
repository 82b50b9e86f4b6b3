package cis_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/cis"
	"github.com/rampart-k8s/rampart/pkg/cis/cistest"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

// TestFixMakesControlsPass breaks flags and kubelet keys, fixes the files
// with FixText, and judges the node again: the control passes, comments and
// the rest of the file are kept, and a second fix changes nothing.
func TestFixMakesControlsPass(t *testing.T) {
	b := load(t)
	tests := []struct {
		id, file string
		mutate   func(n *cistest.Node)
		breaking bool
	}{
		{"1.2.15", "/etc/kubernetes/manifests/kube-apiserver.yaml", func(n *cistest.Node) { n.APIServer = replace(n.APIServer, "--profiling", "") }, false},
		{"1.2.15", "/etc/kubernetes/manifests/kube-apiserver.yaml", func(n *cistest.Node) { n.APIServer = replace(n.APIServer, "--profiling", "--profiling=true") }, false},
		{"1.2.17", "/etc/kubernetes/manifests/kube-apiserver.yaml", func(n *cistest.Node) {
			n.APIServer = replace(n.APIServer, "--audit-log-maxage", "--audit-log-maxage=7")
		}, false},
		{"1.2.7", "/etc/kubernetes/manifests/kube-apiserver.yaml", func(n *cistest.Node) {
			n.APIServer = replace(n.APIServer, "--authorization-mode", "--authorization-mode=RBAC")
		}, false},
		{"1.2.6", "/etc/kubernetes/manifests/kube-apiserver.yaml", func(n *cistest.Node) {
			n.APIServer = replace(n.APIServer, "--authorization-mode", "--authorization-mode=Node,RBAC,AlwaysAllow")
		}, true},
		{"1.2.10", "/etc/kubernetes/manifests/kube-apiserver.yaml", func(n *cistest.Node) {
			n.APIServer = replace(n.APIServer, "--enable-admission-plugins", "--enable-admission-plugins=NodeRestriction,AlwaysAdmit,EventRateLimit,AlwaysPullImages,DenyServiceExternalIPs")
		}, false},
		{"1.2.14", "/etc/kubernetes/manifests/kube-apiserver.yaml", func(n *cistest.Node) {
			n.APIServer = replace(n.APIServer, "--enable-admission-plugins", "--enable-admission-plugins=EventRateLimit,AlwaysPullImages,DenyServiceExternalIPs")
		}, false},
		{"1.2.2", "/etc/kubernetes/manifests/kube-apiserver.yaml", func(n *cistest.Node) {
			n.APIServer = append(n.APIServer, "--token-auth-file", "/etc/kubernetes/tokens.csv")
		}, true},
		{"1.3.6", "/etc/kubernetes/manifests/kube-controller-manager.yaml", func(n *cistest.Node) {
			n.ControllerManager = replace(n.ControllerManager, "--feature-gates", "--feature-gates=A=true,RotateKubeletServerCertificate=false")
		}, false},
		{"1.3.3", "/etc/kubernetes/manifests/kube-controller-manager.yaml", func(n *cistest.Node) {
			n.ControllerManager = replace(n.ControllerManager, "--use-service-account-credentials", "")
		}, false},
		{"1.4.2", "/etc/kubernetes/manifests/kube-scheduler.yaml", func(n *cistest.Node) { n.Scheduler = replace(n.Scheduler, "--bind-address", "--bind-address=0.0.0.0") }, true},
		{"2.3", "/etc/kubernetes/manifests/etcd.yaml", func(n *cistest.Node) { n.Etcd = append(n.Etcd, "--auto-tls") }, false},
		{"4.2.10", "/var/lib/kubelet/config.yaml", func(n *cistest.Node) { n.KubeletConfig["rotateCertificates"] = "false" }, false},
		{"4.2.2", "/var/lib/kubelet/config.yaml", func(n *cistest.Node) { n.KubeletConfig["authorization"] = "\n  mode: AlwaysAllow" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			n := cistest.Secure()
			tt.mutate(n)
			dir := t.TempDir()
			owner := n.Write(t, dir)
			real := filepath.Join(dir, tt.file)
			orig, err := os.ReadFile(real)
			if err != nil {
				t.Fatal(err)
			}
			text := "# kept: a comment\n" + string(orig)
			if tt.breaking {
				res, err := b.FixText(real, text, false)
				if err != nil || len(res.Applied) != 0 || len(res.Skipped) == 0 {
					t.Fatalf("without --breaking: applied %v skipped %v err %v", res.Applied, res.Skipped, err)
				}
			}
			res, err := b.FixText(real, text, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Applied) == 0 || !strings.HasPrefix(res.Applied[0], tt.id+":") {
				t.Fatalf("applied %v, want a fix of %s (skipped %v)", res.Applied, tt.id, res.Skipped)
			}
			if tt.id == "1.3.6" && !strings.Contains(res.Text, "--feature-gates=A=true,RotateKubeletServerCertificate=true") {
				t.Errorf("the other feature gates were not kept:\n%s", res.Text)
			}
			if !strings.HasSuffix(res.Text, "\n") {
				t.Errorf("the last newline was lost")
			}
			if !strings.HasPrefix(res.Text, "# kept: a comment\n") {
				t.Errorf("comment lost:\n%s", res.Text)
			}
			again, err := b.FixText(real, res.Text, true)
			if err != nil || again.Text != res.Text {
				t.Errorf("second fix changed the text (applied %v): %v", again.Applied, err)
			}
			if err := os.WriteFile(real, []byte(res.Text), 0o600); err != nil {
				t.Fatal(err)
			}
			node := cis.ReadNode(b, cis.NodeOptions{Root: dir, NodeName: "cp-1", Owner: owner})
			for _, r := range b.EvaluateNode(node) {
				if r.ID == tt.id && r.Status != cis.Pass {
					t.Errorf("after the fix %s is %s: %+v\n%s", r.ID, r.Status, r.Evidence, res.Text)
				}
			}
		})
	}
}

// TestFixAddsArgsNotCommand: a static pod without command or args gets its
// flags as args (a command would replace the image's entrypoint).
func TestFixAddsArgsNotCommand(t *testing.T) {
	b := load(t)
	text := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-scheduler\n  namespace: kube-system\nspec:\n  containers:\n  - name: kube-scheduler\n    image: registry.k8s.io/kube-scheduler:v1.37.2\n"
	res, err := b.FixText("kube-scheduler.yaml", text, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Text, "args:") || strings.Contains(res.Text, "command:") || !strings.Contains(res.Text, "--profiling=false") {
		t.Errorf("fixed:\n%s", res.Text)
	}
}

// TestSuppressionKeepsWhatWasNotEvaluated: a control failing on one node
// and not evaluated on another does not pass when the failure is silenced.
func TestSuppressionKeepsWhatWasNotEvaluated(t *testing.T) {
	b := load(t)
	dir := t.TempDir()
	n := cistest.Secure()
	n.Scheduler = replace(n.Scheduler, "--profiling", "--profiling=true")
	n.KubeletConfig["podPidsLimit"] = "-1"
	owner := n.Write(t, dir)
	node := cis.ReadNode(b, cis.NodeOptions{Root: dir, NodeName: "cp-1", Owner: owner})
	failing := b.EvaluateNode(node)
	other := make([]cis.Result, len(failing))
	for i, r := range failing {
		other[i] = cis.Result{ID: r.ID, Title: r.Title, Section: r.Section, Status: cis.NotEvaluated, Reason: "node cp-2 unreadable"}
	}
	for _, tt := range []struct {
		name string
		sets [][]cis.Result
		want cis.Status
	}{
		{"one node", [][]cis.Result{failing}, cis.Pass},
		{"with a node not evaluated", [][]cis.Result{failing, other}, cis.NotEvaluated},
		{"the other order", [][]cis.Result{other, failing}, cis.NotEvaluated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := &cis.Report{Results: cis.Combine(b, tt.sets...)}
			rules := &suppress.Rules{Exceptions: []suppress.Exception{{Check: "cis-1.4.1", Reason: "scraped by the platform team"}}}
			rep.Finish(b, nil, rules, nil)
			for _, r := range rep.Results {
				if r.ID == "1.4.1" && r.Status != tt.want {
					t.Errorf("1.4.1: %s (%s), want %s", r.Status, r.Reason, tt.want)
				}
				if r.ID == "4.2.13" {
					if r.Status != cis.Warn || len(r.Findings) == 0 {
						t.Errorf("4.2.13: %s with %d findings, want a warning", r.Status, len(r.Findings))
					}
					for _, f := range r.Findings {
						if len(f.Fixes) > 0 {
							t.Errorf("a manual control offers a fix: %+v", f.Fixes)
						}
					}
				}
			}
		})
	}
}
