package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// pssSELinux is the Pod Security Standards "SELinux" control (baseline).
//
// Restricted fields:
//
//	spec.securityContext.seLinuxOptions.type
//	spec.containers[*].securityContext.seLinuxOptions.type
//	(user and role must be unset)
//	Allowed type: container_t, container_init_t, container_kvm_t, container_engine_t (1.31+), undefined
//
// The verdict is the upstream policy check "seLinuxOptions".
func pssSELinux() check.Check {
	ctl := pssControl{upstream: "seLinuxOptions", field: "securityContext.seLinuxOptions"}
	return check.Check{
		ID:          "pss-selinux",
		Title:       "SELinux options set",
		Severity:    check.Medium,
		Category:    check.CategoryPSS,
		Description: "Custom SELinux users, roles or types can lift the confinement the runtime gives containers.",
		Remediation: "Remove seLinuxOptions.user and seLinuxOptions.role, and use one of the container SELinux types or none.",
		References: []check.Ref{
			pssReference("baseline", "SELinux"),
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
	}
}
