package audit

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
)

// Intel is threat intelligence: addresses and networks known to be
// hostile (a feed's export, one per line, # comments), matched by the
// rules' intel_ip function.
type Intel struct {
	addrs    map[netip.Addr]bool
	prefixes []netip.Prefix
}

var intel atomic.Pointer[Intel]

// SetIntel makes in the set intel_ip matches (nil: none); rules compiled
// before see it too.
func SetIntel(in *Intel) { intel.Store(in) }

// ReadIntel reads lists of addresses and CIDRs. A line that is neither is
// an error naming its file and line.
func ReadIntel(files ...string) (*Intel, error) {
	in := &Intel{addrs: map[netip.Addr]bool{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			if line == "" {
				continue
			}
			if strings.Contains(line, "/") {
				p, err := netip.ParsePrefix(line)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %q is not an address or a CIDR", f, n, line)
				}
				in.prefixes = append(in.prefixes, p.Masked())
				continue
			}
			a, err := netip.ParseAddr(line)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %q is not an address or a CIDR", f, n, line)
			}
			in.addrs[a.Unmap()] = true
		}
	}
	return in, nil
}

func (in *Intel) has(s string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if in.addrs[a] {
		return true
	}
	for _, p := range in.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func intelIP(s string) bool {
	in := intel.Load()
	return in != nil && in.has(s)
}
