package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// pssCapabilitiesRestricted is the Pod Security Standards "Capabilities (restricted)" control (restricted).
//
// Restricted fields:
//
//	spec.containers[*].securityContext.capabilities.drop
//	spec.containers[*].securityContext.capabilities.add
//	(and the same for initContainers and ephemeralContainers)
//	drop must include ALL; add may only hold NET_BIND_SERVICE
//
// The verdict is the upstream policy check "capabilities_restricted".
func pssCapabilitiesRestricted() check.Check {
	ctl := pssControl{upstream: "capabilities_restricted", containerField: restrictedCapabilitiesField}
	return check.Check{
		ID:          "pss-capabilities-restricted",
		Title:       "Capabilities not dropped",
		Severity:    check.Medium,
		Category:    check.CategoryPSS,
		Description: "The restricted profile asks every container to drop all capabilities and add back at most NET_BIND_SERVICE, so a compromised process holds no kernel privilege.",
		Remediation: "Set securityContext.capabilities.drop to [\"ALL\"] and add back only NET_BIND_SERVICE when the container binds a port below 1024.",
		References: []check.Ref{
			pssReference("restricted", "Capabilities (restricted)"),
			check.Ref{Source: "cis", ID: "5.2.9", Title: "CIS Kubernetes Benchmark 5.2.9"},
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
	}
}
