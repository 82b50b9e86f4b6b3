package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// pssCapabilitiesBaseline is the Pod Security Standards "Capabilities" control (baseline).
//
// Restricted fields:
//
//	spec.containers[*].securityContext.capabilities.add
//	spec.initContainers[*].securityContext.capabilities.add
//	spec.ephemeralContainers[*].securityContext.capabilities.add
//	Allowed: AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT, undefined
//
// The verdict is the upstream policy check "capabilities_baseline".
func pssCapabilitiesBaseline() check.Check {
	ctl := pssControl{upstream: "capabilities_baseline", field: "securityContext.capabilities.add"}
	return check.Check{
		ID:          "pss-capabilities-baseline",
		Title:       "Capability added beyond the default set",
		Severity:    check.High,
		Category:    check.CategoryPSS,
		Description: "Capabilities outside the container runtime's default set (NET_ADMIN, SYS_ADMIN, SYS_PTRACE, ...) give a container kernel powers that most escapes start from.",
		Remediation: "Remove the capabilities that are not in the default set from securityContext.capabilities.add.",
		References: []check.Ref{
			pssReference("capabilities", "Capabilities"),
			check.Ref{Source: "cis", ID: "5.2.9", Title: "CIS Kubernetes Benchmark 5.2.9"},
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixCapabilities(true),
	}
}
