package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// pssRestrictedVolumes is the Pod Security Standards "Volume Types" control (restricted).
//
// Restricted fields:
//
//	spec.volumes[*]
//	Allowed: configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret, image
//
// The verdict is the upstream policy check "restrictedVolumes".
func pssRestrictedVolumes() check.Check {
	ctl := pssControl{upstream: "restrictedVolumes", field: ""}
	return check.Check{
		ID:          "pss-restricted-volumes",
		Title:       "Volume type not allowed by restricted",
		Severity:    check.Medium,
		Category:    check.CategoryPSS,
		Description: "The restricted profile allows only volume types that cannot reach node storage or credentials directly.",
		Remediation: "Use configMap, secret, emptyDir, projected, downwardAPI, csi, ephemeral or persistentVolumeClaim volumes.",
		References: []check.Ref{
			pssReference("restricted", "Volume Types"),
			check.Ref{Source: "cis", ID: "5.2.11", Title: "CIS Kubernetes Benchmark 5.2.11"},
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   removeVolume,
	}
}
