package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// pssPrivileged is the Pod Security Standards "Privileged Containers" control (baseline).
//
// Restricted fields:
//
//	spec.containers[*].securityContext.privileged
//	spec.initContainers[*].securityContext.privileged
//	spec.ephemeralContainers[*].securityContext.privileged
//	Allowed: false, undefined
//
// The verdict is the upstream policy check "privileged".
func pssPrivileged() check.Check {
	ctl := pssControl{upstream: "privileged", field: "securityContext.privileged"}
	return check.Check{
		ID:          "pss-privileged",
		Title:       "Privileged container",
		Severity:    check.Critical,
		Category:    check.CategoryPSS,
		Description: "A privileged container runs with every capability and sees the host's devices; a process that escapes it owns the node.",
		Remediation: "Remove securityContext.privileged or set it to false; grant the single capability the workload needs instead.",
		References: []check.Ref{
			pssReference("privileged-containers", "Privileged Containers"),
			check.Ref{Source: "cis", ID: "5.2.2", Title: "CIS Kubernetes Benchmark 5.2.2"},
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixPrivileged,
	}
}

// fixPrivileged sets privileged: false (breaking: a program that needs the
// host's devices stops working).
func fixPrivileged(_ *check.Context, _ *object.Object, f *check.Finding) []check.Fix {
	return breaking("Set privileged: false", set(f.Field, "false"))
}
