package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// capNetAdmin reports containers that add NET_ADMIN.
func capNetAdmin() check.Check {
	return capabilityCheck("cap-net-admin", "NET_ADMIN", check.High,
		"NET_ADMIN capability added",
		"NET_ADMIN lets a container reconfigure interfaces, routes and firewall rules of its network namespace, sniff or redirect traffic, and with host networking, the node's.")
}
