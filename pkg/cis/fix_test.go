package cis_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/cis"
	"github.com/rampart-k8s/rampart/pkg/cis/cistest"
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
