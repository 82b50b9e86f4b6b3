package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// pssSeccompRestricted is the Pod Security Standards "Seccomp (restricted)" control (restricted).
//
// Restricted fields:
//
//	spec.securityContext.seccompProfile.type
//	spec.containers[*].securityContext.seccompProfile.type
//	Required: RuntimeDefault or Localhost, at pod level or on every container
//
// The verdict is the upstream policy check "seccompProfile_restricted".
func pssSeccompRestricted() check.Check {
	ctl := pssControl{upstream: "seccompProfile_restricted", field: "securityContext.seccompProfile.type"}
	return check.Check{
		ID:          "pss-seccomp-restricted",
		Title:       "Seccomp profile not set",
		Severity:    check.Medium,
		Category:    check.CategoryPSS,
		Description: "Without a seccomp profile most runtimes run containers unconfined; the restricted profile requires RuntimeDefault or Localhost on every container.",
		Remediation: "Set spec.securityContext.seccompProfile.type to RuntimeDefault (or Localhost with a profile).",
		References: []check.Ref{
			pssReference("restricted", "Seccomp (restricted)"),
			check.Ref{Source: "cis", ID: "5.6.2", Title: "CIS Kubernetes Benchmark 5.6.2"},
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixSeccompRestricted,
	}
}

// fixSeccompRestricted sets the RuntimeDefault seccomp profile on the pod,
// or on the container when the pod already sets one.
func fixSeccompRestricted(_ *check.Context, o *object.Object, f *check.Finding) []check.Fix {
	const message = "Set seccompProfile.type: RuntimeDefault"
	fixes := one(check.Fix{Message: message, Edits: edits(setIfMissing(o.Pod.SpecPath+".securityContext.seccompProfile.type", "RuntimeDefault"))})
	if container := containerPath(f.Field); container != "" {
		fixes = append(fixes, check.Fix{Message: message, Edits: edits(setIfMissing(container+".securityContext.seccompProfile.type", "RuntimeDefault"))})
	}
	return fixes
}
