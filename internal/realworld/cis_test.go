package realworld

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/cis"
)

// nodeSources are public modules whose zips hold what a kubeadm node is
// made of: kind's node image files (the kubelet's unit, kubeadm's and
// kind's drop-ins, /etc/default/kubelet) and Kubernetes' own defaulted
// KubeletConfiguration.
var (
	kindModule = Module{Path: "sigs.k8s.io/kind", Version: "v0.33.0"}
	k8sModule  = Module{Path: "k8s.io/kubernetes", Version: "v1.37.2"}
)

// TestCISOnKindNode runs node mode on a worker tree made of those public
// files: the kubelet's command line comes from kind's unit and drop-ins as
// systemd would build it, its configuration from the file --config names,
// and the answers are those the files give.
func TestCISOnKindNode(t *testing.T) {
	kind, err := Fetch(kindModule)
	if err != nil {
		t.Fatal(err)
	}
	k8s, err := Fetch(k8sModule)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	files := map[string]string{
		"/etc/systemd/system/kubelet.service":                   filepath.Join(kind, "images/base/files/etc/systemd/system/kubelet.service"),
		"/etc/systemd/system/kubelet.service.d/10-kubeadm.conf": filepath.Join(kind, "images/base/files/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"),
		"/etc/systemd/system/kubelet.service.d/11-kind.conf":    filepath.Join(kind, "images/base/files/etc/systemd/system/kubelet.service.d/11-kind.conf"),
		"/etc/default/kubelet":                                  filepath.Join(kind, "images/base/files/etc/default/kubelet"),
		"/var/lib/kubelet/config.yaml":                          filepath.Join(k8s, "pkg/kubelet/apis/config/scheme/testdata/KubeletConfiguration/after/v1beta1.yaml"),
		"/etc/kubernetes/kubelet.conf":                          "",
		"/var/lib/kubelet/kubeadm-flags.env":                    "",
	}
	for p, src := range files {
		data := []byte("apiVersion: v1\nkind: Config\n")
		if strings.HasSuffix(p, ".env") {
			// As kubeadm writes it (its contents are kubeadm's facts).
			data = []byte(`KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock --node-ip=172.18.0.3 --pod-infra-container-image=registry.k8s.io/pause:3.10"` + "\n")
		} else if src != "" {
			if data, err = os.ReadFile(src); err != nil {
				t.Fatal(err)
			}
		}
		real := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(real, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stdout, stderr, code := run(t, "cis", "--root", root, "--node-name", "kind-worker", "-o", "json", "--fail-on", "none")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var rep struct {
		Results []cis.Result `json:"results"`
		Errors  []string     `json:"errors"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		t.Errorf("errors reading public files: %v", rep.Errors)
	}
	got := map[string]cis.Result{}
	for _, r := range rep.Results {
		got[r.ID] = r
	}
	want := map[string]cis.Status{
		"1.1.1": cis.NotApplicable, // a worker
		"4.1.1": cis.Pass, "4.1.5": cis.Pass, "4.1.9": cis.Pass,
		"4.2.1": cis.Pass, "4.2.2": cis.Pass, "4.2.3": cis.Fail, "4.2.4": cis.Pass, "4.2.6": cis.Pass, "4.2.10": cis.Pass,
		"4.2.13": cis.Warn, "4.2.14": cis.Warn,
	}
	for id, w := range want {
		if got[id].Status != w {
			t.Errorf("%s: %s (%s), want %s; evidence %+v", id, got[id].Status, got[id].Reason, w, got[id].Evidence)
		}
	}
	// The unit and both drop-ins are the kubelet's service files; the
	// configuration is the one 10-kubeadm.conf's --config names.
	var units []string
	for _, ev := range got["4.1.1"].Evidence {
		units = append(units, ev.Source)
	}
	if strings.Join(units, " ") != "/etc/systemd/system/kubelet.service /etc/systemd/system/kubelet.service.d/10-kubeadm.conf /etc/systemd/system/kubelet.service.d/11-kind.conf" {
		t.Errorf("service files %v", units)
	}
	if ev := got["4.2.1"].Evidence; len(ev) != 1 || ev[0].Source != "/var/lib/kubelet/config.yaml" || ev[0].Location == nil || ev[0].Location.Line == 0 {
		t.Errorf("4.2.1 evidence %+v, want the configuration file's line", ev)
	}
}
