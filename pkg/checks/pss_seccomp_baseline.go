package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
	"strings"
)

// pssSeccompBaseline is the Pod Security Standards "Seccomp" control (baseline).
//
// Restricted fields:
//
//	spec.securityContext.seccompProfile.type
//	spec.containers[*].securityContext.seccompProfile.type
//	Allowed: RuntimeDefault, Localhost, undefined
//
// The verdict is the upstream policy check "seccompProfile_baseline".
func pssSeccompBaseline() check.Check {
	ctl := pssControl{upstream: "seccompProfile_baseline", field: "securityContext.seccompProfile.type"}
	return check.Check{
		ID:          "pss-seccomp-baseline",
		Title:       "Seccomp explicitly unconfined",
		Severity:    check.High,
		Category:    check.CategoryPSS,
		Description: "A seccomp profile of Unconfined gives the container every system call, including the ones kernel exploits use.",
		Remediation: "Remove the Unconfined seccomp profile or set seccompProfile.type to RuntimeDefault.",
		References: []check.Ref{
			pssReference("baseline", "Seccomp"),
			check.Ref{Source: "cis", ID: "5.6.2", Title: "CIS Kubernetes Benchmark 5.6.2"},
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixSeccompBaseline,
	}
}

// fixSeccompBaseline replaces an Unconfined profile with RuntimeDefault: a
// program that makes a system call the default profile blocks stops
// working, so the fix is breaking.
func fixSeccompBaseline(_ *check.Context, _ *object.Object, f *check.Finding) []check.Fix {
	return breaking("Replace the Unconfined seccomp profile with RuntimeDefault", set(strings.TrimSuffix(f.Field, ".type")+".type", "RuntimeDefault"))
}
