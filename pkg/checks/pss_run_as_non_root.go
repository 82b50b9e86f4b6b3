package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// pssRunAsNonRoot is the Pod Security Standards "Running as Non-root" control (restricted).
//
// Restricted fields:
//
//	spec.securityContext.runAsNonRoot
//	spec.containers[*].securityContext.runAsNonRoot
//	Required: true at pod level or on every container (user-namespaced pods excepted, 1.35+)
//
// The verdict is the upstream policy check "runAsNonRoot".
func pssRunAsNonRoot() check.Check {
	ctl := pssControl{upstream: "runAsNonRoot", field: "securityContext.runAsNonRoot"}
	return check.Check{
		ID:          "pss-run-as-non-root",
		Title:       "Containers may run as root",
		Severity:    check.Medium,
		Category:    check.CategoryPSS,
		Description: "Without runAsNonRoot the kubelet starts the container as whatever user the image names, root by default.",
		Remediation: "Set spec.securityContext.runAsNonRoot to true and run the image as a non-zero UID.",
		References: []check.Ref{
			pssReference("restricted", "Running as Non-root"),
			check.Ref{Source: "cis", ID: "5.2.7", Title: "CIS Kubernetes Benchmark 5.2.7"},
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixRunAsNonRoot,
	}
}

// fixRunAsNonRoot sets runAsNonRoot: true on the pod, with a non-root UID
// when nothing sets one (the image's user is unknown); where the pod already
// says so, on the container that overrides it.
func fixRunAsNonRoot(_ *check.Context, o *object.Object, f *check.Finding) []check.Fix {
	spec := o.Pod.SpecPath
	message := "Set runAsNonRoot: true"
	pod := edits(setIfMissing(spec+".securityContext.runAsNonRoot", "true"))
	if !setsRunAsUser(o.Pod.Spec) {
		pod = append(pod, setIfMissing(spec+".securityContext.runAsUser", "10001"))
		message = "Set runAsNonRoot: true and runAsUser: 10001 (the image's user is unknown; check it runs as 10001)"
	}
	fixes := one(check.Fix{Message: message, Edits: pod})
	if container := containerPath(f.Field); container != "" {
		fixes = append(fixes, check.Fix{Message: "Set runAsNonRoot: true on the container", Edits: edits(set(container+".securityContext.runAsNonRoot", "true"))})
	}
	return fixes
}
