package netpol

import (
	"net/netip"
	"sort"
	"strings"
)

// External is a region of addresses outside the cluster that the policies
// treat alike: inside the same ipBlock CIDRs and outside the same excepts.
type External struct {
	Name string     `json:"name"` // e.g. "10.0.0.0/8 except 10.96.0.0/12"
	IP   netip.Addr `json:"ip"`   // one address of the region
}

// Externals lists the regions the ipBlock peers of the policies cut the
// address space into, for IPv4 and IPv6 (the whole space counts as a CIDR,
// so "anywhere else" is a region too).
//
// CIDRs are nested or disjoint, so the smallest address of a non-empty
// region is the first address of a CIDR or the address right after one:
// those candidates, grouped by the CIDRs containing them, are the regions.
func (e *Engine) Externals() []External {
	prefixes := map[netip.Prefix]bool{
		netip.MustParsePrefix("0.0.0.0/0"): true,
		netip.MustParsePrefix("::/0"):      true,
	}
	for _, p := range e.policies {
		for _, rs := range [][]rule{p.in, p.out} {
			for _, r := range rs {
				for _, c := range r.peers {
					if c.block != nil {
						prefixes[c.block.cidr.Masked()] = true
						for _, ex := range c.block.except {
							prefixes[ex.Masked()] = true
						}
					}
				}
			}
		}
	}
	var list []netip.Prefix
	for p := range prefixes {
		list = append(list, p)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].String() < list[j].String() })
	var candidates []netip.Addr
	for _, p := range list {
		candidates = append(candidates, p.Addr())
		if next := lastOf(p).Next(); next.IsValid() && next.Is4() == p.Addr().Is4() {
			candidates = append(candidates, next)
		}
	}
	seen := map[string]bool{}
	var out []External
	for _, a := range candidates {
		var in []netip.Prefix
		for _, p := range list {
			if p.Contains(a) {
				in = append(in, p)
			}
		}
		key := fmtPrefixes(in)
		if seen[key] {
			continue
		}
		seen[key] = true
		// Name: the smallest CIDR holding the region, minus the CIDRs
		// directly inside it.
		sort.Slice(in, func(i, j int) bool { return in[i].Bits() > in[j].Bits() })
		home := in[0]
		var holes []string
		for _, p := range list {
			if p != home && p.Bits() > home.Bits() && home.Contains(p.Addr()) && !p.Contains(a) {
				direct := true
				for _, q := range list {
					if q != p && q != home && q.Bits() > home.Bits() && q.Bits() < p.Bits() && q.Contains(p.Addr()) {
						direct = false
						break
					}
				}
				if direct {
					holes = append(holes, p.String())
				}
			}
		}
		name := home.String()
		if len(holes) > 0 {
			name += " except " + strings.Join(holes, ", ")
		}
		out = append(out, External{Name: name, IP: a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// lastOf is the last address of a prefix.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func fmtPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
