package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// capNetRaw reports containers that add NET_RAW.
func capNetRaw() check.Check {
	return capabilityCheck("cap-net-raw", "NET_RAW", check.Medium,
		"NET_RAW capability added",
		"NET_RAW allows raw and packet sockets: ARP and DNS spoofing against neighbouring pods and crafted packets that exploit kernel network bugs.")
}
