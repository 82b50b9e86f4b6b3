package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
	"strings"
)

// pssProcMount is the Pod Security Standards "/proc Mount Type" control (baseline).
//
// Restricted fields:
//
//	spec.containers[*].securityContext.procMount
//	(and the same for initContainers and ephemeralContainers)
//	Allowed: Default, undefined (Unmasked in user-namespaced pods, policy 1.35+)
//
// The verdict is the upstream policy check "procMount".
func pssProcMount() check.Check {
	ctl := pssControl{upstream: "procMount", field: "securityContext.procMount"}
	return check.Check{
		ID:          "pss-proc-mount",
		Title:       "Unmasked /proc mount",
		Severity:    check.High,
		Category:    check.CategoryPSS,
		Description: "An Unmasked /proc exposes kernel interfaces that the default mask hides from containers.",
		Remediation: "Remove securityContext.procMount or set it to Default.",
		References: []check.Ref{
			pssReference("baseline", "/proc Mount Type"),
			nsaPodSecurity,
			mitre("T1611"),
		},
		Scope: podScope,
		Reads: pssReads,
		Run:   ctl.run,
		Fix:   fixProcMount,
	}
}

// fixProcMount sets procMount: Default, which masks the host's /proc paths;
// the restricted control shares it.
func fixProcMount(_ *check.Context, _ *object.Object, f *check.Finding) []check.Fix {
	if !strings.HasSuffix(f.Field, ".procMount") {
		return nil
	}
	return breaking("Set procMount: Default", set(f.Field, "Default"))
}
