package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// pssProcMountRestricted is the Pod Security Standards "/proc Mount Type (restricted)" control (restricted).
//
// Restricted fields:
//
//	spec.containers[*].securityContext.procMount
//	(and the same for initContainers and ephemeralContainers)
//	Allowed: Default, undefined
//
// The verdict is the upstream policy check "procMount_restricted".
func pssProcMountRestricted() check.Check {
	ctl := pssControl{upstream: "procMount_restricted", field: "securityContext.procMount"}
	return check.Check{
		ID:          "pss-proc-mount-restricted",
		Title:       "Unmasked /proc mount (restricted)",
		Severity:    check.Medium,
		Category:    check.CategoryPSS,
		Description: "From policy 1.35 the restricted profile forbids an Unmasked /proc even in user-namespaced pods.",
		Remediation: "Remove securityContext.procMount or set it to Default.",
		References: []check.Ref{
			pssReference("restricted", "/proc Mount Type (restricted)"),
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixProcMount,
	}
}
