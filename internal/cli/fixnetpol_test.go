package cli

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFixKeepsNeededConnections: the NetworkPolicies fix generates keep
// every connection the manifests show the app needs (a workload naming a
// Service reaches its pods on the Service's target ports), as netpol diff
// between the original and the fixed manifests computes it; the
// connections they cut are listed and counted as breaking, and without
// --breaking no policy that cuts one is written.
func TestFixKeepsNeededConnections(t *testing.T) {
	src := filepath.Join("testdata", "microservices")
	needed := []struct {
		from, to string
		port     int32
	}{
		{"shop/Deployment/frontend", "shop/Deployment/catalog", 3550},      // env catalog:3550
		{"shop/Deployment/frontend", "shop/Deployment/cart", 7070},         // env URL, FQDN
		{"shop/Deployment/catalog", "shop/StatefulSet/postgres", 5432},     // ConfigMap via envFrom
		{"shop/Deployment/cart", "shop/Deployment/redis-master", 6379},     // args
		{"shop/Deployment/checkout", "shop/Deployment/cart", 7070},         // $(CART_SERVICE_HOST)
		{"shop/Deployment/checkout", "payments/Deployment/payment", 50051}, // mounted ConfigMap, other namespace
		{"shop/Deployment/loadgen", "shop/Deployment/frontend", 8080},      // Service port 80 -> 8080
		{"shop/Deployment/loadgen", "shop/Deployment/checkout", 5050},      // svc.ns
	}

	// Without --breaking: the policies would cut connections, so none is
	// written, and the output says which connections and why.
	dir := copyDir(t, src)
	r := rampart(t, "", "fix", "--write", dir)
	if r.code != ExitOK {
		t.Fatalf("fix: exit %d\n%s", r.code, r.stderr)
	}
	out := r.stdout + r.stderr
	if !strings.Contains(out, "would generate cut") || !strings.Contains(out, "run with --breaking") {
		t.Errorf("fix without --breaking does not list the connections its policies would cut:\n%s", out)
	}
	if diff := netpolDiff(t, src, dir); len(diff) > 0 {
		t.Errorf("fix without --breaking changed connectivity: %+v", diff)
	}

	// With --breaking: written, cuts counted as breaking, needed kept.
	dir = copyDir(t, src)
	r = rampart(t, "", "fix", "--write", "--breaking", dir)
	if r.code != ExitOK {
		t.Fatalf("fix --breaking: exit %d\n%s", r.code, r.stderr)
	}
	out = r.stdout + r.stderr
	if !strings.Contains(out, "The generated NetworkPolicies cut") || strings.Contains(out, "(0 breaking)") {
		t.Errorf("fix --breaking does not count the cut connections as breaking:\n%s", out)
	}
	diff := netpolDiff(t, src, dir)
	if len(diff) == 0 {
		t.Fatal("the generated policies changed nothing: the test would prove nothing")
	}
	for _, n := range needed {
		for _, c := range diff {
			if c.Added || !slices.Contains(c.From, n.from) || !slices.Contains(c.To, n.to) {
				continue
			}
			for _, p := range c.Ports {
				if p.Protocol == "TCP" && p.From <= n.port && n.port <= p.To {
					t.Errorf("%s -> %s on TCP %d is cut, but the manifests show it is needed", n.from, n.to, n.port)
				}
			}
		}
	}
	// And something not needed is cut: the policies do isolate.
	cut := false
	for _, c := range diff {
		if !c.Added && slices.Contains(c.From, "shop/Deployment/frontend") && slices.Contains(c.To, "shop/StatefulSet/postgres") {
			cut = true
		}
	}
	if !cut {
		t.Errorf("frontend still reaches postgres: the generated policies isolate nothing")
	}
}

type netpolChange struct {
	Added bool     `json:"added"`
	From  []string `json:"from"`
	To    []string `json:"to"`
	Ports []struct {
		Protocol string `json:"protocol"`
		From     int32  `json:"from"`
		To       int32  `json:"to"`
	} `json:"ports"`
}

func netpolDiff(t *testing.T, old, new string) []netpolChange {
	t.Helper()
	r := rampart(t, "", "netpol", "diff", "-o", "json", old, new)
	if r.code != ExitOK {
		t.Fatalf("netpol diff: exit %d\n%s", r.code, r.stderr)
	}
	var cs []netpolChange
	if err := json.Unmarshal([]byte(r.stdout), &cs); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	return cs
}
