package cli

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/cis/cistest"
)

var updateCIS = flag.Bool("update-cis", false, "rewrite the cis goldens")

type cisJSONOut struct {
	Mode    string `json:"mode"`
	Results []struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Reason   string `json:"reason"`
		Findings []struct {
			CheckID  string `json:"checkID"`
			Message  string `json:"message"`
			Location *struct {
				File string `json:"file"`
				Line int    `json:"line"`
			} `json:"location"`
		} `json:"findings"`
	} `json:"results"`
	Summary struct {
		Pass, Fail, Warn, NotApplicable, NotEvaluated int
		Failed                                        bool
	} `json:"summary"`
	Suppressed []struct {
		Justification string `json:"justification"`
	} `json:"suppressed"`
}

func cisStatus(t *testing.T, out string) (cisJSONOut, map[string]string) {
	t.Helper()
	var r cisJSONOut
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	m := map[string]string{}
	for _, x := range r.Results {
		m[x.ID] = x.Status
	}
	return r, m
}

// cisTree writes a node tree (the secure one, changed by change).
func cisTree(t *testing.T, change func(n *cistest.Node)) string {
	t.Helper()
	n := cistest.Secure()
	if change != nil {
		change(n)
	}
	dir := t.TempDir()
	if n.Write(t, dir) != nil {
		// Not root: the owners stay the test's; owner controls fail.
		t.Log("not root: file owners are the test's own")
	}
	return dir
}

func TestCISNodeModeWithManifests(t *testing.T) {
	root := cisTree(t, func(n *cistest.Node) { n.APIServer = append(n.APIServer, "--profiling=true") })
	r := rampart(t, "", "cis", "--root", root, "--node-name", "cp-1", "-o", "json", "../../examples/insecure")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (failures at high and above)\n%s", r.code, r.stderr)
	}
	out, st := cisStatus(t, r.stdout)
	want := map[string]string{
		"1.2.15": "fail", "1.2.6": "pass", "2.2": "pass", "4.2.1": "pass", "3.1.1": "warn",
		"5.1.1": "fail", "5.1.9": "fail", "5.1.11": "fail", "5.1.7": "warn", "5.2.2": "fail", "5.2.4": "pass", "5.2.11": "fail", "5.4.1": "fail", "5.3.1": "warn",
	}
	for id, w := range want {
		if st[id] != w {
			t.Errorf("%s: %s, want %s", id, st[id], w)
		}
	}
	if len(out.Results) != 131 || out.Mode != "node" {
		t.Errorf("%d results in %s mode", len(out.Results), out.Mode)
	}
	for _, res := range out.Results {
		if res.ID == "1.2.15" {
			if len(res.Findings) != 1 || res.Findings[0].CheckID != "cis-1.2.15" || res.Findings[0].Location == nil ||
				!strings.HasSuffix(res.Findings[0].Location.File, "etc/kubernetes/manifests/kube-apiserver.yaml") || res.Findings[0].Location.Line == 0 {
				t.Errorf("1.2.15 findings %+v, want one at the manifest's line", res.Findings)
			}
		}
	}
	// The hardened example: section 5's checks find nothing.
	r = rampart(t, "", "cis", "--root", root, "-o", "json", "--fail-on", "none", "../../examples/hardened")
	_, st = cisStatus(t, r.stdout)
	for _, id := range []string{"5.1.1", "5.2.2", "5.2.11", "5.4.1"} {
		if st[id] != "pass" {
			t.Errorf("hardened %s: %s", id, st[id])
		}
	}
}

func TestCISTextGolden(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the golden holds root-owned files' results; CI runs as root")
	}
	root := cisTree(t, func(n *cistest.Node) {
		n.APIServer = append(n.APIServer, "--profiling=true")
		n.KubeletConfig["rotateCertificates"] = "false"
	})
	r := rampart(t, "", "cis", "--root", root, "--node-name", "cp-1", "--color", "never", "../../examples/insecure")
	got := strings.ReplaceAll(r.stdout, root, "ROOT")
	golden := filepath.Join("testdata", "cis", "node.txt")
	if *updateCIS {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-cis)", err)
	}
	if got != string(want) {
		t.Errorf("text output differs from %s (run with -update-cis):\n%s", golden, got)
	}
}

func TestCISFormatsAndSuppressions(t *testing.T) {
	root := cisTree(t, func(n *cistest.Node) { n.Scheduler = replace(n.Scheduler, "--profiling", "") })
	// SARIF: one rule per control, the failed one a result at its line.
	r := rampart(t, "", "cis", "--root", root, "-o", "sarif", "--fail-on", "none")
	var sarif struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID string `json:"ruleId"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &sarif); err != nil || len(sarif.Runs) != 1 {
		t.Fatalf("sarif: %v\n%s", err, r.stdout)
	}
	if n := len(sarif.Runs[0].Tool.Driver.Rules); n != 131 {
		t.Errorf("%d SARIF rules, want 131", n)
	}
	found := false
	for _, res := range sarif.Runs[0].Results {
		found = found || res.RuleID == "cis-1.4.1"
	}
	if !found {
		t.Errorf("no SARIF result for cis-1.4.1: %+v", sarif.Runs[0].Results)
	}
	if r := rampart(t, "", "cis", "--root", root, "-o", "junit", "--fail-on", "none"); r.code != 0 || !strings.Contains(r.stdout, "cis-1.4.1") {
		t.Errorf("junit: exit %d\n%s", r.code, r.stdout)
	}
	// An exception with a reason silences the control's finding.
	cfg := filepath.Join(t.TempDir(), ".rampart.yaml")
	if err := os.WriteFile(cfg, []byte("exceptions:\n- check: cis-1.4.1\n  reason: profiling is scraped by the platform team (TICKET-1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = rampart(t, "", "cis", "--root", root, "-o", "json", "--config", cfg)
	out, st := cisStatus(t, r.stdout)
	if st["1.4.1"] != "pass" || len(out.Suppressed) != 1 || !strings.Contains(out.Suppressed[0].Justification, "TICKET-1") {
		t.Errorf("with the exception: 1.4.1 %s, suppressed %+v", st["1.4.1"], out.Suppressed)
	}
	if err := os.WriteFile(cfg, []byte("exceptions:\n- check: cis-9.9.9\n  reason: typo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := rampart(t, "", "cis", "--root", root, "--config", cfg); r.code != 2 || !strings.Contains(r.stderr, "cis-9.9.9") {
		t.Errorf("an exception naming no control: exit %d %s", r.code, r.stderr)
	}
	// A baseline: what is known is not reported again.
	base := filepath.Join(t.TempDir(), "baseline.json")
	if r := rampart(t, "", "cis", "--root", root, "--write-baseline", base, "--fail-on", "none"); r.code != 0 {
		t.Fatalf("write baseline: %d %s", r.code, r.stderr)
	}
	if r := rampart(t, "", "cis", "--root", root, "--baseline", base, "--fail-on", "low"); r.code != 0 {
		t.Errorf("with the baseline: exit %d\n%s", r.code, r.stdout)
	}
	// A managed platform: the provider's controls are not applicable.
	r = rampart(t, "", "cis", "--root", root, "-o", "json", "--profile", "eks", "--fail-on", "none")
	_, st = cisStatus(t, r.stdout)
	if st["1.4.1"] != "not-applicable" || st["2.1"] != "not-applicable" || st["3.2.1"] != "warn" || st["4.2.1"] != "pass" {
		t.Errorf("eks: 1.4.1 %s 2.1 %s 3.2.1 %s 4.2.1 %s", st["1.4.1"], st["2.1"], st["3.2.1"], st["4.2.1"])
	}
	if r := rampart(t, "", "cis", "--profile", "openshift"); r.code != 2 || !strings.Contains(r.stderr, "eks") {
		t.Errorf("unknown profile: exit %d %s", r.code, r.stderr)
	}
}

func TestCISFixCommand(t *testing.T) {
	root := cisTree(t, func(n *cistest.Node) {
		n.APIServer = replace(n.APIServer, "--profiling", "")
		n.KubeletConfig["rotateCertificates"] = "false"
	})
	manifest := filepath.Join(root, "etc/kubernetes/manifests/kube-apiserver.yaml")
	config := filepath.Join(root, "var/lib/kubelet/config.yaml")
	r := rampart(t, "", "fix", "--benchmark", "cis-1.12", manifest, config)
	if r.code != 0 || !strings.Contains(r.stdout, "+    - --profiling=false") || !strings.Contains(r.stdout, "+rotateCertificates: true") {
		t.Fatalf("diff: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := rampart(t, "", "fix", "--benchmark", "cis-1.12", "--write", manifest, config); r.code != 0 {
		t.Fatalf("write: %d %s", r.code, r.stderr)
	}
	for _, f := range []string{manifest, config} {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v after the fix, want 600 (%v)", f, st.Mode().Perm(), err)
		}
	}
	r = rampart(t, "", "cis", "--root", root, "-o", "json", "--fail-on", "none")
	_, st := cisStatus(t, r.stdout)
	if st["1.2.15"] != "pass" || st["4.2.10"] != "pass" {
		t.Errorf("after the fix: 1.2.15 %s, 4.2.10 %s", st["1.2.15"], st["4.2.10"])
	}
}

func TestCISNodeJobAndRBAC(t *testing.T) {
	r := rampart(t, "", "cis", "node-job", "--namespace", "sec", "--image", "example.com/rampart:1")
	if r.code != 0 {
		t.Fatalf("node-job: %d %s", r.code, r.stderr)
	}
	var dss []appsv1.DaemonSet
	for _, doc := range strings.Split(r.stdout, "\n---\n") {
		if strings.Contains(doc, "kind: DaemonSet") {
			var ds appsv1.DaemonSet
			if err := sigsyaml.UnmarshalStrict([]byte(doc), &ds); err != nil {
				t.Fatal(err)
			}
			dss = append(dss, ds)
		}
	}
	if len(dss) != 2 {
		t.Fatalf("%d DaemonSets, want control-plane and worker ones", len(dss))
	}
	etcd := 0
	for _, ds := range dss {
		ct := ds.Spec.Template.Spec.Containers
		if len(ct) != 1 || ct[0].Image != "example.com/rampart:1" || !strings.Contains(strings.Join(ct[0].Args, " "), "--root /host") {
			t.Fatalf("daemonset container %+v", ct)
		}
		for _, m := range ct[0].VolumeMounts {
			if !m.ReadOnly {
				t.Errorf("mount %s is writable", m.MountPath)
			}
			if m.MountPath == "/host/var/lib/kubelet" {
				t.Errorf("/var/lib/kubelet is mounted whole (its pods' Secret volumes)")
			}
			if m.MountPath == "/host/var/lib/etcd" {
				etcd++
			}
		}
		for _, v := range ds.Spec.Template.Spec.Volumes {
			if v.HostPath != nil && (v.HostPath.Type == nil || (*v.HostPath.Type != "Directory" && *v.HostPath.Type != "File")) {
				t.Errorf("host path %s may be created on the host (type %v)", v.HostPath.Path, v.HostPath.Type)
			}
		}
		if sc := ct[0].SecurityContext; sc == nil || sc.Privileged != nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("security context %+v", sc)
		}
	}
	if etcd != 1 {
		t.Errorf("etcd's data folder is mounted by %d DaemonSets, want the control-plane one", etcd)
	}
	r = rampart(t, "", "cis", "rbac", "--service-account", "reader")
	var rules []rbacv1.PolicyRule
	for _, doc := range strings.Split(r.stdout, "\n---\n") {
		if strings.Contains("\n"+doc, "\nkind: ClusterRole\n") {
			var cr rbacv1.ClusterRole
			if err := sigsyaml.UnmarshalStrict([]byte(doc), &cr); err != nil {
				t.Fatal(err)
			}
			rules = cr.Rules
		}
	}
	all := ""
	for _, rule := range rules {
		all += strings.Join(rule.Resources, ",") + ":" + strings.Join(rule.Verbs, ",") + " "
	}
	if !strings.Contains(all, "nodes/configz:get") || strings.Contains(all, "nodes/proxy") || strings.Contains(all, "secrets") || strings.Contains(all, "*") {
		t.Errorf("ClusterRole rules %s", all)
	}
}

// replace swaps the flag starting with prefix (removes it when to is "").
func replace(argv []string, prefix, to string) []string {
	var out []string
	for _, a := range argv {
		if strings.HasPrefix(a, prefix) {
			if to != "" {
				out = append(out, to)
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

func TestCISSectionFiveEdges(t *testing.T) {
	root := cisTree(t, nil)
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// No binding in the input: the RBAC questions are not answered.
	write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: shop\n")
	_, st := cisStatus(t, rampart(t, "", "cis", "--root", root, "-o", "json", "--fail-on", "none", dir).stdout)
	for _, id := range []string{"5.1.7", "5.1.9", "5.1.11"} {
		if st[id] != "not-evaluated" {
			t.Errorf("%s without bindings: %s", id, st[id])
		}
	}
	// Kubernetes' own cluster-admin binding names system:masters: not a
	// finding of 5.1.7; another binding naming it is.
	write("crb.yaml", `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: cluster-admin
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:masters"}
`)
	_, st = cisStatus(t, rampart(t, "", "cis", "--root", root, "-o", "json", "--fail-on", "none", dir).stdout)
	if st["5.1.7"] != "warn" || st["5.1.9"] != "pass" {
		t.Errorf("with the default binding: 5.1.7 %s, 5.1.9 %s", st["5.1.7"], st["5.1.9"])
	}
	write("crb2.yaml", `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ops-masters
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:masters"}
`)
	_, st = cisStatus(t, rampart(t, "", "cis", "--root", root, "-o", "json", "--fail-on", "none", dir).stdout)
	if st["5.1.7"] != "fail" {
		t.Errorf("with another binding of system:masters: 5.1.7 %s", st["5.1.7"])
	}
	// A baseline written with a baseline keeps what the first one held.
	bdir := t.TempDir()
	b1, b2 := filepath.Join(bdir, "b1.json"), filepath.Join(bdir, "b2.json")
	rampart(t, "", "cis", "--root", root, "--write-baseline", b1, "--fail-on", "none", dir)
	rampart(t, "", "cis", "--root", root, "--baseline", b1, "--write-baseline", b2, "--fail-on", "none", dir)
	d1, err1 := os.ReadFile(b1)
	d2, err2 := os.ReadFile(b2)
	if err1 != nil || err2 != nil || len(d1) < 20 || string(d1) != string(d2) {
		t.Errorf("rewritten baseline differs:\n%s\n---\n%s", d1, d2)
	}
}
