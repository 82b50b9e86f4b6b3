package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// pssSysctls is the Pod Security Standards "Sysctls" control (baseline).
//
// Restricted fields:
//
//	spec.securityContext.sysctls[*].name
//	Allowed: the namespaced safe set (kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range, net.ipv4.ip_unprivileged_port_start, ... as the policy version lists)
//
// The verdict is the upstream policy check "sysctls".
func pssSysctls() check.Check {
	ctl := pssControl{upstream: "sysctls", field: ""}
	return check.Check{
		ID:          "pss-sysctls",
		Title:       "Unsafe sysctl",
		Severity:    check.High,
		Category:    check.CategoryPSS,
		Description: "Sysctls outside the safe set change kernel settings that other pods on the node share.",
		Remediation: "Remove the unsafe sysctls from spec.securityContext.sysctls.",
		References: []check.Ref{
			pssReference("baseline", "Sysctls"),
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixRemoveField,
	}
}
