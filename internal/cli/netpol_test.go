package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNetpolCommands(t *testing.T) {
	hardened := filepath.Join("..", "..", "examples", "hardened")
	tests := []struct {
		name string
		args []string
		code int
		want []string // substrings of stdout, or of stderr when code != 0
	}{
		{"allowed with the rule on each side",
			[]string{"netpol", "explain", "shop/frontend", "shop/orders-api", "--port", "8080", hardened}, ExitOK,
			[]string{"ALLOWED", "shop/frontend-from-ingress, spec.egress[0]", "shop/orders-api-from-frontend, spec.ingress[0]"}},
		{"denied names the isolating policies",
			[]string{"netpol", "explain", "shop/orders-api", "shop/frontend", "--port", "8080/tcp", hardened}, ExitOK,
			[]string{"DENIED", "isolated by", "shop/default-deny"}},
		{"another port of an allowed pair",
			[]string{"netpol", "explain", "shop/Deployment/frontend", "shop/orders-api", "--port", "9090", hardened}, ExitOK,
			[]string{"DENIED"}},
		{"unknown workload",
			[]string{"netpol", "explain", "shop/nope", "shop/frontend", hardened}, ExitError,
			[]string{`no workload "shop/nope"`}},
		{"bad port",
			[]string{"netpol", "explain", "shop/frontend", "shop/orders-api", "--port", "80/ICMP", hardened}, ExitError,
			[]string{"not TCP, UDP or SCTP"}},
		{"matrix as CSV, one row per pair of workloads",
			[]string{"netpol", "matrix", "-o", "csv", hardened}, ExitOK,
			[]string{"source,destination,ports\n", "shop/Deployment/frontend,shop/Deployment/orders-api,TCP 8080\n"}},
		{"matrix as DOT",
			[]string{"netpol", "matrix", "-o", "dot", hardened}, ExitOK,
			[]string{"digraph netpol {", `[label="TCP 8080"]`}},
		{"unknown format",
			[]string{"netpol", "explain", "-o", "csv", "shop/frontend", "shop/orders-api", hardened}, ExitError,
			[]string{"text or json"}},
		{"matrix lists classes and allowed ports",
			[]string{"netpol", "matrix", hardened}, ExitOK,
			[]string{"5 workloads in 5 classes", "shop/Deployment/frontend", "-> class", "TCP 8080", "external 10.96.0.1/32", "-> class 7: TCP 443"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rampart(t, "", tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d: %s%s", r.code, tt.code, r.stdout, r.stderr)
			}
			out := r.stdout
			if tt.code != ExitOK {
				out = r.stderr
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	r := rampart(t, "", "netpol", "matrix", "-o", "json", hardened)
	var m struct {
		Classes []struct{ Workloads []string }
		Allowed []struct{ From, To int }
	}
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || len(m.Classes) != 8 || len(m.Allowed) == 0 {
		t.Errorf("json: %v %s", err, r.stdout)
	}
}

// TestNetpolDiff: opening port 9090 from frontend to orders-api in a copy
// of the hardened example is one added connection; reversed, one removed.
func TestNetpolDiff(t *testing.T) {
	hardened := filepath.Join("..", "..", "examples", "hardened")
	dir := t.TempDir()
	changed := filepath.Join(dir, "new")
	copyTree(t, hardened, changed)
	p := filepath.Join(changed, "network-policies.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	opened := strings.ReplaceAll(string(data), "- {port: 8080, protocol: TCP}", "- {port: 8080, protocol: TCP}\n        - {port: 9090, protocol: TCP}")
	if err := os.WriteFile(p, []byte(opened), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		old, new string
		flags    []string
		code     int
		want     string
	}{
		{"added", hardened, changed, []string{"--exit-code"}, ExitFindings, "+ shop/Deployment/frontend -> shop/Deployment/orders-api: TCP 9090\n"},
		{"removed", changed, hardened, nil, ExitOK, "- shop/Deployment/frontend -> shop/Deployment/orders-api: TCP 9090\n"},
		{"unchanged", hardened, hardened, []string{"--exit-code"}, ExitOK, "no connection added or removed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rampart(t, "", append([]string{"netpol", "diff", tt.old, tt.new}, tt.flags...)...)
			if r.code != tt.code || r.stdout != tt.want {
				t.Errorf("exit %d, want %d; output %q, want %q (%s)", r.code, tt.code, r.stdout, tt.want, r.stderr)
			}
		})
	}
}
