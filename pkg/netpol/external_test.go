package netpol

import (
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestExternals(t *testing.T) {
	tests := []struct {
		name, policies string
		want           []string
	}{
		{"no ipBlock: anywhere", `
metadata: {name: p, namespace: x}
spec: {podSelector: {}}`, []string{"0.0.0.0/0", "::/0"}},
		{"CIDR with except, IPv4 and IPv6", `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.96.0.0/12, 10.100.0.0/16]}}]
  - to: [{ipBlock: {cidr: "2001:db8::/32"}}]`, []string{
			"0.0.0.0/0 except 10.0.0.0/8",
			"10.0.0.0/8 except 10.96.0.0/12",
			"10.96.0.0/12 except 10.100.0.0/16",
			"10.100.0.0/16",
			"2001:db8::/32",
			"::/0 except 2001:db8::/32",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(policies(t, tt.policies))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range e.Externals() {
				got = append(got, x.Name)
				home, _, _ := strings.Cut(x.Name, " ")
				if !netip.MustParsePrefix(home).Contains(x.IP) {
					t.Errorf("%s: address %s outside its region", x.Name, x.IP)
				}
			}
			if strings.Join(sorted(got), "\n") != strings.Join(sorted(tt.want), "\n") {
				t.Errorf("regions\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

// TestExternalRegionsAreEquivalent: random addresses decide like the
// address of the region they fall in.
func TestExternalRegionsAreEquivalent(t *testing.T) {
	e, err := New(policies(t, `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.96.0.0/12]}}]}]
  egress: [{to: [{ipBlock: {cidr: 10.96.0.0/12}}, {ipBlock: {cidr: 192.168.0.0/16}}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	exts := e.Externals()
	regionOf := func(a netip.Addr) External {
		best := External{}
		bits := -1
		for _, x := range exts {
			home, _, _ := strings.Cut(x.Name, " ")
			p := netip.MustParsePrefix(home)
			if p.Contains(a) && p.Bits() > bits {
				best, bits = x, p.Bits()
			}
		}
		return best
	}
	r := rand.New(rand.NewPCG(7, 7))
	pod := pod("x", "a")
	port := Port{Protocol: corev1.ProtocolTCP, Number: 80}
	for range 2000 {
		var b [4]byte
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		if r.IntN(2) == 0 {
			b[0] = 10 // stay near the interesting CIDRs
		}
		a := netip.AddrFrom4(b)
		x := regionOf(a)
		for _, dir := range []bool{true, false} {
			src, dst := pod, Endpoint{IP: a}
			rs, rd := pod, Endpoint{IP: x.IP}
			if dir {
				src, dst, rs, rd = dst, src, rd, rs
			}
			if got, want := e.Decide(src, dst, port).Allowed, e.Decide(rs, rd, port).Allowed; got != want {
				t.Fatalf("%s (region %s, %s): %v, region address says %v", a, x.Name, x.IP, got, want)
			}
		}
	}
}
