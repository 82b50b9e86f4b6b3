package cis

import (
	"os"
	"strings"
	"testing"
)

func TestParseCommandLine(t *testing.T) {
	apiserver := &Component{Binary: "kube-apiserver", Bools: []string{"--profiling", "--anonymous-auth"},
		Lists: []string{"--enable-admission-plugins"}, Maps: []string{"--feature-gates"}}
	etcd := &Component{Binary: "etcd", Bools: []string{"--client-cert-auth"}}
	tests := []struct {
		name  string
		comp  *Component
		argv  string
		flag  string
		want  string
		isSet bool
	}{
		{"equals", apiserver, "kube-apiserver --audit-log-maxage=30", "--audit-log-maxage", "30", true},
		{"space", apiserver, "kube-apiserver --audit-log-maxage 30", "--audit-log-maxage", "30", true},
		{"space negative number", apiserver, "kubelet --pod-max-pids -1", "--pod-max-pids", "-1", true},
		{"bool alone", apiserver, "kube-apiserver --profiling --audit-log-maxage=1", "--profiling", "true", true},
		{"bool does not take the next item", apiserver, "kube-apiserver --profiling false", "--profiling", "true", true},
		{"bool with equals", apiserver, "kube-apiserver --profiling=false", "--profiling", "false", true},
		{"last wins", apiserver, "kube-apiserver --audit-log-maxage=30 --audit-log-maxage=7", "--audit-log-maxage", "7", true},
		{"lists extend", apiserver, "kube-apiserver --enable-admission-plugins=A,B --enable-admission-plugins=C", "--enable-admission-plugins", "A,B,C", true},
		{"maps merge", apiserver, "kube-apiserver --feature-gates=A=true,B=false --feature-gates=A=false", "--feature-gates", "A=false,B=false", true},
		{"absent", apiserver, "kube-apiserver --x=1", "--audit-log-maxage", "", false},
		{"after --", apiserver, "kube-apiserver -- --audit-log-maxage=30", "--audit-log-maxage", "", false},
		{"no value before a flag", apiserver, "kube-apiserver --token-auth-file --profiling", "--token-auth-file", "", true},
		{"etcd single dash", etcd, "etcd -client-cert-auth -data-dir /var/lib/etcd", "--data-dir", "/var/lib/etcd", true},
		{"etcd single dash bool", etcd, "etcd -client-cert-auth", "--client-cert-auth", "true", true},
		{"single dash is not a flag elsewhere", apiserver, "kube-apiserver -profiling", "--profiling", "", false},
		{"underscores are dashes", apiserver, "kube-apiserver --token_auth_file=/x", "--token-auth-file", "/x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := ParseCommandLine(strings.Fields(tt.argv), tt.comp)
			got, arg := cl.Lookup(tt.flag, tt.comp)
			if (arg != nil) != tt.isSet || got != tt.want {
				t.Errorf("Lookup(%s) = %q, set %v; want %q, set %v (args %+v)", tt.flag, got, arg != nil, tt.want, tt.isSet, cl.Args)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		op, value, found string
		want             bool
	}{
		{"eq", "false", "False", true},
		{"eq", "false", "0", true},
		{"eq", "false", "no", true},
		{"eq", "true", "T", true},
		{"noteq", "false", "0", false},
		{"eq", "true", "yes please", false},
		{"eq", "0", "0s", true},
		{"eq", "127.0.0.1", "127.0.0.1", true},
		{"noteq", "0", "4h0m0s", true},
		{"noteq", "0", "0s", false},
		{"noteq", "false", "true", true},
		{"gte", "30", "30", true},
		{"gte", "30", "29", false},
		{"gte", "30", "thirty", false},
		{"has", "Node", "RBAC,Node", true},
		{"has", "Node", "NodeRestriction", false},
		{"has", "Node", " RBAC , Node ", true},
		{"nothave", "AlwaysAllow", "Node,RBAC", true},
		{"nothave", "AlwaysAllow", "AlwaysAllow", false},
		{"valid_elements", "a,b,c", "a,c", true},
		{"valid_elements", "a,b,c", "a,d", false},
		{"valid_elements", "a,b,c", "", false},
	}
	for _, tt := range tests {
		if got := compare(&Item{Op: tt.op, Value: tt.value}, tt.found); got != tt.want {
			t.Errorf("%s %q on %q = %v, want %v", tt.op, tt.value, tt.found, got, tt.want)
		}
	}
}

func TestKubeletUnit(t *testing.T) {
	u := &unitFile{}
	if err := parseUnit(u, "kubelet.service", "[Unit]\nDescription=x\n[Service]\nExecStart=/usr/bin/kubelet\nRestart=always\n"); err != nil {
		t.Fatal(err)
	}
	dropin := `# a comment
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml" OTHER=1
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS \
# --read-only-port=10255 \
   $KUBELET_KUBEADM_ARGS ${KUBELET_ONE}
`
	if err := parseUnit(u, "10-kubeadm.conf", dropin); err != nil {
		t.Fatal(err)
	}
	parseEnvFile(u.env, u.origin, "kubeadm-flags.env", "KUBELET_KUBEADM_ARGS=\"--node-ip=10.0.0.1 --anonymous-auth=false\"\n# x\nKUBELET_ONE='--read-only-port=0'\n")
	if len(u.envFiles) != 1 || !u.envFiles[0].optional || u.execFile != "10-kubeadm.conf" || u.execLine != 7 {
		t.Fatalf("unit: %+v", u)
	}
	argv, from := expandExec(u.execStart, u.env, u.origin, srcLine{u.execFile, u.execLine})
	if from[4] != (srcLine{"kubeadm-flags.env", 1}) || from[0] != (srcLine{"10-kubeadm.conf", 7}) || from[1] != (srcLine{"10-kubeadm.conf", 3}) {
		t.Errorf("origins %v", from)
	}
	want := "/usr/bin/kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml --node-ip=10.0.0.1 --anonymous-auth=false --read-only-port=0"
	if got := strings.Join(argv, " "); got != want {
		t.Errorf("argv\n got %s\nwant %s", got, want)
	}
	if err := parseUnit(&unitFile{}, "bad.conf", "[Service]\nnot a key\n"); err == nil || !strings.Contains(err.Error(), "bad.conf:2") {
		t.Errorf("a bad line: %v, want its file and line", err)
	}
}

func FuzzParseCommandLine(f *testing.F) {
	f.Add("kube-apiserver --a=b --c d --profiling -- x")
	f.Add("etcd -data-dir /x --=")
	comp := &Component{Binary: "etcd", Bools: []string{"--profiling"}, Lists: []string{"--l"}, Maps: []string{"--m"}}
	f.Fuzz(func(t *testing.T, s string) {
		cl := ParseCommandLine(strings.Fields(s), comp)
		for _, a := range cl.Args {
			if a.Item < 0 || a.Item >= len(cl.Items) {
				t.Fatalf("item %d out of %d", a.Item, len(cl.Items))
			}
			cl.Lookup(a.Name, comp)
		}
		cl.Lookup("--m", comp)
		cl.Lookup("--l", comp)
	})
}

func FuzzParseUnit(f *testing.F) {
	f.Add("[Service]\nEnvironment=\"A=b c\" D=e\nExecStart=/x $A ${D} \\\n more\nEnvironmentFile=-/f\n")
	f.Fuzz(func(t *testing.T, s string) {
		u := &unitFile{}
		_ = parseUnit(u, "f", s)
		parseEnvFile(map[string]string{}, nil, "f", s)
		expandExec(u.execStart, u.env, u.origin, srcLine{"f", 1})
		splitQuoted(s)
	})
}

// FuzzNodeFiles feeds arbitrary text as a static pod manifest, a kubelet
// unit drop-in and a kubelet configuration: node mode never panics, and
// every control still gets a result.
func FuzzNodeFiles(f *testing.F) {
	f.Add("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-apiserver\n    command: [kube-apiserver, --profiling=false]\n", "[Service]\nExecStart=/usr/bin/kubelet --config=/c.yaml\n", "authentication: {anonymous: {enabled: false}}\n")
	f.Add("spec: {containers: [{command: [etcd, -data-dir, /d]}]}", "[Service]\nExecStart=", "tlsCipherSuites: [a, b]\nfeatureGates: {A: true}")
	b, err := Load("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, manifest, unit, config string) {
		dir := t.TempDir()
		write := func(p, s string) {
			real := dir + p
			if err := os.MkdirAll(real[:strings.LastIndexByte(real, '/')], 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(real, []byte(s), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write("/etc/kubernetes/manifests/kube-apiserver.yaml", manifest)
		write("/etc/kubernetes/manifests/etcd.yaml", manifest)
		write("/etc/systemd/system/kubelet.service", unit)
		write("/c.yaml", config)
		write("/var/lib/kubelet/config.yaml", config)
		n := ReadNode(b, NodeOptions{Root: dir, NodeName: "n"})
		rs := b.EvaluateNode(n)
		if len(rs)+len(b.EvaluatePolicies(nil)) != len(b.Controls) {
			t.Fatalf("%d results for %d controls", len(rs), len(b.Controls))
		}
	})
}
