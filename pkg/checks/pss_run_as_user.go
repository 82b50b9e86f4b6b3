package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// pssRunAsUser is the Pod Security Standards "Running as Non-root user" control (restricted).
//
// Restricted fields:
//
//	spec.securityContext.runAsUser
//	spec.containers[*].securityContext.runAsUser
//	Allowed: any non-zero value, undefined
//
// The verdict is the upstream policy check "runAsUser".
func pssRunAsUser() check.Check {
	ctl := pssControl{upstream: "runAsUser", field: "securityContext.runAsUser"}
	return check.Check{
		ID:          "pss-run-as-user",
		Title:       "Container runs as UID 0",
		Severity:    check.High,
		Category:    check.CategoryPSS,
		Description: "runAsUser: 0 runs the container as root whatever the image says.",
		Remediation: "Set runAsUser to a non-zero UID, such as 10001, or remove it and set runAsNonRoot.",
		References: []check.Ref{
			pssReference("restricted", "Running as Non-root user"),
			check.Ref{Source: "cis", ID: "5.2.7", Title: "CIS Kubernetes Benchmark 5.2.7"},
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixRunAsUser,
	}
}

// fixRunAsUser runs as UID 10001 instead of root (breaking: files the image
// owns as root may not be readable).
func fixRunAsUser(_ *check.Context, _ *object.Object, f *check.Finding) []check.Fix {
	return breaking("Run as UID 10001 instead of root", set(f.Field, "10001"))
}
