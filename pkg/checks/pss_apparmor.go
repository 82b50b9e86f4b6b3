package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// pssAppArmor is the Pod Security Standards "AppArmor" control (baseline).
//
// Restricted fields:
//
//	spec.securityContext.appArmorProfile.type
//	spec.containers[*].securityContext.appArmorProfile.type
//	metadata.annotations["container.apparmor.security.beta.kubernetes.io/*"]
//	Allowed: RuntimeDefault, Localhost, undefined
//
// The verdict is the upstream policy check "appArmorProfile".
func pssAppArmor() check.Check {
	ctl := pssControl{upstream: "appArmorProfile", field: "securityContext.appArmorProfile.type"}
	return check.Check{
		ID:          "pss-apparmor",
		Title:       "AppArmor profile disabled or unknown",
		Severity:    check.Medium,
		Category:    check.CategoryPSS,
		Description: "Setting the AppArmor profile to Unconfined removes the mandatory-access-control layer the runtime applies by default.",
		Remediation: "Remove the AppArmor override, or set appArmorProfile.type to RuntimeDefault or Localhost.",
		References: []check.Ref{
			pssReference("baseline", "AppArmor"),
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
	}
}
