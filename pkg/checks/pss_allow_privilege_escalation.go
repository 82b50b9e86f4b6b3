package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// pssAllowPrivilegeEscalation is the Pod Security Standards "Privilege Escalation" control (restricted).
//
// Restricted fields:
//
//	spec.containers[*].securityContext.allowPrivilegeEscalation
//	(and the same for initContainers and ephemeralContainers)
//	Required: false
//
// The verdict is the upstream policy check "allowPrivilegeEscalation".
func pssAllowPrivilegeEscalation() check.Check {
	ctl := pssControl{upstream: "allowPrivilegeEscalation", field: "securityContext.allowPrivilegeEscalation"}
	return check.Check{
		ID:          "pss-allow-privilege-escalation",
		Title:       "Privilege escalation allowed",
		Severity:    check.High,
		Category:    check.CategoryPSS,
		Description: "Unless allowPrivilegeEscalation is false, a setuid binary or file capability lets a process gain more privileges than its parent (no_new_privs is not set).",
		Remediation: "Set securityContext.allowPrivilegeEscalation to false on every container.",
		References: []check.Ref{
			pssReference("restricted", "Privilege Escalation"),
			check.Ref{Source: "cis", ID: "5.2.6", Title: "CIS Kubernetes Benchmark 5.2.6"},
			nsaPodSecurity,
			mitre("T1068"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixAllowPrivilegeEscalation,
	}
}

// fixAllowPrivilegeEscalation sets allowPrivilegeEscalation: false on the
// container: nothing a program needs at run time depends on gaining
// privileges through setuid binaries.
func fixAllowPrivilegeEscalation(_ *check.Context, _ *object.Object, f *check.Finding) []check.Fix {
	container := containerPath(f.Field)
	if container == "" {
		return nil
	}
	return one(check.Fix{Message: "Set allowPrivilegeEscalation: false", Edits: edits(set(container+".securityContext.allowPrivilegeEscalation", "false"))})
}
